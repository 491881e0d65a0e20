# A fake NixOS netboot ramdisk (config.system.build.netbootRamdisk): the initrd a netbooted
# host boots with, holding its store; here a file naming the host and version.
{ hostname
, version ? "1.0.0"
, system ? "x86_64-linux"
, ...
}:
builtins.derivation {
  name = "netboot-ramdisk-${hostname}-${version}";
  inherit system hostname version;
  builder = "/bin/sh";
  args = [ "-c" ''PATH=/usr/bin:/bin; set -e; mkdir -p $out; printf 'fake netboot ramdisk of %s version %s\n' "$hostname" "$version" > $out/initrd'' ];
}
