# The oscd package: the npm project built with Nix's npm tooling from package-lock.json alone
# (importNpmLock needs no separate dependency hash).
{ lib, stdenv, buildNpmPackage, importNpmLock, nodejs_20, makeWrapper, installShellFiles, nix, git, openssh, util-linux, coreutils }:

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
  nativeBuildInputs = [ makeWrapper installShellFiles ];
  # oscd drives these programs (coreutils for mkfifo: the switch's hold, src/activate/switch-hold.ts);
  # the machine's own nix comes first on PATH when there is one.
  # Completions come from the built program itself (`oscd completion SHELL`), so they list every
  # command and option of this version.
  postInstall = ''
    wrapProgram $out/bin/oscd --suffix PATH : ${lib.makeBinPath [ nix git openssh util-linux coreutils ]}
  '' + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd oscd \
      --bash <($out/bin/oscd completion bash) \
      --zsh <($out/bin/oscd completion zsh) \
      --fish <($out/bin/oscd completion fish)
  '';
  meta = {
    description = "OS continuous deployment for NixOS fleets: from a git commit to a running, verified system on every machine";
    license = lib.licenses.mit;
    mainProgram = "oscd";
    platforms = lib.platforms.linux;
  };
}
