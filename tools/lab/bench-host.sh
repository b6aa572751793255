#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: the benchmark's rounds.  The same guest workload
# (guest-init.sh, npa.mode=bench) on four data paths over the same VF model
# and wire, alternating A B C D in every round:
#   npa          -netdev vhost-vfio on an npa mdev (VF 0)
#   passthrough  vfio-pci assignment of the VF (VF 1): the upper bound
#   vhost-vdpa   vp_vdpa (built from Debian's source) + vhost-vdpa (VF 2)
#   vhost-net    the VF under virtio_net, bridged to a tap + vhost-net (VF 3)
#
#   bench-host.sh ROUNDS SECONDS VP_VDPA_KO [RETRIES]
#
# Records go to $NPA_OUT/bench.jsonl (bench-guest.py).  A path whose guest
# fails a round runs it again, up to RETRIES (default 0) more times; the
# failed attempts' records go to $NPA_OUT/bench-failed.jsonl and their
# consoles stay in bench-PATH-ROUND-try-N.log.
set -euo pipefail
. tools/lab/lib-host.sh
. tools/lab/versions.env
rounds=$1 secs=$2 vpvdpa=$3 retries=${4:-0}
res=$NPA_OUT/bench.jsonl
initrd=$NPA_OUT/guest.gz
tools/lab/mkinitramfs.sh guest "$initrd" >/dev/null
modprobe -a kvm_amd vfio-pci vdpa vhost_vdpa vhost_net tun bridge virtio_net
ulimit -l unlimited
: >"$res"

# npa
tools/npactl load
npa_bdf=$(vf_bdf 0)
tools/npactl bind "$npa_bdf" >/dev/null
npa_parent=$(tools/npactl parent "$npa_bdf")
# passthrough
pt_bdf=$(vf_bdf 1)
rebind "$pt_bdf" vfio-pci
# vhost-vdpa on vp_vdpa
vdpa_bdf=$(vf_bdf 2)
insmod "$vpvdpa"
rebind "$vdpa_bdf" vp-vdpa
# vhost-net: the VF is the test host's NIC, bridged to the guest's tap
net_bdf=$(vf_bdf 3)
net_if=$(ls "/sys/bus/pci/devices/$net_bdf"/virtio*/net)
net_virtio=$(basename "/sys/bus/pci/devices/$net_bdf"/virtio*)
ip link add br0 type bridge
ip link set "$net_if" master br0
ip tuntap add tap0 mode tap
ip link set tap0 master br0
ip link set "$net_if" up
ip link set tap0 up
ip link set br0 up

# The last attempt's record to $1 (none if bench-guest.py died early).
keep() {
	cat "$res.try" >>"$1" 2>/dev/null || :
	rm -f "$res.try"
}

run() {
	local path=$1 round=$2 ip=$3 pattern=$4 try=0 log
	shift 4
	log=$NPA_OUT/bench-$path-$round.log
	until python3 tools/lab/bench-guest.py --path "$path" \
		--round "$round" --out "$res.try" --qemu "$NPA_QEMU" --ip "$ip" \
		--secs "$secs" --kernel "/boot/vmlinuz-$KVER" --initrd "$initrd" \
		--irq-pattern "$pattern" --log "$log" "$@"; do
		echo "bench-host: $path round $round failed; the guest's last words:"
		tail -n 5 "$log"
		[ "$try" -lt "$retries" ] || break
		try=$((try + 1))
		keep "$NPA_OUT/bench-failed.jsonl"
		mv "$log" "${log%.log}-try-$try.log"
		echo "bench-host: $path round $round once more"
	done
	keep "$res"
}

for round in $(seq "$rounds"); do
	echo "== round $round of $rounds"

	uuid=$(cat /proc/sys/kernel/random/uuid)
	start=$(date +%s.%N)
	mdevctl start -u "$uuid" -p "$npa_parent" -t npa-net
	run npa "$round" 10.0.0.2 "npa\\[$npa_bdf\\]-[0-9]" \
		--setup-start "$start" --uuid "$uuid" -- \
		-netdev "vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/$uuid" \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:00,page-per-vq=on
	mdevctl stop -u "$uuid"

	run passthrough "$round" 10.0.1.2 "vfio-msix.*$pt_bdf" -- \
		-device "vfio-pci,host=$pt_bdf"

	start=$(date +%s.%N)
	# npa_mdev leaves it alone (no driver_override): vhost_vdpa takes it.
	vdpa dev add name vdpa0 mgmtdev "pci/$vdpa_bdf"
	vhost=$(basename /sys/bus/vdpa/devices/vdpa0/vhost-vdpa-*)
	run vhost-vdpa "$round" 10.0.2.2 "vp-vdpa\\[$vdpa_bdf\\]" \
		--setup-start "$start" -- \
		-netdev "vhost-vdpa,id=n0,vhostdev=/dev/$vhost" \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:02,page-per-vq=on
	vdpa dev del vdpa0

	run vhost-net "$round" 10.0.3.2 "$net_virtio-" -- \
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:13
done
