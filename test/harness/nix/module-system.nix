# A small stand-in for the NixOS module system (nixpkgs is not reachable in tests): enough of
# `lib` and of option evaluation to evaluate nix/module.nix with given settings, as the real one
# does for what the module uses. Like the real one it refuses a setting for an option that does
# not exist and a value that is not of the option's type (strMatching, enums, integer ranges,
# submodules, lists), applies defaults, resolves `mkIf`, and reports failed assertions. The
# module must use nothing of `lib` this file leaves out: the real module system evaluates it too.
#
# `settings` are the user's definitions of `services.oscd` (the machine and `agent`).
{ module, settings, hostName ? "web1", nixEnable ? true, canExecute ? true }:

let
  inherit (builtins) isString isInt isBool isList isAttrs isFunction isPath attrNames filter map length genList elemAt;

  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  removePrefix = prefix: s: if hasPrefix prefix s then builtins.substring (builtins.stringLength prefix) (builtins.stringLength s) s else s;
  filterAttrs = pred: set: builtins.listToAttrs (filter (x: pred x.name x.value) (map (name: { inherit name; value = set.${name}; }) (attrNames set)));
  recursiveUpdate = lhs: rhs:
    lhs // builtins.mapAttrs (n: v: if isAttrs v && isAttrs (lhs.${n} or null) && !(v ? outPath) then recursiveUpdate lhs.${n} v else v) rhs;

  mkType = name: description: check: { inherit name description check; };
  types = {
    str = mkType "str" "string" isString;
    int = mkType "int" "signed integer" isInt;
    bool = mkType "bool" "boolean" isBool;
    port = mkType "port" "16 bit unsigned integer; between 0 and 65535 (both inclusive)" (v: isInt v && v >= 0 && v <= 65535);
    path = mkType "path" "path" (v: isPath v || (isString v && hasPrefix "/" v) || (isAttrs v && v ? outPath));
    package = mkType "package" "package" (v: (isAttrs v && v ? outPath) || (isString v && hasPrefix "/nix/store/" v));
    anything = mkType "anything" "anything" (_: true);
    enum = values: mkType "enum" "one of ${builtins.concatStringsSep ", " (map builtins.toJSON values)}" (v: builtins.elem v values);
    strMatching = pattern: mkType "strMatching" "string matching the pattern ${pattern}" (v: isString v && builtins.match pattern v != null);
    either = a: b: mkType "either" "${a.description} or ${b.description}" (v: a.check v || b.check v) // { inherit a b; };
    listOf = elemType: mkType "listOf" "list of ${elemType.description}" isList // { inherit elemType; };
    nonEmptyListOf = elemType: mkType "listOf" "non-empty list of ${elemType.description}" (v: isList v && v != [ ]) // { inherit elemType; };
    attrsOf = elemType: mkType "attrsOf" "attribute set of ${elemType.description}" isAttrs // { inherit elemType; };
    nullOr = elemType: mkType "nullOr" "null or ${elemType.description}" (v: v == null || elemType.check v) // { inherit elemType; };
    submodule = m: mkType "submodule" "submodule" isAttrs // { options = (if isFunction m then m { } else m).options; };
    ints = {
      unsigned = mkType "int" "unsigned integer, meaning >=0" (v: isInt v && v >= 0);
      positive = mkType "int" "positive integer, meaning >0" (v: isInt v && v > 0);
      between = lo: hi: mkType "int" "integer between ${toString lo} and ${toString hi} (both inclusive)" (v: isInt v && v >= lo && v <= hi);
    };
  };

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = what: mkOption { type = types.bool; default = false; description = "Whether to enable ${what}."; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  literalExpression = text: { _type = "literalExpression"; inherit text; };
  lib = {
    inherit types mkOption mkEnableOption mkIf literalExpression filterAttrs recursiveUpdate hasPrefix removePrefix;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalAttrs = cond: set: if cond then set else { };
    toInt = s: builtins.fromJSON s;
    "foldl'" = builtins.foldl';
  };

  isOption = x: isAttrs x && (x._type or null) == "option";

  evalOptions = path: opts: defs:
    let
      unknown = filter (n: !(opts ? ${n})) (attrNames defs);
    in
    if !(isAttrs defs) then throw "A definition for option `${path}' is not of type `submodule'."
    else if unknown != [ ] then throw "The option `${path}.${builtins.head unknown}' does not exist."
    else builtins.mapAttrs
      (name: o:
        if isOption o then
          (if defs ? ${name} then applyType "${path}.${name}" o.type defs.${name}
           else if o ? default then applyType "${path}.${name}" o.type o.default
           else throw "The option `${path}.${name}' is used but not defined.")
        else evalOptions "${path}.${name}" o (defs.${name} or { }))
      opts;

  applyType = path: t: v:
    if !(t.check v) then throw "A definition for option `${path}' is not of type `${t.description}'. Definition value: ${builtins.toJSON v}"
    else if t.name == "nullOr" then (if v == null then null else applyType path t.elemType v)
    else if t.name == "submodule" then evalOptions path t.options v
    else if t.name == "listOf" then genList (i: applyType "${path}.[entry ${toString (i + 1)}]" t.elemType (elemAt v i)) (length v)
    else if t.name == "attrsOf" then builtins.mapAttrs (n: applyType "${path}.${n}" t.elemType) v
    else if t.name == "either" then (if t.a.check v then applyType path t.a v else applyType path t.b v)
    else v;

  resolveIf = x:
    if isAttrs x && (x._type or null) == "if" then (if x.condition then resolveIf x.content else null)
    else if isAttrs x && !(x ? outPath) then builtins.mapAttrs (_: resolveIf) (filterAttrs (_: v: !(isAttrs v && (v._type or null) == "if" && !v.condition)) x)
    else x;

  fakePath = name: seed: "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" seed)}-${name}";
  pkgs = {
    # Store paths in name only (evaluation writes nothing); what they would hold is kept for the test.
    writeText = name: text: { outPath = fakePath name text; inherit name text; };
    runCommand = name: env: buildCommand: { outPath = fakePath name (builtins.toJSON env + buildCommand); inherit name env buildCommand; };
    formats.toml = _: { generate = name: value: { outPath = fakePath name (builtins.toJSON value); inherit name value; }; };
    callPackage = _: _: throw "the stand-in has no nixpkgs: set services.oscd.package";
    stdenv = { buildPlatform.canExecute = _: canExecute; hostPlatform = { }; };
    git = { outPath = "/nix/store/00000000000000000000000000000000-git"; name = "git"; };
    gnupg = { outPath = "/nix/store/00000000000000000000000000000000-gnupg"; name = "gnupg"; };
    openssh = { outPath = "/nix/store/00000000000000000000000000000000-openssh"; name = "openssh"; };
    systemd = { outPath = "/nix/store/00000000000000000000000000000000-systemd"; name = "systemd"; };
    util-linux = { outPath = "/nix/store/00000000000000000000000000000000-util-linux"; name = "util-linux"; };
  };
  config = {
    services.oscd = oscd;
    networking.hostName = hostName;
    nix.package = { outPath = "/nix/store/00000000000000000000000000000000-nix"; name = "nix"; };
    nix.enable = nixEnable;
  };
  m = import module { inherit config lib pkgs; };
  oscd = evalOptions "services.oscd" m.options.services.oscd settings;
  out = resolveIf m.config;
  agent = oscd.agent;

  # Every declared option (submodules' too), with what the manual would show of it.
  docs = path: opts: builtins.concatLists (map
    (name:
      let o = opts.${name}; p = "${path}.${name}"; in
      if isOption o then
        [{
          path = p;
          description = o.description or null;
          hasDefaultText = o ? defaultText;
          hasExample = o ? example;
          readOnly = o.readOnly or false;
          default = if o ? default then builtins.tryEval (builtins.deepSeq (builtins.toJSON o.default) (builtins.toJSON o.default)) else { success = false; };
        }] ++ subDocs p o.type
      else docs p o)
    (attrNames opts));
  subDocs = p: t:
    if t.name == "submodule" then docs "${p}.<name>" t.options
    else if t ? elemType then subDocs p t.elemType
    else [ ];
in
{
  unit = out.systemd.services.oscd-agent or null;
  systemPackages = out.environment.systemPackages or [ ];
  etc = out.environment.etc or { };
  nixSettings = out.nix.settings or null;
  firewallPorts = out.networking.firewall.allowedTCPPorts or [ ];
  tmpfiles = out.systemd.tmpfiles.rules or [ ];
  failedAssertions = map (a: a.message) (filter (a: !a.assertion) out.assertions);
  warnings = out.warnings;
  configFile = if agent.enable then agent.configFile.outPath else null;
  # The JSON the agent reads (the checked file copies it), and how it is checked when building.
  configText = if agent.enable then (agent.configFile.env.config or agent.configFile).text else null;
  checkCommand = if agent.enable then agent.configFile.buildCommand or null else null;
  machineFile = oscd.machineFile.outPath;
  machineSettings = oscd.machineFile.value;
  options = docs "services.oscd" m.options.services.oscd;
}
