# The oscd package: the npm project built with Nix's npm tooling from package-lock.json alone
# (importNpmLock needs no separate dependency hash).
{ lib, buildNpmPackage, importNpmLock, nodejs_20, makeWrapper, nix, git, openssh, util-linux }:

buildNpmPackage {
  pname = "oscd";
  version = (builtins.fromJSON (builtins.readFile ../package.json)).version;
  src = lib.fileset.toSource {
    root = ./..;
    fileset = lib.fileset.unions [ ../package.json ../package-lock.json ../tsconfig.json ../tsconfig.build.json ../bin ../src ];
  };
  nodejs = nodejs_20;
  npmDeps = importNpmLock { npmRoot = ./..; };
  npmConfigHook = importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  nativeBuildInputs = [ makeWrapper ];
  # oscd drives these programs; the machine's own nix comes first on PATH when there is one.
  postInstall = ''
    wrapProgram $out/bin/oscd --suffix PATH : ${lib.makeBinPath [ nix git openssh util-linux ]}
  '';
  meta = {
    description = "OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine";
    license = lib.licenses.mit;
    mainProgram = "oscd";
    platforms = lib.platforms.linux;
  };
}
