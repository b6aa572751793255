#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the lab guest (mkinitramfs.sh guest): bring up eth0 (an
# unmodified virtio_net), check it against the lab peer, print a verdict
# line, power off.  Kernel command line: npa.ip=A.B.C.D (its /24 peer is
# A.B.C.1), npa.n=frames per bulk transfer, npa.size=their payload,
# npa.stay=1 to wait after the verdict instead (for a reset from outside),
# npa.mode=bench for the benchmark workload instead (npa.secs per phase),
# npa.trace=1 to trace drops and small transmits, printed when a check fails,
# npa.mode=wbinvd to execute npa.n WBINVDs instead (the npa_wbinvd module,
# tools/lab/wbinvd-guest.sh) and nothing else, npa.mode=stream to stream
# numbered datagrams both ways first (npa.phases phases of npa.secs, each
# after the first once a line comes on the console, while the guest
# migrates: migrate-guest.sh; each phase's report said again at the end),
# then check as usual.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /modules

ip=10.0.0.2 n=1000 size=1000 stay=0 mode=check secs=3 trace=0 phases=3
for a in $(cat /proc/cmdline); do
	case $a in
	npa.mode=*) mode=${a#npa.mode=} ;;
	npa.secs=*) secs=${a#npa.secs=} ;;
	npa.stay=*) stay=${a#npa.stay=} ;;
	npa.ip=*) ip=${a#npa.ip=} ;;
	npa.n=*) n=${a#npa.n=} ;;
	npa.size=*) size=${a#npa.size=} ;;
	npa.trace=*) trace=${a#npa.trace=} ;;
	npa.phases=*) phases=${a#npa.phases=} ;;
	esac
done
peer=${ip%.*}.1
fail=0

if [ "$mode" = wbinvd ]; then
	if insmod /lib/modules/npa_wbinvd.ko count="$n"; then
		echo "GUEST-RESULT: PASS"
	else
		echo "GUEST-RESULT: FAIL"
	fi
	poweroff -f
fi
check() {
	echo "guest: $*"
	"$@" && return
	echo "guest: FAILED: $*"
	fail=1
	cat /proc/net/dev /proc/net/snmp
	grep virtio /proc/interrupts
	if [ "$trace" = 1 ]; then
		echo "guest: trace"
		tail -n 200 /sys/kernel/tracing/trace
	fi
}

ifc=$(ls /sys/class/net | grep -v lo | head -n 1)
echo "guest: $ifc is $(cat /sys/class/net/$ifc/address), driver $(basename "$(readlink /sys/class/net/$ifc/device/driver)"), device $(cat /sys/class/net/$ifc/device/vendor):$(cat /sys/class/net/$ifc/device/device)"
echo "guest: virtio features $(cat /sys/class/net/$ifc/device/features)"
ip link set lo up
# The checks count every datagram: no AQM drops in the guest's own queue
# (Debian's default qdisc, fq_codel, drops what waits for a full ring).
echo pfifo_fast >/proc/sys/net/core/default_qdisc
ip link set "$ifc" up
ip addr add "$ip/24" dev "$ifc"
if [ "$trace" = 1 ]; then
	mount -t tracefs tracefs /sys/kernel/tracing
	t=/sys/kernel/tracing/events
	echo 'len < 100' >$t/net/net_dev_xmit/filter
	echo 1 >$t/net/net_dev_xmit/enable
	echo 1 >$t/skb/kfree_skb/enable
	echo 1 >$t/net/net_dev_queue/enable
	echo 'len < 100' >$t/net/net_dev_queue/filter
fi

# The benchmark: markers for the test host's sampler (bench-guest.py),
# with the guest's own virtio interrupt count.
guest_irqs() {
	awk '/virtio/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts
}
if [ "$mode" = bench ]; then
	until ping -c 1 -W 1 "$peer" >/dev/null; do :; done
	echo "BENCH-LINKUP"
	ping -c 20 -i 0.2 -W 2 "$peer"
	for dir in tx rx; do
		for sz in 64 1400; do
			echo "BENCH-BEGIN $dir$sz $(guest_irqs)"
			npa-udp "$peer" "blast-$dir" "$secs" "$sz" || fail=1
			echo "BENCH-END $dir$sz $(guest_irqs)"
		done
	done
	# A phase that moved nothing fails the guest (the benchmark may retry).
	if [ $fail = 0 ]; then
		echo "GUEST-RESULT: PASS"
	else
		echo "GUEST-RESULT: FAIL"
	fi
	poweroff -f
fi

# Streams that run across migrations: each phase says what arrived each
# way (a duplicated or corrupt datagram fails it); then the usual checks.
if [ "$mode" = stream ]; then
	until ping -c 1 -W 1 "$peer" >/dev/null; do :; done
	mkdir -p /tmp
	for p in $(seq "$phases"); do
		echo "STREAM-BEGIN $p"
		check npa-udp "$peer" stream "$secs" "$size" >"/tmp/stream-$p" 2>&1
		cat "/tmp/stream-$p"
		# Per queue, for a phase in which one way went quiet.
		grep virtio /proc/interrupts | sed 's/^/guest: /'
		echo "STREAM-END $p"
		# The next phase when the host says so (a line on the console).
		[ "$p" = "$phases" ] || { echo "STREAM-WAIT $p"; read -r go; }
	done
	# Each phase's report again, "phase P: udp stream ...", for the
	# readers: a line the guest printed while it switched QEMUs can be
	# split between their consoles, but none switches after the last
	# phase.
	for p in $(seq "$phases"); do
		sed -n "s/^udp stream/phase $p: &/p" "/tmp/stream-$p"
	done
fi
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
