#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: a VF becomes a vdpa device on npa's vdpa parent,
# handed to npa_mdev, and an npa mdev on it is started with mdevctl, a userspace
# driver (npa-pkt) moves frames through it both ways, then a guest with an
# unmodified virtio_net driver runs on it through QEMU's -netdev vhost-vfio
# ($NPA_QEMU), and everything is given back.
set -euo pipefail
. tools/lab/lib-host.sh

vf=$(vf_bdf 0)
uuid=$(cat /proc/sys/kernel/random/uuid)

say "load npa and hand it VF $vf"
tools/npactl load
tools/npactl bind "$vf" --mac 52:54:00:4e:50:00
parent=$(tools/npactl parent "$vf")
vdpa mgmtdev show "pci/$vf"
vdpa dev show "$parent"
vdpa dev config show "$parent"
echo "vdpa device $parent is $(basename "$(readlink "/sys/bus/vdpa/devices/$parent/driver")")'s"

say "mdevctl types"
mdevctl types

say "mdevctl start --uuid $uuid --parent $parent --type npa-net"
mdevctl start --uuid "$uuid" --parent "$parent" --type npa-net
mdevctl list
group=$(basename "$(readlink "/sys/bus/mdev/devices/$uuid/iommu_group")")
echo "the mdev is VFIO group $group: $(ls -l "/dev/vfio/$group")"

say "frames through the VF: npa-pkt drives the mdev's queues from its own memory"
echo "(the VF DMAs straight into npa-pkt's memory through its own IOMMU domain;"
echo " kicks are stores to the mmapped doorbell page; the peer on 127.0.0.1 checks every byte)"
tools/npa/npa-pkt -u "$uuid" -i 0 -k mmap -n 2000 -s 1000 both
grep "npa\[$vf\]" /proc/interrupts

say "a guest on the mdev: QEMU -netdev vhost-vfio, KVM, stock virtio_net"
before=$(grep "npa\[$vf\]-[01]" /proc/interrupts | awk '{ n += $2 + $3 } END { print n }')
start=$SECONDS
tools/lab/run-guest.sh -q "$NPA_QEMU" -i 10.0.0.2 -n 5000 -s 1400 -- \
	-netdev "vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/$uuid" \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:00,page-per-vq=on |
	tee "$NPA_OUT/demo-guest.log"
after=$(grep "npa\[$vf\]-[01]" /proc/interrupts | awk '{ n += $2 + $3 } END { print n }')

say "summary"
grep -q "GUEST-RESULT: PASS" "$NPA_OUT/demo-guest.log"
echo "guest on npa: ping ok, 5000 datagrams of 1400 bytes each way (14 MB), every byte checked;"
grep -E "^udp (tx|rx): [0-9]+ (datagrams|of)" "$NPA_OUT/demo-guest.log" | sed 's/^/  /'
echo "  VF queue interrupts during the guest's run: $((after - before)); guest run $((SECONDS - start)) s"

say "mdevctl stop, give the VF back"
mdevctl stop --uuid "$uuid"
tools/npactl unbind "$vf"
tools/npactl unload
say "done"
