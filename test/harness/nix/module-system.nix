# A small stand-in for the NixOS module system (nixpkgs is not reachable in tests): enough of
# `lib` (mkOption, mkEnableOption, mkIf, types, filterAttrs) and of option evaluation to
# evaluate nix/module.nix with given settings. Like the real one it refuses a setting for an
# option that does not exist and an enum value outside the enum; it does not check other types.
{ module, settings, hostName ? "web1" }:

let
  types = {
    str = { name = "str"; };
    int = { name = "int"; };
    bool = { name = "bool"; };
    port = { name = "port"; };
    path = { name = "path"; };
    package = { name = "package"; };
    anything = { name = "anything"; };
    enum = values: { name = "enum"; inherit values; };
    listOf = elemType: { name = "listOf"; inherit elemType; };
    attrsOf = elemType: { name = "attrsOf"; inherit elemType; };
    nullOr = elemType: { name = "nullOr"; inherit elemType; };
    submodule = m: { name = "submodule"; options = (if builtins.isFunction m then m { } else m).options; };
  };
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = what: mkOption { type = types.bool; default = false; description = "Whether to enable ${what}."; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  filterAttrs = pred: set: builtins.listToAttrs (builtins.filter (x: pred x.name x.value) (map (name: { inherit name; value = set.${name}; }) (builtins.attrNames set)));
  lib = { inherit types mkOption mkEnableOption mkIf filterAttrs; };

  isOption = x: builtins.isAttrs x && (x._type or null) == "option";

  evalOptions = path: opts: defs:
    let
      unknown = builtins.filter (n: !(opts ? ${n})) (builtins.attrNames defs);
    in
    if unknown != [ ] then throw "The option `${path}.${builtins.head unknown}' does not exist."
    else builtins.mapAttrs
      (name: o:
        if isOption o then
          (if defs ? ${name} then applyType "${path}.${name}" o.type defs.${name}
           else if o ? default then applyType "${path}.${name}" o.type o.default
           else throw "The option `${path}.${name}' is used but not defined.")
        else evalOptions "${path}.${name}" o (defs.${name} or { }))
      opts;

  applyType = path: t: v:
    if v == null then null
    else if t.name == "submodule" then evalOptions path t.options v
    else if t.name == "listOf" then map (applyType path t.elemType) v
    else if t.name == "attrsOf" then builtins.mapAttrs (_: applyType path t.elemType) v
    else if t.name == "nullOr" then applyType path t.elemType v
    else if t.name == "enum" then (if builtins.elem v t.values then v else throw "The option `${path}' has a value outside its enum: ${builtins.toJSON v}.")
    else v;

  resolveIf = x: if builtins.isAttrs x && (x._type or null) == "if" then (if x.condition then resolveIf x.content else { }) else x;

  pkgs = {
    # A store path in name only (evaluation writes nothing), with the text kept for the test.
    writeText = name: text: { outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" text)}-${name}"; inherit text; };
    git = "/nix/store/00000000000000000000000000000000-git";
    openssh = "/nix/store/00000000000000000000000000000000-openssh";
    systemd = "/nix/store/00000000000000000000000000000000-systemd";
    util-linux = "/nix/store/00000000000000000000000000000000-util-linux";
  };
  config = {
    services.oscd.agent = agent;
    networking.hostName = hostName;
    nix.package = "/nix/store/00000000000000000000000000000000-nix";
  };
  m = import module { inherit config lib pkgs; };
  agent = evalOptions "services.oscd.agent" m.options.services.oscd.agent settings;
  out = resolveIf m.config;
in
{
  unit = out.systemd.services.oscd-agent or null;
  systemPackages = out.environment.systemPackages or [ ];
  configFile = if agent.enable then agent.configFile.outPath else null;
  configText = if agent.enable then agent.configFile.text else null;
}
