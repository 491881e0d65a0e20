# The oscd package: the npm project built with nixpkgs' npm tooling from package-lock.json alone.
#
# How the dependencies are fetched (docs/install-nixos.md, "How the package is built"): the lock
# carries `version` and `integrity` but no `resolved` URL, and the repository names no registry.
# nixpkgs' `importNpmLock` fetches only entries with `resolved` (and fails on the rest), and
# `fetchNpmDeps` skips them and needs a hash of its own. So each lock entry becomes one
# fixed-output download whose hash is the lock's own `integrity` (npm-lock-sources.nix gives
# its path in a registry from name and version), handed to `importNpmLock` through its
# `packageSourceOverrides`. The registry is npm's default, asked from the npm this nixpkgs ships
# when building (or `npmRegistry` through `.override`). No hash to keep in step with the lock.
{
  lib,
  stdenv,
  stdenvNoCC,
  buildNpmPackage,
  importNpmLock,
  nodejs_24,
  runCommand,
  writeText,
  curl,
  cacert,
  makeWrapper,
  installShellFiles,
  nix,
  git,
  openssh,
  util-linux,
  coreutils,
  # A registry (its base URL, ending in `/`) to fetch from instead of npm's default.
  npmRegistry ? null,
}:

let
  nodejs = nodejs_24;
  package = lib.importJSON ../package.json;
  packageLock = lib.importJSON ../package-lock.json;
  sources = import ./npm-lock-sources.nix { lock = packageLock; };

  registry =
    if npmRegistry != null then
      writeText "npm-registry" npmRegistry
    else
      runCommand "npm-default-registry" { nativeBuildInputs = [ nodejs ]; } ''
        export HOME="$TMPDIR" npm_config_update_notifier=false
        registry="$(npm config get registry)"
        case "$registry" in */) ;; *) registry="$registry/" ;; esac
        printf '%s' "$registry" > "$out"
      '';

  # One tarball; Nix checks it against the lock's integrity, whatever served it.
  fetchFromRegistry =
    source:
    stdenvNoCC.mkDerivation {
      name = source.file;
      outputHash = source.integrity;
      outputHashMode = "flat";
      nativeBuildInputs = [ curl ];
      impureEnvVars = lib.fetchers.proxyImpureEnvVars;
      SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
      preferLocalBuild = true;
      buildCommand = ''
        url="$(cat ${registry})${source.path}"
        echo "fetching $url"
        curl --fail --location --silent --show-error --retry 3 --output "$out" "$url"
      '';
    };
in
buildNpmPackage {
  pname = "oscd";
  inherit (package) version;
  inherit nodejs;
  src = lib.fileset.toSource {
    root = ./..;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../bin
      ../src
      # `npm run build` bundles the CLI (tsc, then esbuild: dist/bundle/, which bin/oscd.js starts).
      ../scripts/build
    ];
  };
  npmDeps = importNpmLock {
    inherit package packageLock;
    packageSourceOverrides = lib.mapAttrs (_: fetchFromRegistry) sources;
  };
  # The hook's node headers (node-gyp builds better-sqlite3) must be this Node's.
  npmConfigHook = importNpmLock.hooks.npmConfigHook.override { inherit nodejs; };
  npmBuildScript = "build";
  nativeBuildInputs = [
    makeWrapper
    installShellFiles
  ];
  passthru = { inherit sources registry; };
  # oscd drives these programs (coreutils for mkfifo: the switch's hold, src/activate/switch-hold.ts);
  # the machine's own nix comes first on PATH when there is one.
  # Completions come from the built program itself (`oscd completion SHELL`), so they list every
  # command and option of this version.
  postInstall = ''
    wrapProgram $out/bin/oscd --suffix PATH : ${
      lib.makeBinPath [
        nix
        git
        openssh
        util-linux
        coreutils
      ]
    }
  ''
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
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
