#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The lab demo: install, build (npa, and QEMU with qemu-patches/), boot the
# test host and, inside it, hand a VF to npa, create its mdev with mdevctl,
# and run a guest on it with -netdev vhost-vfio (tools/lab/demo-host.sh).
# A step that fails stops the demo, naming the step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
step=
trap 'echo "demo: FAILED at step \"$step\""' ERR
next() {
	step=$*
	echo "== $step ($(date +%T))"
}

next setup
tools/lab/setup.sh
next build
make -s modules selftests tools
next "QEMU with qemu-patches/ (cached after the first build)"
NPA_QEMU=$(tools/lab/build-qemu.sh)
export NPA_QEMU
next "the test host: npa, mdevctl, npa-pkt and a guest on -netdev vhost-vfio"
tools/lab/run-host.sh -m 4G -o "build/lab/demo-$(date +%Y%m%d-%H%M%S)" tools/lab/demo-host.sh
