#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every npa test: install what is missing, build with W=1, checkpatch, then
# the selftests inside a fresh lab test host.  Exit status 0 only when all
# of it passed.  A step that later steps need (setup, build, QEMU) stops
# the run when it fails, naming it; the checks of this script itself are
# TAP lines in build/check.tap, counted with the lab's.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
mkdir -p build
fail=0 nstep=0
tap=build/check.tap
: >"$tap"

step() {
	echo "== $* ($(date +%T))"
}

# result NAME STATUS: one TAP line for a check of this script.
result() {
	nstep=$((nstep + 1))
	if [ "$2" = 0 ]; then
		echo "ok $nstep - $1" | tee -a "$tap"
	else
		echo "not ok $nstep - $1" | tee -a "$tap"
		fail=1
	fi
}

# needed NAME STATUS: as result, and a failure ends the run.
needed() {
	result "$1" "$2"
	[ "$2" = 0 ] && return
	echo "check: stopping: '$1' failed, and the steps after it need it"
	echo "npa: $(grep -c '^ok ' "$tap") passed, 1 failed, 0 skipped"
	exit 1
}

step "setup"
tools/lab/setup.sh
needed "setup: the packages the build and the lab need" $?

step "build (W=1 and sparse: any warning fails; the upstream parents)"
make -s modules selftests tools >build/build.log 2>&1
st=$?
# The upstream parents the selftests run npa on too; not npa's code, so
# outside the W=1 and sparse check, but a failed build fails the step.
tools/lab/build-upstream.sh >>build/upstream.log 2>&1 || {
	st=1
	tail -n 30 build/upstream.log
}
make -s sparse >>build/build.log 2>&1 || st=1
if grep -E "warning:|error:" build/build.log; then
	st=1
fi
[ $st = 0 ] || tail -n 30 build/build.log
needed "build: modules, selftests and tools, W=1 and sparse, no warning" $st

step "checkpatch --strict"
make -s checkpatch
result "checkpatch --strict: clean" $?

step "QEMU with qemu-patches/ (cached after the first build)"
NPA_QEMU=$(tools/lab/build-qemu.sh)
st=$?
[ -x "$NPA_QEMU" ] || st=1
needed "QEMU 10.0 with qemu-patches/ builds" $st
export NPA_QEMU

# What a machine without the cache goes through: each cache-creating step
# once against a path whose parents do not exist yet (QEMU up to its
# compiler: the folder, dependencies, source and patches).
step "a new machine: the cache-creating steps against a new cache path"
fresh=$(mktemp -d /tmp/npa-fresh.XXXX)
NPA_CACHE=$fresh/no/such/cache tools/lab/mkinitramfs.sh host >/dev/null &&
	NPA_CACHE=$fresh/no/such/cache tools/lab/build-qemu.sh --prepare
result "a new cache path: the test host's initramfs and QEMU's build prepare" $?
rm -rf "$fresh"

# On four vdpa parent families (docs/parents.md): some 160 tests, 41
# minutes on 2 cores shared with other lab runs.
step "selftests in the lab test host"
stamp=$(date +%Y%m%d-%H%M%S)
out=$repo/build/lab/check-$stamp
# 80 minutes: a busy machine has taken the suite past run-host.sh's
# default 15 minutes, and the migration tests alone past half an hour; a
# test host that stops making progress is ended long before (NPA_STALL).
tools/lab/run-host.sh -m 4G -t 4800 -o "$out" selftests/run.sh -F noiommu -F nointremap
result "selftests: the test host ran them to the end" $?

step "selftests in a test host without an IOMMU"
tools/lab/run-host.sh -I -o "$out-noiommu" selftests/run.sh -f noiommu
result "selftests without an IOMMU: the test host ran them to the end" $?

step "selftests in a test host whose IOMMU does not remap interrupts"
tools/lab/run-host.sh -R -o "$out-nointremap" selftests/run.sh -f nointremap
result "selftests without interrupt remapping: the test host ran them to the end" $?

# A short fuzz of the UAPI, every kind of request (huge memory regions
# too: docs/fuzz-findings.md, 1, fixed), on two vCPUs: requests race
# interrupts and teardown on the other CPU.
step "UAPI fuzzer, short run"
tools/lab/run-host.sh -c 2 -m 4G -o "$out-fuzz" selftests/fuzz.sh 20
result "fuzz: the test host ran it to the end" $?

# Every way an mdev is taken away, under traffic, twice each (make
# teardown runs 50 each).
step "teardown under traffic, short run"
tools/lab/run-host.sh -m 3G -o "$out-teardown" selftests/teardown.sh 2
result "teardown: the test host ran it to the end" $?

# The guest migrates from one test host to another and back (the
# selftests' migrate.* run both QEMUs in one test host).
step "live migration between two test hosts"
tools/lab/migrate-two-hosts.sh -o "$out-two-hosts"
result "two hosts: the migration test ran to the end" $?

step "benchmark, short variant: every data path moves frames"
tools/lab/bench.sh --quick 2>&1 | tee build/bench-quick.log
bench=$(sed -n 's/^bench: output in //p' build/bench-quick.log)
[ "$(grep -c '^ok ' "$bench/bench.tap" 2>/dev/null)" = 4 ] || fail=1
# A guest that failed, retried or not: what it printed last.
for f in "$bench"/bench-*-try-*.log $(sed -n \
	's/^not ok [0-9]* - bench: \([a-z-]*\) .*/\1/p' "$bench/bench.tap" 2>/dev/null |
	sed "s|.*|$bench/bench-&-1.log|"); do
	[ -e "$f" ] || continue
	echo "--- a failed attempt, the last lines of $f"
	tail -n 40 "$f"
done

count() {
	cat "$tap" "$out/npa_test.tap" "$out-noiommu/npa_test.tap" \
		"$out-nointremap/npa_test.tap" \
		"$out-fuzz/fuzz.tap" "$out-teardown/teardown.tap" \
		"$out-two-hosts/two-hosts.tap" "$bench/bench.tap" 2>/dev/null |
		grep -cE "$1"
}
pass=$(count '^ok ')
failed=$(count '^not ok ')
skip=$(count '^ok .*# SKIP')
pass=$((pass - skip))
[ "$pass" -gt 0 ] || fail=1
for d in "$out" "$out-noiommu" "$out-nointremap" "$out-fuzz" "$out-teardown" \
	"$out-two-hosts/a" "$out-two-hosts/b"; do
	if grep -qE "WARNING:|BUG:|Oops" "$d/dmesg.txt" 2>/dev/null; then
		echo "the test host's kernel log has a WARNING/BUG/Oops ($d/dmesg.txt):"
		grep -E -A20 "WARNING:|BUG:|Oops" "$d/dmesg.txt" | head -60
		failed=$((failed + 1))
		fail=1
	fi
done
echo "lab output: $out"
echo "npa: $pass passed, $failed failed, $skip skipped"
exit $fail
