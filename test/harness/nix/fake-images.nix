# Fake machine images of a host, the shape of NixOS's config.system.build.images: each a
# derivation whose file names the host and the version (no nixpkgs is reachable in tests).
{ hostname
, version ? "1.0.0"
, system ? "x86_64-linux"
, ...
}:
let
  mk = name: sys: script: env: builtins.derivation ({
    inherit name hostname version;
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" ("PATH=/usr/bin:/bin; set -e; " + script) ];
  } // env);
in {
  # One file in the output (plus nix-support): found without filePath.
  qcow2 = mk "nixos-image-${hostname}-${version}-qcow2" system ''
    mkdir -p $out/nix-support
    printf 'fake qcow2 image of %s version %s\n' "$hostname" "$version" > $out/nixos.qcow2
    echo "file disk-image $out/nixos.qcow2" > $out/nix-support/hydra-build-products
  '' { };
  # Two files: the image is the one passthru.filePath names, as NixOS's images do.
  iso = mk "nixos-${hostname}-${version}-iso" system ''
    mkdir -p $out/iso
    printf 'fake iso image of %s version %s\n' "$hostname" "$version" > $out/iso/nixos-${hostname}.iso
    echo "not the image" > $out/iso/README
  '' { filePath = "iso/nixos-${hostname}.iso"; };
  # For a platform no test machine builds.
  sd-aarch64 = mk "nixos-sd-image-${hostname}-${version}" "aarch64-linux" ''
    printf 'fake sd image of %s\n' "$hostname" > $out
  '' { };
}
