#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside one of two test hosts on one segment (migrate-two-hosts.sh): the
# lab guest migrates from host a to host b and back, as
# migrate-guest.sh -r does, with an npa mdev on VF 3 of each host.
#
#   migrate-host.sh a|b [SECONDS]
#
# Host a (192.168.77.1 on the hosts' link, NPA_LINK) boots the guest and
# drives the migrations; host b (192.168.77.2) starts the guest's second
# QEMU, listening for the migration, its monitor and console served on
# the link (ports 4444, 5555, 5556), and waits until it has gone.
# SECONDS: each stream phase (default 20).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/lab
. "$here/versions.env"
. "$here/lib-host.sh"

side=${1:?usage: migrate-host.sh a|b [SECONDS]}
secs=${2:-20}
case $side in
a) me=192.168.77.1 other=192.168.77.2 ;;
b) me=192.168.77.2 other=192.168.77.1 ;;
*) echo "migrate-host: a or b" >&2; exit 2 ;;
esac

modprobe virtio_net
link=$(ls /sys/bus/pci/devices/"$NPA_LINK"/virtio*/net)
ip addr add "$me/24" dev "$link"
ip link set "$link" up
start_mdev 3
echo "migrate-host: $side is $me on $link; its mdev $UUID on VF 3 ($BDF)"
nic="-netdev vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/$UUID
-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:03,page-per-vq=on,rx_queue_size=256,tx_queue_size=256"

if [ "$side" = a ]; then
	exec "$here/migrate-guest.sh" -q "$NPA_QEMU" -i 10.0.3.2 -s "$secs" \
		-t 1200 -a "$nic" -r "$other" -l "$me"
fi

. "$here/lib-guest.sh"
guest_serial="tcp:$me:5556,server=on,wait=off"
# shellcheck disable=SC2086 # NIC is a list of QEMU arguments
guest_qemu 1200 "$NPA_QEMU" "$NPA_OUT/b-qemu.log" "$me:5555" \
	"$(guest_stream_cmdline 10.0.3.2 "$secs")" -no-reboot $nic \
	-incoming "tcp:$me:4444"
echo "migrate-host: the guest's QEMU listens for the migration on $me:4444"
wait $! || true
echo "migrate-host: the guest's QEMU has gone"
cat "$NPA_OUT/b-qemu.log"
