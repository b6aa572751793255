#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: a VF becomes an npa mdev with mdevctl, and back.
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

say "mdevctl stop, give the VF back"
mdevctl stop --uuid "$uuid"
tools/npactl unbind "$vf"
tools/npactl unload
say "done"
