# A fake NixOS toplevel: the parts of config.system.build.toplevel that oscd touches, built
# with builtins only and /bin/sh (no nixpkgs is reachable in tests).
{ hostname
, version ? "1.0.0"
, system ? "x86_64-linux"
, kernelVersion ? "6.1.0"
, kernelParams ? "loglevel=4"
, initrdVersion ? "1"
, failSwitch ? false        # switch-to-configuration exits 4 after activating, like a failed unit
, failBuild ? false         # the build itself fails, as a broken package would
, health ? "ok"             # written to /run/fake-nixos/health on activation; "failing" fails checks
, gate ? false             # switch-to-configuration waits until /run/fake-nixos/gate exists (a slow switch)
, machineId ? null
, marker ? ""               # any text; changing it changes the toplevel (a "commit to this host")
, payloadKiB ? 0            # a path of this many KiB of zeros in the closure (store size, disk space)
, agentUnit ? null          # text of etc/systemd/system/oscd-agent.service (the agent's own unit)
}:
let
  sh = "/bin/sh";
  mk = name: script: env: builtins.derivation ({
    inherit name system;
    builder = sh;
    args = [ "-c" ("PATH=/usr/bin:/bin; set -e; " + script) ];
  } // env);
  kernel = mk "linux-${kernelVersion}" ''mkdir -p $out/lib/modules/${kernelVersion}; echo "fake kernel ${kernelVersion}" > $out/bzImage'' { };
  initrd = mk "initrd-${kernelVersion}-${initrdVersion}" ''mkdir -p $out; echo "fake initrd ${initrdVersion} for ${kernelVersion}" > $out/initrd'' { };
  payload = mk "payload-${hostname}-${marker}" ''mkdir -p $out; dd if=/dev/zero of=$out/data bs=1024 count=${toString payloadKiB} 2>/dev/null'' { };
  # Only written into the builder when asked for, so the default toplevels keep their hashes.
  extra = (if payloadKiB > 0 then "ln -s ${payload} $out/payload\n" else "")
    + (if agentUnit == null then "" else "mkdir -p $out/etc/systemd/system\ncat > $out/etc/systemd/system/oscd-agent.service <<'OSCD_UNIT'\n${agentUnit}\nOSCD_UNIT\n");
in
mk "nixos-system-${hostname}-${version}" (''
  if [ "$failBuild" = 1 ]; then echo "error: fake build failure of $hostname" >&2; exit 1; fi
  mkdir -p $out/bin $out/etc
  ln -s ${kernel}/bzImage $out/kernel
  ln -s ${initrd}/initrd $out/initrd
  ln -s ${kernel}/lib/modules $out/kernel-modules
  printf '%s' "$kernelParams" > $out/kernel-params
  printf '%s' "$version" > $out/nixos-version
  printf '%s\n' "$hostname" > $out/etc/hostname
  if [ -n "$machineId" ]; then printf '%s\n' "$machineId" > $out/etc/machine-id; fi
  printf 'fail=%s\nhealth=%s\nmarker=%s\ngate=%s\n' "$failSwitch" "$health" "$marker" "$gate" > $out/fake-config
  printf '%s' "$switchScript" > $out/bin/switch-to-configuration
  chmod 0555 $out/bin/switch-to-configuration
  printf '#!/bin/sh\necho "fake init of %s"\n' "$out" > $out/init
  chmod 0555 $out/init
'' + extra) {
  inherit hostname version kernelParams marker health;
  failSwitch = if failSwitch then "1" else "0";
  failBuild = if failBuild then "1" else "0";
  gate = if gate then "1" else "0";
  machineId = if machineId == null then "" else machineId;
  switchScript = builtins.readFile ./switch-to-configuration.sh;
}
