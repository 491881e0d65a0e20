# NixOS module for oscd: `services.oscd` (the machine: the `oscd` command and
# /etc/oscd/machine.toml, which `oscd upgrade`, `activate`, `rollback` and push deploys read)
# and `services.oscd.agent` (the pull agent, built on the machine's settings).
#
# Every agent option maps to one key of the agent's JSON configuration (src/agent/config.ts),
# which `oscd agent --config` reads strictly: a key the agent does not know is an error, so an
# option that is written but never read cannot slip through (comin once shipped exactly that
# bug). The file is checked with `oscd agent --check-config` when the system is built, so a
# typo fails the build instead of leaving the machine without an agent after its next boot.
# Tokens never enter the Nix store: options name files, read at run time (systemd's
# `LoadCredential=`). The tests evaluate this module with a stand-in of the module system
# (test/harness/nix/module-system.nix) and feed what it writes to oscd itself.
# Names follow comin and `system.autoUpgrade` where they mean the same.
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf types literalExpression;
  machine = config.services.oscd;
  cfg = config.services.oscd.agent;

  # The machine-level parts are on for `services.oscd.enable`, and for an agent, which needs them.
  machineEnabled = machine.enable || cfg.enable;

  opt = type: default: description: mkOption { inherit type default description; };
  nullable = type: description: mkOption { type = types.nullOr type; default = null; inherit description; };
  # An option whose default comes from another option: the manual shows `text` as the default.
  derived = type: default: text: description: mkOption { inherit type default description; defaultText = literalExpression text; };

  # A Nix public key as oscd and Nix read it: a name and 32 bytes of ed25519 key in base64.
  publicKeyType = types.strMatching "[^:[:space:]]+:[A-Za-z0-9+/]{43}=";
  keyExample = [ "fleet-1:4RcFsIaR+s2uv6EXCjLbLgLtjQ8SZNsK6Y8vcTq6KBw=" ];
  hostNamePattern = "[A-Za-z0-9][A-Za-z0-9_-]*";
  clockTime = types.strMatching "([01][0-9]|2[0-3]):[0-5][0-9]";

  # A duration as `system.autoUpgrade.randomizedDelaySec` takes it: seconds, or a systemd time
  # span ("45min", "1h 30min"); the agent's JSON gets seconds.
  spanUnits = {
    "" = 1; s = 1; sec = 1; second = 1; seconds = 1;
    m = 60; min = 60; minute = 60; minutes = 60;
    h = 3600; hr = 3600; hour = 3600; hours = 3600;
    d = 86400; day = 86400; days = 86400;
    w = 604800; week = 604800; weeks = 604800;
  };
  spanType = types.either types.ints.unsigned (types.strMatching "( *[0-9]+ *(s|sec|second|seconds|m|min|minute|minutes|h|hr|hour|hours|d|day|days|w|week|weeks)?)+ *");
  toSeconds = v:
    if builtins.isInt v then v
    else lib.foldl' (sum: part: sum + lib.toInt (builtins.elemAt part 0) * spanUnits.${builtins.elemAt part 1}) 0
      (builtins.filter builtins.isList (builtins.split "([0-9]+) *([a-z]*)" v));

  windowType = types.submodule {
    options = {
      lower = opt clockTime "01:00" "Start of the window, HH:MM (24 h).";
      upper = opt clockTime "05:00" "End of the window, HH:MM; before `lower` wraps past midnight.";
      days = nullable (types.nonEmptyListOf (types.enum [ "mon" "tue" "wed" "thu" "fri" "sat" "sun" ])) "Days the window opens on (for a window that wraps midnight, the day it opens); null: every day.";
    };
  };

  # `[health]` of oscd.toml and machine.toml: unset keys keep oscd's defaults.
  healthType = types.submodule {
    options = {
      systemdUnits = nullable types.bool "Fail when systemd reports failed units; oscd's default: true.";
      commands = nullable (types.listOf (types.nonEmptyListOf types.str)) "Commands (argv) run on the host after a switch; exit 0 is healthy. They run with the agent unit's restrictions (see docs/agent.md).";
      http = nullable (types.listOf (types.submodule {
        options = {
          url = mkOption { type = types.strMatching "https?://.+"; description = "URL to probe."; example = "http://localhost/health"; };
          status = nullable (types.ints.between 100 599) "Status the answer must have; oscd's default: 200.";
          contains = nullable types.str "Text the body must contain.";
        };
      })) "HTTP probes.";
      timeoutSeconds = nullable types.ints.positive "Seconds each check may take; oscd's default: 30.";
      retries = nullable types.ints.unsigned "Times a failing check is tried again; oscd's default: 3.";
      retryDelaySeconds = nullable types.ints.unsigned "Seconds between tries; oscd's default: 2.";
    };
  };

  # `[retention]` of machine.toml and the agent's `retention`: a generation stays if either rule holds.
  retentionType = types.submodule {
    options = {
      keepGenerations = nullable types.ints.positive "Keep the newest this many system generations; the running, booted, current and previous-good ones always stay and count toward it. Null (with keepDays null): keep every generation.";
      keepDays = nullable types.ints.unsigned "Also keep every generation younger than this many days.";
      collectGarbage = opt types.bool false "After removing generations, run Nix's garbage collector.";
      maxFreedMiB = nullable types.ints.positive "Stop that garbage collection once this many MiB are freed (`nix-store --gc --max-freed`).";
    };
  };

  branchType = name: operation: types.submodule {
    options = {
      name = opt types.str name "Branch name; {hostname} is replaced by this machine's name.";
      operation = opt (types.enum [ "switch" "boot" "test" ]) operation "What a new commit on this branch does.";
    };
  };

  remoteType = types.submodule {
    options = {
      name = opt types.str "origin" "Name of the remote.";
      url = mkOption { type = types.str; description = "Git URL, or an absolute path (a local remote, watched for changes)."; example = "https://git.example.org/fleet.git"; };
      auth = {
        accessTokenPath = nullable types.str "File holding an access token for HTTPS remotes (outside the Nix store).";
        sshDeployKeyPath = nullable types.str "File holding an SSH deploy key (outside the Nix store).";
      };
      timeout = opt types.ints.positive 300 "Seconds a fetch may take.";
      poller.period = opt types.ints.positive 60 "Seconds between fetches.";
      branches = {
        main = opt (branchType "main" "switch") { } "The main branch: its commits are switched to.";
        testing = opt (branchType "testing-{hostname}" "test") { } "The testing branch: its commits are activated with `test`.";
      };
    };
  };

  serverType = types.submodule {
    options = {
      url = mkOption {
        type = types.strMatching "https?://[^/?#@]+(/[^?#]*)?";
        description = "Base URL of the control server (`oscd server`). Manifests come from `{url}/api/v1/channels/{channel}/manifest`, reports go to `{url}/api/v1/reports`. Use https, or http only on a network you trust with the token.";
        example = "https://oscd.example.org";
      };
      fallbackUrls = mkOption {
        type = types.listOf (types.strMatching "https?://[^/?#@]+(/[^?#]*)?");
        default = [ ];
        description = "Further `oscd server` processes of the same fleet (one PostgreSQL database), tried in order when the ones before fail, for manifests and reports alike, with the same token. Not needed behind a load balancer.";
        example = [ "https://oscd-2.example.org" ];
      };
      tokenFile = mkOption {
        type = types.str;
        description = "File holding this host's token (`oscd server token create --host NAME`), outside the Nix store (agenix, sops-nix, or a file you place). systemd hands it to the agent (`LoadCredential=`); the agent sends it as `Authorization: Bearer` and it never appears in the store, a URL or the agent's output.";
        example = "/run/secrets/oscd-host-token";
      };
      channel = opt types.str "main" "The channel to follow.";
    };
  };

  # What the agent's unit reads a token file as (systemd puts credentials there).
  credential = name: "/run/credentials/oscd-agent.service/${name}";
  tokenCredential =
    if cfg.server != null then { name = "server-token"; source = cfg.server.tokenFile; }
    else if cfg.reports.url != null then { name = "reports-token"; source = cfg.reports.tokenFile; }
    else null;

  # The agent's JSON and machine.toml: unset optional settings (null) left out.
  dropNulls = v:
    if builtins.isAttrs v then
      builtins.mapAttrs (_: dropNulls) (lib.filterAttrs (_: x: x != null) v)
    else if builtins.isList v then
      map dropNulls v
    else v;

  settings = lib.recursiveUpdate
    (dropNulls {
      inherit (cfg) hostname machineId stateDir trustedPublicKeys trustRoot substituters remotes gpgPublicKeyPaths allowedSignersPath requireSignedHistory
        flakeSubdirectory evalTimeout buildTimeout switchTimeout switchWindows outsideWindow health postDeploymentCommand
        controlSocket backoff logLevel diff retention selfUpdate;
      server = if cfg.server == null then null else cfg.server // { tokenFile = credential "server-token"; };
      manifest =
        if cfg.manifest.urls == [ ] && cfg.server == null then null
        else cfg.manifest // { randomizedDelaySec = toSeconds cfg.manifest.randomizedDelaySec; };
      reports =
        if cfg.server != null then { inherit (cfg.reports) retryInterval; }
        else if cfg.reports.url == null then null
        else cfg.reports // { tokenFile = credential "reports-token"; };
      reboot = cfg.reboot // { randomizedDelaySec = toSeconds cfg.reboot.randomizedDelaySec; };
      exporter = { inherit (cfg.exporter) enable listenAddress port; };
    })
    cfg.extraSettings;

  rawConfigFile = pkgs.writeText "oscd-agent.json" (builtins.toJSON settings);
  canCheck = cfg.checkConfig && pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
  # The agent reads its configuration strictly; reading it here makes a typo a build failure.
  configFile =
    if canCheck then
      pkgs.runCommand "oscd-agent.json" { config = rawConfigFile; } ''
        ${cfg.package}/bin/oscd agent --check-config "$config" > /dev/null
        cp "$config" "$out"
      ''
    else rawConfigFile;

  machineSettings = dropNulls {
    inherit (machine) host remote tagPrefix trustedPublicKeys trustRoot substituters health retention;
  };
  machineFile = (pkgs.formats.toml { }).generate "machine.toml" machineSettings;

  inStore = p: lib.hasPrefix "${builtins.storeDir}/" p;
  hasCredentials = u: builtins.match "[a-z+]+://[^/?#]*@.*" u != null;
  underDir = prefix: p: lib.hasPrefix prefix p && p != prefix;
  socketDir = builtins.dirOf cfg.controlSocket;
in
{
  options.services.oscd = {
    enable = mkEnableOption "oscd on this machine: the `oscd` command on the PATH and /etc/oscd/machine.toml, which `oscd upgrade`, `oscd activate`, `oscd rollback` and push deploys read. `services.oscd.agent.enable` turns these on too";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression ''pkgs.callPackage "''${oscd}/nix/package.nix" { }'';
      description = "The oscd package. The flake's `nixosModules.default` sets it to the flake's own package; importing nix/module.nix directly builds it from the same checkout with this system's nixpkgs.";
    };

    host = derived types.str config.networking.hostName "config.networking.hostName" "This machine's name in the fleet (a host of oscd.toml, an entry of the manifests)." // { example = "web1"; };
    trustedPublicKeys = opt (types.listOf publicKeyType) [ ] "Public keys (`name:base64`) this machine trusts for releases and for store paths: the fleet key's `.public` file (`oscd keys generate`)." // { example = keyExample; };
    trustRoot = nullable types.str "The fleet's first trust root (`oscd trust init`): where the machine's trust starts; later versions are walked from the channel (docs/trust.md). Null: `trustedPublicKeys` are the machine's implicit root." // { example = "/etc/oscd/trust-root.json"; };
    substituters = opt (types.listOf types.str) [ ] "Binary caches the fleet publishes to." // { example = [ "https://cache.example.org" ]; };
    health = nullable healthType "Health checks after `oscd activate`, `oscd rollback` and push deploys (`[health]`); the agent uses them too unless `services.oscd.agent.health` says otherwise. A failure rolls back.";
    remote = nullable types.str "The fleet repository `oscd upgrade` fetches releases from." // { example = "https://git.example.org/fleet.git"; };
    tagPrefix = opt types.str "v" "Prefix of release tags (`v1.2.3`).";
    retention = nullable retentionType "Generations kept after each committed deployment (`oscd activate`, `upgrade`, push deploys; the agent too unless `services.oscd.agent.retention` says otherwise) and by `oscd gc`: old ones go with their records, source roots and boot entries. Null: keep every generation." // {
      example = literalExpression "{ keepGenerations = 10; keepDays = 30; collectGarbage = true; }";
    };

    addToNixSettings = opt types.bool true "Add `trustedPublicKeys` and `substituters` to `nix.settings` (as `extra-trusted-public-keys` and `extra-substituters`, so nixpkgs' defaults stay), so Nix itself trusts the fleet's store paths. Turn off to manage `nix.settings` yourself.";

    machineFile = mkOption {
      type = types.path;
      readOnly = true;
      default = machineFile;
      defaultText = literalExpression "a TOML file generated from the options above";
      description = "The generated /etc/oscd/machine.toml (read-only).";
    };
  };

  options.services.oscd.agent = {
    enable = mkEnableOption "the oscd pull agent: follow signed manifests (from the control server or static URLs) and git branches, and activate through oscd's engine";
    package = derived types.package machine.package "config.services.oscd.package" "The oscd package the agent runs.";

    hostname = derived types.str machine.host "config.services.oscd.host" "This machine's name in the fleet and in manifests.";
    machineId = nullable (types.strMatching "[0-9a-f]{32}") "When set, a system is activated only if its etc/machine-id matches (comin's machineId)." // { example = "0123456789abcdef0123456789abcdef"; };
    stateDir = opt (types.strMatching "/.+") "/var/lib/oscd" "State directory: journal, generations, last applied releases, report outbox. Under /var/lib it is the unit's `StateDirectory=`; elsewhere tmpfiles makes it (0700).";
    trustedPublicKeys = derived (types.listOf publicKeyType) machine.trustedPublicKeys "config.services.oscd.trustedPublicKeys" "Public keys (`name:base64`) trusted for manifests and for store paths." // { example = keyExample; };
    trustRoot = derived (types.nullOr types.str) machine.trustRoot "config.services.oscd.trustRoot" "The fleet's first trust root (`oscd trust init`); later versions are walked from the channel.";
    substituters = derived (types.listOf types.str) machine.substituters "config.services.oscd.substituters" "Binary caches to use besides the ones a manifest names.";

    server = nullable serverType "The control server, in one setting: the agent reads its channel's manifests from it (long-poll) and reports to it, with the host token from `tokenFile`. Null: no server (use `manifest.urls`, `remotes`, or both)." // {
      example = literalExpression ''{ url = "https://oscd.example.org"; tokenFile = "/run/secrets/oscd-host-token"; }'';
    };

    manifest = {
      urls = opt (types.listOf types.str) [ ] "Channel manifest URLs (file, http, https), tried in order, after the server when there is one (mirrors, sent no token). Never put a token in a URL." // { example = [ "https://cache.example.org/channels/main.json" ]; };
      channel = derived types.str (if cfg.server != null then cfg.server.channel else "main") ''if config.services.oscd.agent.server != null then config.services.oscd.agent.server.channel else "main"'' "The channel the manifests belong to.";
      operation = opt (types.enum [ "switch" "boot" "test" ]) "switch" "What a new manifest entry does.";
      pollInterval = opt types.ints.positive 60 "Seconds between polls when the server offers no long-poll.";
      randomizedDelaySec = opt spanType 5 "Random extra delay per poll: seconds or a systemd time span, as in `system.autoUpgrade`." // { example = "30s"; };
      longPollSeconds = nullable (types.ints.between 0 3600) "Seconds a long-poll request asks the server to hold; 0 turns long-poll off; null: as the server says (`oscd server --long-poll-seconds`, 55 by default).";
      timeout = opt types.ints.positive 30 "Seconds one request may take beyond the long-poll wait.";
      maxClockSkewSeconds = opt types.ints.unsigned 300 "How far this machine's clock may be off when checking a manifest's expiry.";
      allowNoExpiry = opt types.bool false "Accept manifests without expiresAt (written before expiry existed); they could be replayed for ever.";
      trustUrls = opt (types.listOf types.str) [ ] "Where the channel's trust roots and revocation list are; empty: trust/ beside each manifest URL.";
    };

    remotes = opt (types.listOf remoteType) [ ] "Git remotes to follow (comin's remotes).";
    gpgPublicKeyPaths = opt (types.listOf types.str) [ ] "Armored GPG public keys; when set, only signed commits are deployed." // { example = [ "/etc/oscd/release.asc" ]; };
    allowedSignersPath = nullable types.str "An SSH allowed-signers file; when set, only commits signed by those keys are deployed." // { example = "/etc/oscd/allowed_signers"; };
    requireSignedHistory = opt types.bool false "Every commit between the last deployed main commit and the new tip must be signed by one of those keys, not only the tip (an unsigned commit cannot ride in under a signed one).";
    flakeSubdirectory = opt types.str "" "Subdirectory of the repository holding the fleet.";
    evalTimeout = opt types.ints.positive 1800 "Seconds an evaluation may take.";
    buildTimeout = opt types.ints.positive 1800 "Seconds a build may take.";
    switchTimeout = opt types.ints.positive 600 "Seconds switch-to-configuration may take.";
    switchWindows = opt (types.listOf windowType) [ ] "Maintenance windows for changing the running system; empty: any time." // {
      example = literalExpression ''[ { lower = "22:00"; upper = "04:00"; days = [ "sat" "sun" ]; } ]'';
    };
    outsideWindow = opt (types.enum [ "boot" "wait" ]) "wait" "Outside every switch window: install for the next boot now, or wait.";

    reboot = {
      policy = opt (types.enum [ "never" "when-needed" ]) "never" "Reboot when the new system needs it (kernel, initrd, modules, parameters, systemd).";
      rebootWindow = nullable windowType "When reboots may happen, as system.autoUpgrade.rebootWindow; null: any time." // {
        example = literalExpression ''{ lower = "02:00"; upper = "04:00"; }'';
      };
      randomizedDelaySec = opt spanType 0 "Random delay before a reboot: seconds or a systemd time span." // { example = "10min"; };
    };

    health = derived (types.nullOr healthType) machine.health "config.services.oscd.health" "Health checks after each switch (as `[health]` in oscd.toml); a failure rolls back.";
    postDeploymentCommand = nullable (types.nonEmptyListOf types.str) "Command (argv) run after every deployment; OSCD_GIT_SHA, OSCD_STATUS, … in its environment." // { example = [ "/run/current-system/sw/bin/logger" "deployed" ]; };
    controlSocket = opt (types.strMatching "/.+") "/run/oscd/agent.sock" "The local socket `oscd status` and `oscd agent fetch|suspend|resume|events` use. Its directory is the unit's `RuntimeDirectory=` (0700) under /run; elsewhere tmpfiles makes it.";

    exporter = {
      enable = opt types.bool true "Serve Prometheus metrics.";
      listenAddress = opt types.str "127.0.0.1" "Address of the metrics endpoint.";
      port = opt types.port 4243 "Port of the metrics endpoint (comin's default).";
      openFirewall = opt types.bool false "Open `port` in the firewall (for a Prometheus elsewhere; set `listenAddress` too).";
    };

    reports = {
      url = nullable (types.strMatching "https?://[^/?#@]+(/[^?#]*)?") "Control server base URL for reports, when there is no `server`; reports go to {url}/api/v1/reports. Null: no reports.";
      tokenFile = opt types.str "/var/lib/oscd/host-token" "With `reports.url`: file holding this host's token, outside the Nix store (handed to the agent with `LoadCredential=`).";
      retryInterval = opt types.ints.positive 10 "Seconds between delivery attempts while the server is away.";
    };

    backoff = {
      initial = opt types.ints.positive 2 "Seconds of the first wait after a failed fetch.";
      max = opt types.ints.positive 300 "Seconds of the longest wait after failed fetches.";
    };

    logLevel = opt (types.enum [ "debug" "info" "warn" "error" ]) "info" "Log level (JSON lines to the journal).";

    diff = opt types.bool false "Before each activation, log an event with what changes: packages added, removed and changed, closure size, reboot need (as oscd diff).";

    retention = derived (types.nullOr retentionType) machine.retention "config.services.oscd.retention" "Generations kept after each committed deployment the agent makes (as `services.oscd.retention`).";

    selfUpdate = {
      enable = opt types.bool true "After a committed switch to a system whose oscd-agent unit differs (a new oscd package or settings), restart the agent into it (a transient unit runs `systemctl restart`; the old agent comes back if the new one does not answer).";
      unit = opt (types.strMatching "[A-Za-z0-9@._-]+\\.service") "oscd-agent.service" "The agent's own unit.";
      timeout = opt types.ints.positive 120 "Seconds the new agent has to answer on the control socket before the old one is brought back.";
    };

    extraSettings = opt (types.attrsOf types.anything) { } "Settings merged into the JSON (recursively: `extraSettings.manifest.timeout` keeps `manifest.urls`), for settings newer than this module. Checked by the agent like the rest." // {
      example = literalExpression "{ manifest.timeout = 60; }";
    };

    checkConfig = opt types.bool true "Check the generated configuration with `oscd agent --check-config` when the system is built (where the build machine can run the package), so a mistake fails the build, not the next boot.";

    configFile = mkOption {
      type = types.path;
      readOnly = true;
      default = configFile;
      defaultText = literalExpression "the checked JSON file generated from the options above";
      description = "The generated agent configuration (read-only).";
    };
  };

  config = {
    assertions =
      lib.optionals machineEnabled [
        {
          assertion = machine.host != "";
          message = "services.oscd.host is empty (networking.hostName is not set): set networking.hostName or services.oscd.host.";
        }
        {
          assertion = machine.host == "" || builtins.match hostNamePattern machine.host != null;
          message = "services.oscd.host `${machine.host}' is not a host name oscd accepts: letters, digits, '-' and '_', starting with a letter or digit.";
        }
      ]
      ++ lib.optionals cfg.enable [
        {
          assertion = cfg.server != null || cfg.manifest.urls != [ ] || cfg.remotes != [ ];
          message = "services.oscd.agent has no source: set services.oscd.agent.server (the control server), manifest.urls, remotes, or more than one.";
        }
        {
          assertion = (cfg.server == null && cfg.manifest.urls == [ ]) || cfg.trustedPublicKeys != [ ] || cfg.trustRoot != null;
          message = "services.oscd.agent follows manifests but trusts no key to check their signatures: set services.oscd.trustedPublicKeys (or services.oscd.agent.trustedPublicKeys), or services.oscd.trustRoot.";
        }
        {
          assertion = cfg.hostname != "";
          message = "services.oscd.agent.hostname is empty (networking.hostName is not set): set networking.hostName or services.oscd.host.";
        }
        {
          assertion = cfg.hostname == "" || builtins.match hostNamePattern cfg.hostname != null;
          message = "services.oscd.agent.hostname `${cfg.hostname}' is not a host name oscd accepts: letters, digits, '-' and '_', starting with a letter or digit.";
        }
        {
          assertion = cfg.server == null || cfg.manifest.channel == cfg.server.channel;
          message = "services.oscd.agent.manifest.channel (${cfg.manifest.channel}) differs from services.oscd.agent.server.channel (${if cfg.server == null then "" else cfg.server.channel}): the manifest URLs are mirrors of the server's channel; set server.channel.";
        }
        {
          assertion = cfg.server == null || cfg.reports.url == null;
          message = "services.oscd.agent: reports go to server.url when server is set; leave reports.url null.";
        }
        {
          assertion = !(builtins.any hasCredentials (cfg.manifest.urls ++ lib.optionals (cfg.server != null) ([ cfg.server.url ] ++ cfg.server.fallbackUrls) ++ lib.optional (cfg.reports.url != null) cfg.reports.url));
          message = "services.oscd.agent: a manifest, server or reports URL has credentials in it, which would be readable by every user in the Nix store; remove them and put the host token in services.oscd.agent.server.tokenFile.";
        }
        {
          assertion = tokenCredential == null || (lib.hasPrefix "/" tokenCredential.source && !inStore tokenCredential.source);
          message = "services.oscd.agent: the token file ${if tokenCredential == null then "" else tokenCredential.source} must be an absolute path outside the Nix store (where every user could read it): use agenix, sops-nix, or a file you place on the machine.";
        }
      ];

    warnings = lib.optional (cfg.enable && cfg.exporter.openFirewall && cfg.exporter.listenAddress == "127.0.0.1")
      "services.oscd.agent.exporter.openFirewall opens port ${toString cfg.exporter.port}, but the exporter listens on 127.0.0.1 only: set exporter.listenAddress.";

    environment.systemPackages = mkIf machineEnabled [ machine.package ];
    environment.etc = mkIf machineEnabled { "oscd/machine.toml".source = machineFile; };

    nix.settings = mkIf (machineEnabled && machine.addToNixSettings) {
      extra-trusted-public-keys = machine.trustedPublicKeys;
      extra-substituters = machine.substituters;
    };

    networking.firewall.allowedTCPPorts = mkIf (cfg.enable && cfg.exporter.enable && cfg.exporter.openFirewall) [ cfg.exporter.port ];

    # Directories outside systemd's own (/var/lib, /run) are made by tmpfiles, 0700 like those.
    systemd.tmpfiles.rules = mkIf cfg.enable (
      lib.optional (!underDir "/var/lib/" cfg.stateDir) "d ${cfg.stateDir} 0700 root root -"
      ++ lib.optional (!underDir "/run/" socketDir) "d ${socketDir} 0700 root root -"
    );

    systemd.services.oscd-agent = mkIf cfg.enable {
      description = "oscd pull agent";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # The agent switches this very system: a switch must not restart it half-way. It runs
      # switch-to-configuration in a transient unit, and picks up a new version of itself
      # after the deployment it made (or at the next boot).
      restartIfChanged = false;
      stopIfChanged = false;
      path = [ config.nix.package pkgs.git pkgs.gnupg pkgs.openssh pkgs.systemd pkgs.util-linux ];
      # A pull agent that is down leaves the machine unmanaged: always restarted, backing off to
      # 5 minutes, so a crash loop never reaches the start limit (which only stops a storm of
      # manual restarts).
      startLimitIntervalSec = 300;
      startLimitBurst = 10;
      serviceConfig = lib.optionalAttrs (underDir "/var/lib/" cfg.stateDir) {
        StateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;
      } // lib.optionalAttrs (underDir "/run/" socketDir) {
        RuntimeDirectory = lib.removePrefix "/run/" socketDir;
      } // {
        ExecStart = "${cfg.package}/bin/oscd agent --config ${configFile}";
        Environment = [
          # AGENT_NODE_OPTIONS in src/agent/run.ts (the tests check they agree): a small young
          # heap for a process that mostly idles.
          "NODE_OPTIONS=--max-semi-space-size=1"
        ]
        # Builds and substitutions go through nix-daemon, outside this unit's restrictions.
        ++ lib.optional config.nix.enable "NIX_REMOTE=daemon";
        Restart = "always";
        RestartSec = 5;
        RestartSteps = 10;
        RestartMaxDelaySec = 300;
        LoadCredential = lib.optional (tokenCredential != null) "${tokenCredential.name}:${tokenCredential.source}";
        StateDirectoryMode = "0700";
        RuntimeDirectoryMode = "0700";
        RuntimeDirectoryPreserve = "yes";
        # It installs systems as root (profiles, boot entries, the store), so the file system
        # stays writable; what it never needs is taken away. Health commands run with these
        # restrictions too (docs/agent.md); the switch itself runs in its own transient unit.
        PrivateTmp = true;
        ProtectHome = "read-only";
        ProtectClock = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectControlGroups = true;
        RestrictSUIDSGID = true;
        RestrictRealtime = true;
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
        LockPersonality = true;
        SystemCallArchitectures = "native";
        # Tested with Node and the agent's whole deployment (test/e2e/agent-hardening.test.ts);
        # a call outside it fails with EPERM instead of killing the agent.
        SystemCallFilter = [ "@system-service" ];
        SystemCallErrorNumber = "EPERM";
        UMask = "0077";
      };
    };
  };
}
