#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: a VF becomes an npa mdev with mdevctl, a userspace
# driver (npa-pkt, playing the VMM) moves frames through it both ways, and
# everything is given back.
set -euo pipefail
. tools/lab/lib-host.sh

vf=$(vf_bdf 0)
uuid=$(cat /proc/sys/kernel/random/uuid)

say "load npa and hand it VF $vf"
tools/npactl load
tools/npactl bind "$vf"

say "mdevctl types"
mdevctl types

say "mdevctl start --uuid $uuid --parent $vf --type npa-net"
mdevctl start --uuid "$uuid" --parent "$vf" --type npa-net
mdevctl list
group=$(basename "$(readlink "/sys/bus/mdev/devices/$uuid/iommu_group")")
echo "the mdev is VFIO group $group: $(ls -l "/dev/vfio/$group")"

say "frames through the VF: npa-pkt drives the mdev's queues from its own memory"
echo "(the VF DMAs straight into npa-pkt's memory through its own IOMMU domain;"
echo " kicks are stores to the mmapped doorbell page; the peer on 127.0.0.1 checks every byte)"
tools/npa/npa-pkt -u "$uuid" -i 0 -k mmap -n 2000 -s 1000 both
grep "npa\[$vf\]" /proc/interrupts

say "mdevctl stop, give the VF back"
mdevctl stop --uuid "$uuid"
tools/npactl unbind "$vf"
tools/npactl unload
say "done"
