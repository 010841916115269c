#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for dirtytrack: the compiler for the C targets and the native
# addon, the kernel lab's tools, rsvg-convert (the tests render every SVG in results/), then the npm
# packages (whose install step builds targets and addon).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in gcc g++ make python3 qemu-system-x86 busybox-static cpio librsvg2-bin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
