#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the test host after switch_root: mount the usual file systems and
# the run's output folder, run the job that run-host.sh wrote there, save its
# exit status and the kernel log, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
for a in $(cat /proc/cmdline); do
	case $a in npa.out=*) out=${a#npa.out=} ;; esac
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "$out" || {
	echo "l1-init: cannot mount the output folder $out"
	poweroff -f
}
hostname npa-lab
ip link set lo up
touch "$out/started"
# run-host.sh ends a test host whose heartbeat stops.
while :; do
	cut -d' ' -f1 /proc/uptime >"$out/heartbeat"
	sleep 5
done &
echo "l1-init: test host up after $(cut -d' ' -f1 /proc/uptime) s"

bash "$out/job.sh" </dev/null
echo $? >"$out/rc"

dmesg >"$out/dmesg.txt"
sync
poweroff -f
