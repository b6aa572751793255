#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: what KVM does for a guest's WBINVDs
# (wbinvd-guest.sh) on four VMs, one after the other:
#   no-nic        no device at all
#   npa           -netdev vhost-vfio on an npa mdev (VF 0), as QEMU
#                 defaults: in KVM's VFIO device (kvm-vfio=on)
#   npa-kvm-off   the same with kvm-vfio=off
#   passthrough   vfio-pci assignment of VF 1
#
#   wbinvd-host.sh [N]     N WBINVDs per guest (default 10000)
#
# Records in $NPA_OUT/wbinvd.jsonl, each VM's trace in wbinvd-LABEL.trace.
set -euo pipefail
. tools/lab/lib-host.sh
n=${1:-10000}
modprobe -a kvm_amd vfio-pci
start_mdev 0 >/dev/null
pt_bdf=$(vf_bdf 1)
echo "$pt_bdf" >"/sys/bus/pci/devices/$pt_bdf/driver/unbind"
echo vfio-pci >"/sys/bus/pci/devices/$pt_bdf/driver_override"
echo "$pt_bdf" >/sys/bus/pci/drivers_probe
netdev=vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/$UUID
dev=virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:00,page-per-vq=on
fail=0
echo "wbinvd-host: kvm_amd avic=$(cat /sys/module/kvm_amd/parameters/avic)," \
	"mmio_stale_data: $(cat /sys/devices/system/cpu/vulnerabilities/mmio_stale_data)"
say "no-nic"
tools/lab/wbinvd-guest.sh -n "$n" -l no-nic -- || fail=1
say "npa"
tools/lab/wbinvd-guest.sh -n "$n" -l npa -- -netdev "$netdev" -device "$dev" || fail=1
say "npa-kvm-off"
tools/lab/wbinvd-guest.sh -n "$n" -l npa-kvm-off -- \
	-netdev "$netdev,kvm-vfio=off" -device "$dev" || fail=1
say "passthrough"
tools/lab/wbinvd-guest.sh -n "$n" -l passthrough -- -device "vfio-pci,host=$pt_bdf" ||
	fail=1
mdevctl stop -u "$UUID"
exit $fail
