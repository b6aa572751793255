#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: boot the lab guest (an unmodified Debian kernel
# whose NIC is virtio_net) on KVM and let it check its NIC against the
# peer (guest-init.sh).  Exit status 0 when the guest says PASS.
#
#   run-guest.sh [-q QEMU] [-i GUEST_IP] [-n N] [-s SIZE] [-t SECONDS] [-r]
#                [-p] [-a KERNEL_ARGS] -- QEMU_NIC_ARGS...
#
# -a: more of the guest kernel's command line (e.g. loglevel=7).
# -r: once the guest has passed, reset it (QEMU monitor system_reset) and
# require a second pass after the reboot.  -p (with -r): stop the VM and
# let it run again (monitor stop, cont) before the reset.
#
# QEMU_NIC_ARGS give the guest its NIC, e.g.
#   -netdev vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/UUID
#   -device virtio-net-pci,netdev=n0,mac=...,page-per-vq=on
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"

qemu=qemu-system-x86_64 ip=10.0.0.2 n=1000 size=1000 tmo=300 reboot=0 args=
pause=0
while getopts q:i:n:s:t:rpa: opt; do
	case $opt in
	q) qemu=$OPTARG ;;
	i) ip=$OPTARG ;;
	n) n=$OPTARG ;;
	s) size=$OPTARG ;;
	t) tmo=$OPTARG ;;
	r) reboot=1 ;;
	p) pause=1 ;;
	a) args=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

out=${NPA_OUT:-/tmp}
. "$here/lib-guest.sh"

# The console is written on the test host's tmpfs, then kept in $out.
log=$(mktemp /run/npa-guest.XXXX.log)
trap 'cp "$log" "$out/"' EXIT
mon=/run/npa-guest-$$.mon
hmp() {
	guest_hmp "$mon" "$1"
}
noreboot=-no-reboot
[ "$reboot" = 1 ] && noreboot=
echo "run-guest: booting the guest on KVM ($ip), console in $out/${log##*/}"
guest_qemu "$tmo" "$qemu" "$log" "$mon" \
	"npa.ip=$ip npa.n=$n npa.size=$size npa.stay=$reboot $args" $noreboot "$@"
qpid=$!
guest_lines "$log" $qpid &

# With -r: reset after the first verdict, quit after the second.
passes() {
	grep -c "^GUEST-RESULT: PASS" "$log" || true
}
if [ "$reboot" = 1 ]; then
	for want in 1 2; do
		while kill -0 $qpid 2>/dev/null && [ "$(passes)" -lt $want ] &&
			! grep -q "^GUEST-RESULT: FAIL" "$log"; do
			sleep 1
		done
		[ "$(passes)" -ge $want ] || break
		[ $want = 1 ] || continue
		if [ "$pause" = 1 ]; then
			echo "run-guest: stopping the VM and letting it run again"
			hmp stop
			hmp cont
			sleep 1
		fi
		echo "run-guest: resetting the guest (system_reset)"
		hmp system_reset
	done
	hmp quit 2>/dev/null || true
fi
wait $qpid || true
sleep 0.2
[ "$(passes)" -ge $((reboot + 1)) ]
