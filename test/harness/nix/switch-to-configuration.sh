#!/bin/sh
# Fake switch-to-configuration obeying the NixOS contract:
#   switch       make this the boot default and activate it now
#   boot         make this the boot default
#   test         activate it now, boot default unchanged
#   dry-activate say what would be done, change nothing
# Activation sets /run/current-system. The boot loader step writes one entry per generation
# of /nix/var/nix/profiles/system and makes the entry of this toplevel the default, as
# systemd-boot-builder does. Exit 4 means "activated, but some units failed".
PATH=/usr/bin:/bin
set -e
top=$(cd "$(dirname "$0")/.." && pwd -P)
action="$1"
conf() { sed -n "s/^$1=//p" "$top/fake-config"; }

case "$action" in
  switch|boot|test|dry-activate) ;;
  *) echo "Usage: $0 [switch|boot|test|dry-activate]" >&2; exit 1 ;;
esac

# Every switch that changes something logs its start and end, so tests can prove that two
# never overlap. A gated system waits for /run/fake-nixos/gate in between, silently: a switch
# whose caller died has no one reading its output.
if [ "$action" != dry-activate ]; then
  mkdir -p /run/fake-nixos
  echo "start $action $top" >> /run/fake-nixos/switches
  trap 'echo "end $action $top" >> /run/fake-nixos/switches' EXIT
  if [ "$(conf gate)" = 1 ]; then
    while [ ! -e /run/fake-nixos/gate ]; do sleep 0.1; done
  fi
fi

if [ "$action" = dry-activate ]; then
  echo "would activate $top (currently $(readlink /run/current-system 2>/dev/null || echo none))"
  exit 0
fi

install_bootloader() {
  mkdir -p /boot/loader/entries
  default=""
  for link in /nix/var/nix/profiles/system-*-link; do
    [ -e "$link" ] || continue
    n=$(basename "$link" | sed 's/^system-\([0-9]*\)-link$/\1/')
    gen=$(readlink "$link")
    tmp=/boot/loader/entries/.nixos-generation-$n.conf.tmp
    {
      echo "title NixOS"
      echo "version Generation $n $(cat "$gen/nixos-version")"
      echo "linux $(readlink "$gen/kernel")"
      echo "initrd $(readlink "$gen/initrd")"
      echo "options init=$gen/init $(cat "$gen/kernel-params")"
      echo "toplevel $gen"
    } > "$tmp"
    mv "$tmp" "/boot/loader/entries/nixos-generation-$n.conf"
    [ "$gen" = "$top" ] && default="nixos-generation-$n.conf"
  done
  # Entries of deleted generations go, as the real builder removes them.
  for e in /boot/loader/entries/nixos-generation-*.conf; do
    [ -e "$e" ] || continue
    n=$(basename "$e" | sed 's/^nixos-generation-\([0-9]*\)\.conf$/\1/')
    [ -e "/nix/var/nix/profiles/system-$n-link" ] || rm -f "$e"
  done
  if [ -n "$default" ]; then
    echo "default $default" > /boot/loader/loader.conf.tmp
    mv /boot/loader/loader.conf.tmp /boot/loader/loader.conf
  else
    echo "warning: $top is not a generation of /nix/var/nix/profiles/system; boot default unchanged" >&2
  fi
}

if [ "$action" = switch ] || [ "$action" = boot ]; then
  install_bootloader
fi

if [ "$action" = switch ] || [ "$action" = test ]; then
  mkdir -p /run/fake-nixos
  ln -sfn "$top" /run/current-system
  conf health > /run/fake-nixos/health
  echo "$action $top" >> /run/fake-nixos/activations
  if [ "$(conf fail)" = 1 ]; then
    echo "warning: the following units failed: fake-failing.service" >&2
    exit 4
  fi
fi
exit 0
