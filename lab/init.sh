#!/bin/sh
# PID 1 of the lab guest (busybox sh, copied to /init by lab/initramfs.ts).
#
# Per-run settings arrive base64-encoded on the kernel command line (dtlab=…), so the big
# initramfs is identical between runs and can be cached. ttyS0 is the kernel console
# (diagnostics only, shown by the host on failure); ttyS1 carries the command's output and
# the @@DTLAB markers parsed by lab/guest-channel.ts.

export PATH=/project/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
ip link set lo up
hostname dirtytrack-lab

give_up() {
  echo "lab init: $*" >/dev/console
  poweroff -f
}

# Raw mode: no \r inserted before \n, no echo. Kept open on fd 3 so the setting sticks.
exec 3>/dev/ttyS1 || give_up "cannot open /dev/ttyS1"
stty -F /dev/ttyS1 raw -echo

payload=
for word in $(cat /proc/cmdline); do
  case "$word" in dtlab=*) payload=${word#dtlab=} ;; esac
done
[ -n "$payload" ] || give_up "no dtlab= on the kernel command line"
echo "$payload" | base64 -d >/run/lab.sh || give_up "cannot decode dtlab="
# Sets LAB_NONCE and LAB_COMMAND, exports the passed-through environment, and sets the
# positional parameters to the --collect paths.
. /run/lab.sh

marker() { printf '\n@@DTLAB:%s:%s\n' "$LAB_NONCE" "$*" >&3; }

marker "UP thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unavailable)"

cd /project || give_up "no /project"
# Through `cat` so the command's stdout is a pipe, as in CI, not the serial tty.
set -o pipefail
sh -c "$LAB_COMMAND" </dev/null 2>&1 3>&- | cat >&3
marker "EXIT $?"

count=$#
for path in "$@"; do
  if [ -e "$path" ]; then set -- "$@" "$path"; else marker "MISSING $path"; fi
done
shift "$count"
if [ $# -gt 0 ]; then
  marker "COLLECT-BEGIN"
  # gzip: the emulated serial port moves only ~150 KB/s; results are mostly text.
  tar -czf - -- "$@" | base64 >&3
  marker "COLLECT-END $?"
fi
marker "DONE"

# Closing the last handle of the serial port waits until its buffer has been sent.
exec 3>&-
poweroff -f
