# A NixOS test for users with nixpkgs: a control server and two agents configured through
# `services.oscd.agent.server` (the host token only in a file). Releases are published from a
# fleet repository on the server, rolled out from the command line canary first, a failing
# release is rolled back by the agent and halts the rollout, and the agent's unit restarted in
# the middle of a switch does not break the switch.
# Run: nix build .#checks.x86_64-linux.agent (or .driverInteractive to watch it).
{ pkgs, module, package }:

let
  inherit (pkgs) lib;
  # A key for this test only: it signs the releases of this VM test and nothing else.
  secretKey = "oscd-nixos-test-1:GHerpXmzy1EJUaQc/ioZPb5BZBssRRNL42RfwldBSVtPLjjhhsTxjUNrxo/EtOCbLfERVcLwmmYyuYrsUrWyNw==";
  publicKey = "oscd-nixos-test-1:Ty444YbE8Y1Da8aPxLTgmy3xEVXC8JpmMrmK7FK1sjc=";
  serverUrl = "http://server:8420";
  agents = [ "agent1" "agent2" ];

  # The releases are specialisations of each agent's own configuration: whole systems for the
  # VM, built with the test and already in its store; the fleet repository names them.
  releases = {
    v2 = { environment.etc."oscd-test-release".text = "v2"; };
    # A unit that fails: the agent's health check (failed units) rolls the host back.
    broken = {
      environment.etc."oscd-test-release".text = "broken";
      systemd.services.oscd-test-broken = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig = { Type = "oneshot"; ExecStart = "${pkgs.coreutils}/bin/false"; };
      };
    };
    # A switch that takes 20 s (a unit it starts and waits for): long enough to restart the agent in it.
    slow = {
      environment.etc."oscd-test-release".text = "slow";
      systemd.services.oscd-test-slow = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig = { Type = "oneshot"; RemainAfterExit = true; ExecStart = "${pkgs.coreutils}/bin/sleep 20"; };
      };
    };
  };

  agentNode = { ... }: {
    imports = [ module ];
    services.oscd = {
      inherit package;
      trustedPublicKeys = [ publicKey ];
      substituters = [ "http://server/cache" ];
    };
    services.oscd.agent = {
      enable = true;
      # The token is placed by the test script, as agenix or sops-nix would place it.
      server = { url = serverUrl; tokenFile = "/var/lib/oscd-token"; };
      manifest = { pollInterval = 2; randomizedDelaySec = 0; };
      health = { retries = 1; retryDelaySeconds = 2; };
    };
    specialisation = lib.mapAttrs (_: configuration: { inherit configuration; }) releases;
    virtualisation.memorySize = 1536;
  };
in
pkgs.testers.runNixOSTest ({ nodes, ... }:
  let
    toplevel = host: release: nodes.${host}.specialisation.${release}.configuration.system.build.toplevel;
    # The classic fleet file: each host's toplevel for the release named in the repository.
    # Plain strings (evaluating it needs no nixpkgs); the systems are in the server's store.
    systems = lib.mapAttrs (release: _: lib.genAttrs agents (host: {
      outPath = toplevel host release;
      drvPath = builtins.unsafeDiscardStringContext (toplevel host release).drvPath;
      system = pkgs.stdenv.hostPlatform.system;
    })) releases;
    fleetFile = pkgs.writeText "default.nix" ''
      let
        systems = builtins.fromJSON ${builtins.toJSON (builtins.toJSON systems)};
        release = builtins.replaceStrings [ "\n" ] [ "" ] (builtins.readFile ./release);
      in systems.''${release}
    '';
    oscdToml = pkgs.writeText "oscd.toml" ''
      caches = ["file:///var/lib/oscd-cache"]

      [fleet]
      layout = "classic"
      file = "default.nix"

      [keys]
      trusted = ["${publicKey}"]
    '';
  in
  {
    name = "oscd";

    nodes.server = { pkgs, ... }: {
      environment.systemPackages = [ package pkgs.git ];
      environment.etc."oscd-test/fleet.secret" = { text = secretKey; mode = "0400"; };
      nix.settings.experimental-features = [ "nix-command" "flakes" ];
      networking.firewall.allowedTCPPorts = [ 80 8420 ];
      systemd.services.oscd-server = {
        wantedBy = [ "multi-user.target" ];
        after = [ "network.target" ];
        serviceConfig = {
          ExecStart = "${package}/bin/oscd server --db sqlite:/var/lib/oscd-server/server.db --listen 0.0.0.0:8420 --trusted-key ${publicKey}";
          StateDirectory = "oscd-server";
        };
      };
      # The binary cache `oscd publish` writes, served to the agents.
      services.nginx = {
        enable = true;
        virtualHosts.server.locations."/cache/".alias = "/var/lib/oscd-cache/";
      };
      systemd.tmpfiles.rules = [ "d /var/lib/oscd-cache 0755 root root -" ];
      virtualisation.additionalPaths = lib.concatMap (release: map (host: toplevel host release) agents) (lib.attrNames releases);
      virtualisation.memorySize = 2048;
    };
    nodes.agent1 = agentNode;
    nodes.agent2 = agentNode;

    testScript = ''
      import json

      DB = "--db sqlite:/var/lib/oscd-server/server.db"
      SERVER = "--server ${serverUrl} --server-token-file /root/admin-token"
      systems = json.loads(${builtins.toJSON (builtins.toJSON systems)})
      agents = [agent1, agent2]

      def current(machine):
          return machine.succeed("readlink -f /run/current-system").strip()

      def last_deployment(machine):
          return json.loads(machine.succeed("oscd status --json"))["agent"].get("lastDeployment") or {}

      def deployed(machine, release, outcome):
          d = last_deployment(machine)
          return d.get("toplevel") == systems[release][machine.name]["outPath"] and d.get("outcome") == outcome

      def publish(release):
          server.succeed(
              f"cd /root/fleet && echo {release} > release && git add -A"
              f" && git -c user.name=t -c user.email=t@example.org commit -qm {release}",
              f"OSCD_SIGNING_KEY_FILE=/etc/oscd-test/fleet.secret oscd publish --repo /root/fleet {SERVER}",
          )

      def rollout():
          server.succeed(f"oscd rollout start main --waves 'canary=agent1; rest' --bake 5s {SERVER}")

      start_all()
      server.wait_for_unit("oscd-server.service")
      server.wait_for_unit("nginx.service")
      server.wait_for_open_port(8420)
      server.succeed(
          f"oscd server {DB} token create --admin > /root/admin-token",
          "mkdir -p /root/fleet && cd /root/fleet && git init -q"
          " && cp ${fleetFile} default.nix && cp ${oscdToml} oscd.toml && chmod 644 default.nix oscd.toml",
      )

      with subtest("the agents reach the server with the token from their file, and none is in the store"):
          for machine in agents:
              name = machine.name
              token = server.succeed(f"oscd server {DB} token create --host {name} --channel main").strip()
              machine.succeed(f"umask 077; printf %s '{token}' > /var/lib/oscd-token")
              machine.succeed("systemctl reset-failed oscd-agent; systemctl restart oscd-agent")
              machine.wait_until_succeeds("oscd status --json | grep -q agent")
              machine.fail(f"grep -rq '{token}' /nix/store/*-oscd-agent.json /etc/oscd")
              out = machine.succeed("oscd agent --check-config $(systemctl show -P ExecStart oscd-agent | grep -o '/nix/store/[^ ]*-oscd-agent.json' | head -1)")
              assert "<from tokenFile>" in out and token not in out, out
              machine.succeed("test -f /etc/oscd/machine.toml && grep -q ${publicKey} /etc/nix/nix.conf")

      with subtest("a release published and rolled out from the command line reaches both hosts, canary first"):
          publish("v2")
          rollout()
          for machine in agents:
              machine.wait_until_succeeds(f"test $(readlink -f /run/current-system) = {systems['v2'][machine.name]['outPath']}", timeout=300)
              machine.succeed("grep -qx v2 /etc/oscd-test-release")

      with subtest("a failing release is rolled back on the canary and never reaches the other host"):
          publish("broken")
          rollout()
          retry(lambda _: deployed(agent1, "broken", "failed"), timeout=300)
          assert current(agent1) == systems["v2"]["agent1"]["outPath"], "agent1 must be back on v2"
          agent1.succeed("grep -qx v2 /etc/oscd-test-release")
          agent2.sleep(15)
          assert current(agent2) == systems["v2"]["agent2"]["outPath"], "agent2 must not get the halted release"

      with subtest("the agent's unit restarted in the middle of a switch does not break the switch"):
          publish("slow")
          rollout()
          agent1.wait_until_succeeds("systemctl list-units --all --no-legend 'oscd-switch-*' | grep -q running", timeout=300)
          agent1.succeed("systemctl restart oscd-agent")
          for machine in agents:
              machine.wait_until_succeeds(f"test $(readlink -f /run/current-system) = {systems['slow'][machine.name]['outPath']}", timeout=300)
              retry(lambda _: deployed(machine, "slow", "committed"), timeout=120)
              machine.succeed("systemctl is-active oscd-test-slow.service oscd-agent.service")
          agent1.fail("systemctl list-units --failed --no-legend 'oscd-switch-*' | grep -q .")
    '';
  })
