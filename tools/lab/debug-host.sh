#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host on the debug kernel (debug-lab.sh): npa's selftests
# on its own parent (a guest and a migration too), the fault-injection
# tests, the UAPI fuzzer for SECONDS, a teardown cycle of each kind, then
# npa unloaded and kmemleak asked.  Each part's TAP is in
# $NPA_OUT (npa_test.tap, npa_fault.tap, fuzz.tap), kmemleak's report in
# $NPA_OUT/kmemleak.txt; debug-lab.sh scans those and the kernel log.
#
#   debug-host.sh [SECONDS]
set -uo pipefail
. tools/lab/lib-host.sh

secs=${1:-60}
leak=/sys/kernel/debug/kmemleak
st=0

[ -e "$leak" ] || { echo "debug-host: no $leak: not the debug kernel?"; exit 1; }
say "kernel $(uname -r): kmemleak forgets what booting left"
# Boot-time objects it still suspects are not npa's: start from a clean
# slate, so that any report at the end is the tests'.
echo scan >"$leak"
echo clear >"$leak"

# As run-host.sh -K debug's detectors: no hung task report below 10
# minutes, which only a starved vCPU or a real hang reaches.
echo 600 >/proc/sys/kernel/hung_task_timeout_secs

# The selftests on npa's own parent: the debug kernel under TCG runs a
# test several times slower than Debian's (about a minute each), and the
# other families' variants exercise the parents' code more than npa's.
# Also left out: the tests that need another test host (noiommu,
# nointremap) and the slowest guest tests (the guest itself boots several
# times slower).
sel=(-V vp_vdpa -V vdpa_sim -V vdpa_sim_map -V vhost_net
	-V vp_vdpa_kick_eventfd_1000 -V vp_vdpa_doorbell_mmap_64 -V vp_vdpa_doorbell_write_1400
	-V vdpa_sim_kick_eventfd_1000 -V vdpa_sim_doorbell_mmap_64 -V vdpa_sim_doorbell_write_1400
	-V vdpa_sim_map_kick_eventfd_1000 -V vdpa_sim_map_doorbell_mmap_64
	-V vdpa_sim_map_doorbell_write_1400
	-V length_0 -V length_4g -V avail_index_far_ahead
	-F noiommu -F nointremap
	-T wbinvd_flushes_follow_kvm_vfio -T viommu_refused -T bad_netdev_options
	-T stop_cont_then_reset -T stop_cont_under_traffic)
say "selftests (npa_vf; npa_test ${sel[*]})"
selftests/run.sh "${sel[@]}" || st=1

say "fault injection: bind, mdev create, open, SET_MEM_TABLE, SET_IRQS"
tools/npactl load || st=1
./selftests/npa_fault 2>&1 | tee "$NPA_OUT/npa_fault.tap"
[ "${PIPESTATUS[0]}" = 0 ] || st=1

say "UAPI fuzzer, $secs s"
selftests/fuzz.sh "$secs" || st=1

say "teardown under traffic, one cycle of each kind"
selftests/teardown.sh 1 || st=1

say "npa given back and unloaded"
for bdf in /sys/bus/pci/drivers/npa/0000:*; do
	[ -e "$bdf" ] && tools/npactl unbind "$(basename "$bdf")"
done
tools/npactl unload || st=1

say "kmemleak"
# An object is suspected once unreferenced for 5 s and seen by two scans.
sleep 6
echo scan >"$leak"
echo scan >"$leak"
cat "$leak" >"$NPA_OUT/kmemleak.txt"
if [ -s "$NPA_OUT/kmemleak.txt" ]; then
	echo "debug-host: kmemleak suspects $(grep -c '^unreferenced object' "$NPA_OUT/kmemleak.txt") objects"
	st=1
else
	echo "debug-host: kmemleak: nothing"
fi
exit $st
