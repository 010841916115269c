#!/bin/sh
# PID 1 of the lab guest (busybox sh, copied to /init by lab/initramfs.ts).
#
# Per-run settings arrive base64-encoded on the kernel command line (dtlab=…), so the big
# initramfs is identical between runs and can be cached. ttyS0 is the kernel console
# (diagnostics only, shown by the host on failure); ttyS1 carries the command's output and
# the @@DTLAB markers parsed by lab/guest-channel.ts.

export PATH=/project/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
# The command's output goes to a pipe, not a terminal (colours: FORCE_COLOR from the host).
export TERM=dumb
# The kernel hands unknown command-line parameters to /init as environment variables.
unset dtlab

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
ip link set lo up
hostname dirtytrack-lab

# Modules the host put in the image (--criu: lab/criu-assets.ts), in dependency order.
modules=/lib/modules/$(uname -r)
if [ -f "$modules/lab-modules.order" ]; then
  while read -r ko; do
    insmod "$modules/$ko" || echo "lab init: insmod $ko failed" >/dev/console
  done <"$modules/lab-modules.order"
fi

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
# busybox find -newer compares whole seconds: date the stamp 1 s back so files written in
# the command's first second count. Files from the host are older (the boot takes longer).
touch -d "@$(($(date +%s) - 1))" /run/lab.stamp
# Through `cat` so the command's stdout is a pipe, as in CI, not the serial tty.
set -o pipefail
sh -c "$LAB_COMMAND" </dev/null 2>&1 3>&- | cat >&3
marker "EXIT $?"

# --collect: send back only files the command created or changed, so files the host edited
# meanwhile are not overwritten with the stale copies in /project.
if [ $# -gt 0 ]; then
  count=$#
  for path in "$@"; do
    if [ -e "$path" ]; then set -- "$@" "$path"; else marker "MISSING $path"; fi
  done
  shift "$count"
  changed=
  [ $# -gt 0 ] && changed=$(find "$@" -newer /run/lab.stamp ! -type d)
  IFS='
'
  set -f
  set -- $changed
  set +f
  unset IFS
  marker "COLLECT-BEGIN $#"
  status=0
  if [ $# -gt 0 ]; then
    # gzip: the emulated serial port moves only ~150 KB/s; results are mostly text.
    tar -czf - -- "$@" | base64 >&3
    status=$?
  fi
  marker "COLLECT-END $status"
fi
marker "DONE"

# Closing the last handle of the serial port waits until its buffer has been sent.
exec 3>&-
poweroff -f
