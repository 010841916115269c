#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for dirtytrack: the compiler for the C targets and the native
# addon, the kernel lab's tools, rsvg-convert (the tests render every SVG in results/), Prometheus and
# promtool (test/serve/ runs a real server), then the npm packages (whose install step builds targets
# and addon).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in gcc g++ make python3 qemu-system-x86 busybox-static cpio librsvg2-bin prometheus; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # The tests run their own Prometheus on a loopback port; the package's service would listen on :9090
  # on every interface (and its recommended node exporter on :9100): stop and disable them.
  if [[ " ${need[*]} " == *" prometheus "* ]]; then
    for svc in prometheus prometheus-node-exporter; do
      if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
      elif [ -x "/etc/init.d/$svc" ]; then $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    done
  fi
fi
npm ci --no-audit --no-fund
