#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The vdpa parent families the selftests run npa on, inside the lab's test
# host.  Lab slot N (0-3) of a family is one vdpa device handed to npa:
#
#   npa_vf        npa's own parent on VF N (npactl bind)
#   vp_vdpa       upstream vp_vdpa on VF N (vdpa dev add pci/BDF, npactl
#                 attach): DMA through the platform IOMMU, like npa_vf
#   vdpa_sim      upstream vdpa_sim_net device sim-N (npactl attach), its
#                 own address translation through dma_map/dma_unmap
#                 (vdpa_sim batch_mapping=0); it loops TX frames back to RX
#   vdpa_sim_map  the same through set_map alone (batch_mapping=1), as
#                 mlx5_vdpa translates
#
#   family.sh up FAMILY N [--mac MAC] [--mtu MTU]
#                         make slot N's vdpa device if it is missing (with
#                         that MAC and MTU) and hand it to npa; print its
#                         name, the mdev parent
#   family.sh take FAMILY N   take slot N's device away from npa, as an
#                         admin would (npactl unbind BDF, or npactl detach)
#   family.sh down FAMILY N   take it away and delete it
#   family.sh mgmtdev FAMILY N   the vdpa management device of slot N
#   family.sh load FAMILY N   load the family's parent, and nothing else
#
# Both vdpa_sim families load vdpa_sim with use_va=0 (npa maps pinned
# pages by physical address); switching between them reloads vdpa_sim.
# The upstream modules come from build/upstream (build-upstream.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lab/lib-host.sh
up=build/upstream

die() {
	echo "family: $*" >&2
	exit 1
}

# load_sim BATCH_MAPPING: vdpa_sim_net loaded with it, and use_va=0.
load_sim() {
	local have n
	have=$(cat /sys/module/vdpa_sim/parameters/batch_mapping 2>/dev/null || true)
	[ "$have" = "$1" ] && [ -d /sys/module/vdpa_sim_net ] && return 0
	if [ -n "$have" ]; then
		for n in $(vdpa dev show | sed -n 's/^\([^:]*\): .* mgmtdev vdpasim_.*/\1/p'); do
			vdpa dev del "$n"
		done
		for n in vdpa_sim_net vdpa_sim_blk vdpa_sim; do
			[ ! -d "/sys/module/$n" ] || rmmod "$n"
		done
	fi
	modprobe -a vdpa vhost_iotlb
	[ -d /sys/module/vringh ] || insmod "$up/vringh.ko"
	insmod "$up/vdpa_sim.ko" batch_mapping="$1" use_va=0
	insmod "$up/vdpa_sim_net.ko"
	insmod "$up/vdpa_sim_blk.ko"
}

# vp_vdpa_on BDF: the VF at BDF driven by vp_vdpa.
vp_vdpa_on() {
	local bdf=$1 d=/sys/bus/pci/devices/$1
	[ -d /sys/module/vp_vdpa ] || insmod "$up/vp_vdpa.ko"
	[ "$(basename "$(readlink "$d/driver" 2>/dev/null)")" = vp-vdpa ] &&
		return 0
	[ "$(basename "$(readlink "$d/driver" 2>/dev/null)")" != npa ] ||
		tools/npactl unbind "$bdf" >/dev/null
	[ ! -e "$d/driver" ] || echo "$bdf" >"$d/driver/unbind"
	echo vp-vdpa >"$d/driver_override"
	echo "$bdf" >/sys/bus/pci/drivers_probe
}

fam=${2:-}
slot=${3:-}
[ -n "$fam" ] && [ -n "$slot" ] || die "usage: family.sh up|take|down|mgmtdev|load FAMILY N"
case $fam in
npa_vf) bdf=$(vf_bdf "$slot"); mgmt=pci/$bdf ;;
vp_vdpa) bdf=$(vf_bdf "$slot"); name=vp-$slot mgmt=pci/$bdf ;;
vdpa_sim | vdpa_sim_map) name=sim-$slot mgmt=vdpasim_net ;;
*) die "no family $fam" ;;
esac

# The family's parent loaded, and for vp_vdpa, the VF given to it.
load() {
	case $fam in
	vp_vdpa) vp_vdpa_on "$bdf" ;;
	vdpa_sim) load_sim 0 ;;
	vdpa_sim_map) load_sim 1 ;;
	esac
}

case $1 in
mgmtdev)
	echo "$mgmt"
	;;
load)
	load
	;;
take)
	if [ "$fam" = npa_vf ]; then
		tools/npactl unbind "$bdf"
	else
		tools/npactl detach "$name"
	fi
	;;
down)
	if [ "$fam" = npa_vf ]; then
		[ ! -e "/sys/bus/pci/drivers/npa/$bdf" ] || tools/npactl unbind "$bdf"
	elif [ -e "/sys/bus/vdpa/devices/$name" ]; then
		[ ! -e "/sys/bus/vdpa/drivers/npa/$name" ] || tools/npactl detach "$name"
		vdpa dev del "$name"
	fi
	;;
up)
	shift 3
	if [ "$fam" = npa_vf ]; then
		tools/npactl bind "$bdf" "$@" >&2
		tools/npactl parent "$bdf"
		exit
	fi
	opts=()
	while [ $# -gt 0 ]; do
		case $1 in
		--mac) opts+=(mac "$2") ;;
		--mtu) opts+=(mtu "$2") ;;
		*) die "up: unknown option $1" ;;
		esac
		shift 2
	done
	load
	# The simulator's MAC as the lab gives VF N.
	[ "$fam" = vp_vdpa ] || [ ${#opts[@]} -gt 0 ] ||
		opts=(mac "52:54:00:4e:50:0$slot")
	[ -e "/sys/bus/vdpa/devices/$name" ] ||
		vdpa dev add name "$name" mgmtdev "$mgmt" "${opts[@]}"
	tools/npactl attach "$name" >&2
	echo "$name"
	;;
*)
	die "usage: family.sh up|take|down|mgmtdev|load FAMILY N"
	;;
esac
