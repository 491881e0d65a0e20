# Where each package of package-lock.json lives in an npm registry, from the lock alone.
#
# npm on the project's machines writes no `resolved` field, only `version` and `integrity`, and
# no registry host may be written into this repository. A registry keeps every published
# tarball at `<registry>/<name>/-/<unscoped name>-<version>.tgz`, so name and version give the
# path; the registry itself is npm's own default, asked from npm at build time (package.nix);
# the integrity pins the bytes. Builtins only, so the tests evaluate it without nixpkgs.
#
# Returns, for each lock entry that needs a download (not the root, not a workspace link, not
# a dependency bundled inside another, not one that already names where it comes from):
#   "node_modules/…" = { name; version; integrity; path = "<name>/-/<file>"; file = "<base>-<version>.tgz"; }
{ lock }:

let
  inherit (builtins) split filter isString elemAt length attrNames listToAttrs;

  # "node_modules/a/node_modules/@s/b" -> "@s/b"; an alias entry carries its real name.
  nameOf = modulePath: module:
    if module ? name then module.name
    else
      let parts = filter isString (split "node_modules/" modulePath);
      in elemAt parts (length parts - 1);

  baseOf = name:
    let parts = filter isString (split "/" name);
    in elemAt parts (length parts - 1);

  needsDownload = modulePath: module:
    modulePath != ""
    && !(module.link or false)
    && !(module.inBundle or false)
    && !(module ? resolved);

  source = modulePath: module:
    let
      name = nameOf modulePath module;
      file = "${baseOf name}-${module.version}.tgz";
    in
    {
      inherit name file;
      inherit (module) version integrity;
      path = "${name}/-/${file}";
    };

  paths = filter (p: needsDownload p lock.packages.${p}) (attrNames lock.packages);
in
listToAttrs (map (p: { name = p; value = source p lock.packages.${p}; }) paths)
