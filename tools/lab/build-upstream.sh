#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the upstream vdpa parents the lab runs npa on, which Debian's kernel
# does not build, out of tree from Debian's own kernel source, into
# build/upstream/ (one folder per module, all against $KVER's headers):
#
#   vp_vdpa.ko        drivers/vdpa/virtio_pci/vp_vdpa.c: any virtio 1.x PCI
#                     function as a vdpa device, DMA through the platform IOMMU
#   vringh.ko         drivers/vhost/vringh.c (CONFIG_VHOST_RING): the host
#                     side of a virtio ring, which vdpa_sim needs
#   vdpa_sim.ko       drivers/vdpa/vdpa_sim/: the vdpa device simulator, with
#   vdpa_sim_net.ko   its own address translation (set_map, or dma_map with
#   vdpa_sim_blk.ko   batch_mapping=0), suspend/resume, get/set_vq_state;
#                     _net loops TX frames back to RX; _blk is a device npa
#                     must refuse (not a NIC)
#
# No build tweak is needed: each file is built as it is upstream, with the
# Kconfig symbols Debian's .config already has.  vringh.c and vdpa_sim.c
# test IS_REACHABLE(CONFIG_VHOST_IOTLB): Debian has VHOST_IOTLB=m, reachable
# from a module, so the IOTLB accessors vdpa_sim uses are built.  The
# modules load in this order: vringh, vdpa_sim, vdpa_sim_net (Module.symvers
# of vringh and vdpa_sim is handed to the later builds).
#
# Prints the folder.  Builds only when a module is missing or was built for
# another kernel (build/upstream/stamp names the one they were built for).
# $KDIR, when set, is the object tree of the kernel to build for instead
# (debug-lab.sh: the debug kernel's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.env"

out=$repo/build/upstream
kdir=${KDIR:-/lib/modules/$KVER/build}
kernel="$(cat "$kdir/include/config/kernel.release") $KPKGVER"
tarball=/usr/src/$KSRCPKG.tar.xz
mods=(vp_vdpa vringh vdpa_sim vdpa_sim_net vdpa_sim_blk)

built() {
	local m
	[ "$(cat "$out/stamp" 2>/dev/null)" = "$kernel" ] || return 1
	for m in "${mods[@]}"; do
		[ -e "$out/$m.ko" ] || return 1
	done
}
if built; then
	echo "$out"
	exit 0
fi

rm -rf "$out"
mkdir -p "$out/src"
# Only the files needed, from the source tarball setup.sh installs.
tar -C "$out/src" --strip-components=1 -xJf "$tarball" \
	"$KSRCPKG/drivers/vdpa/virtio_pci/vp_vdpa.c" \
	"$KSRCPKG/drivers/vhost/vringh.c" \
	"$KSRCPKG/drivers/vdpa/vdpa_sim" >&2

# build NAME "SOURCES" "OBJS" [SYMVERS...]
build() {
	local name=$1 srcs=$2 objs=$3 d=$out/build/$1 s
	shift 3
	mkdir -p "$d"
	for s in $srcs; do
		cp "$out/src/$s" "$d/"
	done
	echo "obj-m := $objs" >"$d/Kbuild"
	make -s -C "$kdir" M="$d" ${*:+KBUILD_EXTRA_SYMBOLS="$*"} modules >&2
	for s in $objs; do
		cp "$d/${s%.o}.ko" "$out/"
	done
}

build vp_vdpa drivers/vdpa/virtio_pci/vp_vdpa.c vp_vdpa.o
build vringh drivers/vhost/vringh.c vringh.o
build vdpa_sim "drivers/vdpa/vdpa_sim/vdpa_sim.c drivers/vdpa/vdpa_sim/vdpa_sim.h \
	drivers/vdpa/vdpa_sim/vdpa_sim_net.c drivers/vdpa/vdpa_sim/vdpa_sim_blk.c" \
	"vdpa_sim.o vdpa_sim_net.o vdpa_sim_blk.o" "$out/build/vringh/Module.symvers"
echo "$kernel" >"$out/stamp"
echo "$out"
