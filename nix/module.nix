# NixOS module for the oscd pull agent: `services.oscd.agent.*`.
#
# Every option maps to one key of the agent's JSON configuration (src/agent/config.ts), which
# `oscd agent --config` reads strictly: a key the agent does not know is an error, so an option
# that is written but never read cannot slip through (comin once shipped exactly that bug).
# The tests evaluate this module and feed the file it writes to `oscd agent --check-config`.
# Names follow comin and `system.autoUpgrade` where they mean the same.
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.oscd.agent;

  opt = type: default: description: mkOption { inherit type default description; };
  nullable = type: description: mkOption { type = types.nullOr type; default = null; inherit description; };

  windowType = types.submodule {
    options = {
      lower = opt types.str "01:00" "Start of the window, HH:MM (24 h).";
      upper = opt types.str "05:00" "End of the window, HH:MM; before `lower` wraps past midnight.";
      days = nullable (types.listOf (types.enum [ "mon" "tue" "wed" "thu" "fri" "sat" "sun" ])) "Days the window opens on; null: every day.";
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
      url = mkOption { type = types.str; description = "Git URL, or an absolute path (a local remote, watched for changes)."; };
      auth = {
        accessTokenPath = nullable types.str "File holding an access token for HTTPS remotes.";
        sshDeployKeyPath = nullable types.str "File holding an SSH deploy key.";
      };
      timeout = opt types.int 300 "Seconds a fetch may take.";
      poller.period = opt types.int 60 "Seconds between fetches.";
      branches = {
        main = opt (branchType "main" "switch") { } "The main branch: its commits are switched to.";
        testing = opt (branchType "testing-{hostname}" "test") { } "The testing branch: its commits are activated with `test`.";
      };
    };
  };

  # The agent's JSON: every option, nulls (unset optional settings) left out.
  dropNulls = v:
    if builtins.isAttrs v then
      builtins.mapAttrs (_: dropNulls) (lib.filterAttrs (_: x: x != null) v)
    else if builtins.isList v then
      map dropNulls v
    else v;

  settings = dropNulls ({
    inherit (cfg) hostname machineId stateDir trustedPublicKeys substituters remotes gpgPublicKeyPaths allowedSignersPath requireSignedHistory
      flakeSubdirectory evalTimeout buildTimeout switchTimeout switchWindows outsideWindow reboot health postDeploymentCommand
      controlSocket exporter backoff logLevel diff;
    manifest = if cfg.manifest.urls == [ ] then null else cfg.manifest;
    reports = if cfg.reports.url == null then null else cfg.reports;
  } // cfg.extraSettings);

  configFile = pkgs.writeText "oscd-agent.json" (builtins.toJSON settings);
in
{
  options.services.oscd.agent = {
    enable = mkEnableOption "the oscd pull agent: follow signed manifests and git branches, and activate through oscd's engine";
    package = mkOption { type = types.package; description = "The oscd package."; };

    hostname = opt types.str config.networking.hostName "This machine's name in the fleet and in manifests.";
    machineId = nullable types.str "When set, a system is activated only if its etc/machine-id matches (comin's machineId).";
    stateDir = opt types.str "/var/lib/oscd" "State directory: journal, generations, last applied releases, report outbox.";
    trustedPublicKeys = opt (types.listOf types.str) [ ] "Public keys (name:base64) trusted for manifests and for store paths.";
    substituters = opt (types.listOf types.str) [ ] "Binary caches to use besides the ones a manifest names.";

    manifest = {
      urls = opt (types.listOf types.str) [ ] "Channel manifest URLs (file, http, https), tried in order. Empty: no manifest source.";
      channel = opt types.str "main" "The channel the manifests belong to.";
      operation = opt (types.enum [ "switch" "boot" "test" ]) "switch" "What a new manifest entry does.";
      pollInterval = opt types.int 60 "Seconds between polls when the server offers no long-poll.";
      randomizedDelaySec = opt types.int 5 "Random extra delay per poll, in seconds, as in system.autoUpgrade.";
      longPollSeconds = opt types.int 55 "Seconds a long-poll request asks the server to hold; 0 turns long-poll off.";
      timeout = opt types.int 30 "Seconds one request may take beyond the long-poll wait.";
      maxClockSkewSeconds = opt types.int 300 "How far this machine's clock may be off when checking a manifest's expiry.";
      allowNoExpiry = opt types.bool false "Accept manifests without expiresAt (written before expiry existed); they could be replayed for ever.";
    };

    remotes = opt (types.listOf remoteType) [ ] "Git remotes to follow (comin's remotes).";
    gpgPublicKeyPaths = opt (types.listOf types.str) [ ] "Armored GPG public keys; when set, only signed commits are deployed.";
    allowedSignersPath = nullable types.str "An SSH allowed-signers file; when set, only commits signed by those keys are deployed.";
    requireSignedHistory = opt types.bool false "Every commit between the last deployed main commit and the new tip must be signed by one of those keys, not only the tip (an unsigned commit cannot ride in under a signed one).";
    flakeSubdirectory = opt types.str "" "Subdirectory of the repository holding the fleet.";
    evalTimeout = opt types.int 1800 "Seconds an evaluation may take.";
    buildTimeout = opt types.int 1800 "Seconds a build may take.";
    switchTimeout = opt types.int 600 "Seconds switch-to-configuration may take.";
    switchWindows = opt (types.listOf windowType) [ ] "Maintenance windows for changing the running system; empty: any time.";
    outsideWindow = opt (types.enum [ "boot" "wait" ]) "wait" "Outside every switch window: install for the next boot now, or wait.";

    reboot = {
      policy = opt (types.enum [ "never" "when-needed" ]) "never" "Reboot when the new system needs it (kernel, initrd, modules, parameters, systemd).";
      rebootWindow = nullable windowType "When reboots may happen, as system.autoUpgrade.rebootWindow; null: any time.";
      randomizedDelaySec = opt types.int 0 "Random delay before a reboot, in seconds.";
    };

    health = nullable (types.attrsOf types.anything) "Health checks after each switch (as [health] in oscd.toml); a failure rolls back.";
    postDeploymentCommand = nullable (types.listOf types.str) "Command (argv) run after every deployment; OSCD_GIT_SHA, OSCD_STATUS, … in its environment.";
    controlSocket = opt types.str "/run/oscd/agent.sock" "The local socket `oscd status` and `oscd agent fetch|suspend|resume|events` use.";

    exporter = {
      enable = opt types.bool true "Serve Prometheus metrics.";
      listenAddress = opt types.str "127.0.0.1" "Address of the metrics endpoint.";
      port = opt types.port 4243 "Port of the metrics endpoint (comin's default).";
    };

    reports = {
      url = nullable types.str "Control server base URL; reports go to {url}/api/v1/reports. Null: no reports.";
      tokenFile = opt types.str "/var/lib/oscd/host-token" "File holding this host's token (never the token itself).";
      retryInterval = opt types.int 10 "Seconds between delivery attempts while the server is away.";
    };

    backoff = {
      initial = opt types.int 2 "Seconds of the first wait after a failed fetch.";
      max = opt types.int 300 "Seconds of the longest wait after failed fetches.";
    };

    logLevel = opt (types.enum [ "debug" "info" "warn" "error" ]) "info" "Log level (JSON lines to the journal).";

    diff = opt types.bool false "Before each activation, log an event with what changes: packages added, removed and changed, closure size, reboot need (as oscd diff).";

    extraSettings = opt (types.attrsOf types.anything) { } "Settings added to the JSON as they are (for settings newer than this module).";

    configFile = mkOption {
      type = types.path;
      readOnly = true;
      default = configFile;
      description = "The generated configuration file (read-only).";
    };
  };

  config = mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    systemd.services.oscd-agent = {
      description = "oscd pull agent";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # The agent switches this very system: a switch must not restart it half-way. It runs
      # switch-to-configuration in a transient unit, and picks up a new version of itself
      # after the deployment it made (or at the next boot).
      restartIfChanged = false;
      stopIfChanged = false;
      path = [ config.nix.package pkgs.git pkgs.openssh pkgs.systemd pkgs.util-linux ];
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/oscd agent --config ${configFile}";
        # AGENT_NODE_OPTIONS in src/agent/run.ts (the tests check they agree): a small young
        # heap for a process that mostly idles.
        Environment = "NODE_OPTIONS=--max-semi-space-size=1";
        Restart = "on-failure";
        RestartSec = 5;
        StateDirectory = "oscd";
        StateDirectoryMode = "0700";
        RuntimeDirectory = "oscd";
        RuntimeDirectoryMode = "0755";
        RuntimeDirectoryPreserve = "yes";
        # It installs systems as root (profiles, boot entries, the store), so the file system
        # stays writable; what it never needs is taken away.
        PrivateTmp = true;
        ProtectHome = "read-only";
        ProtectClock = true;
        RestrictRealtime = true;
        LockPersonality = true;
        SystemCallArchitectures = "native";
        UMask = "0077";
      };
    };
  };
}
