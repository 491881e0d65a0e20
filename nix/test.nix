# A NixOS test for users with nixpkgs: one machine runs the agent against a file:// manifest
# channel, and answers status and metrics. Run: nix build .#checks.x86_64-linux.agent
{ pkgs, module, package }:

pkgs.testers.runNixOSTest {
  name = "oscd-agent";
  nodes.machine = { ... }: {
    imports = [ module ];
    services.oscd.agent = {
      enable = true;
      inherit package;
      manifest.urls = [ "file:///var/lib/oscd-channel/main.json" ];
      trustedPublicKeys = [ "test-1:4RcFsIaR+s2uv6EXCjLbLgLtjQ8SZNsK6Y8vcTq6KBw=" ];
      exporter.port = 4243;
    };
  };
  testScript = { nodes, ... }: ''
    machine.wait_for_unit("oscd-agent.service")
    machine.wait_until_succeeds("oscd status --json | grep -q agent")
    machine.succeed("curl -sf http://127.0.0.1:4243/metrics | grep -q oscd_build_info")
    # No manifest yet: the agent reports the fetch failure and changes nothing.
    machine.succeed("test \"$(readlink -f /run/current-system)\" = \"$(readlink -f /nix/var/nix/profiles/system)\"")
    machine.succeed("oscd agent --check-config ${nodes.machine.services.oscd.agent.configFile}")
  '';
}
