#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the lab guest (mkinitramfs.sh guest): bring up eth0 (an
# unmodified virtio_net), check it against the lab peer, print a verdict
# line, power off.  Kernel command line: npa.ip=A.B.C.D (its /24 peer is
# A.B.C.1), npa.n=frames per bulk transfer, npa.size=their payload,
# npa.stay=1 to wait after the verdict instead (for a reset from outside).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /modules

ip=10.0.0.2 n=1000 size=1000 stay=0
for a in $(cat /proc/cmdline); do
	case $a in
	npa.stay=*) stay=${a#npa.stay=} ;;
	npa.ip=*) ip=${a#npa.ip=} ;;
	npa.n=*) n=${a#npa.n=} ;;
	npa.size=*) size=${a#npa.size=} ;;
	esac
done
peer=${ip%.*}.1
fail=0
check() {
	echo "guest: $*"
	"$@" || { echo "guest: FAILED: $*"; fail=1; }
}

ifc=$(ls /sys/class/net | grep -v lo | head -n 1)
echo "guest: $ifc is $(cat /sys/class/net/$ifc/address), driver $(basename "$(readlink /sys/class/net/$ifc/device/driver)"), device $(cat /sys/class/net/$ifc/device/vendor):$(cat /sys/class/net/$ifc/device/device)"
ip link set lo up
ip link set "$ifc" up
ip addr add "$ip/24" dev "$ifc"
check ping -c 3 -W 10 "$peer"
check npa-udp "$peer" tx "$n" "$size"
check npa-udp "$peer" rx "$n" "$size"
echo "guest: link down and up"
ip link set "$ifc" down
ip link set "$ifc" up
check ping -c 2 -W 10 "$peer"
if [ $fail = 0 ]; then
	echo "GUEST-RESULT: PASS"
else
	echo "GUEST-RESULT: FAIL"
fi
[ "$stay" = 1 ] && exec sleep 100000
poweroff -f
