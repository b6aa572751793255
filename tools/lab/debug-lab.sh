#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The debug lab: npa's selftests (their guest tests too), the
# fault-injection tests (selftests/npa_fault.c) and the UAPI fuzzer, in a
# test host running the debug kernel (build-kernel.sh: KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP, kmemleak, failslab and fail_page_alloc), then the
# test host's kernel log and kmemleak are scanned: any report fails, and is
# printed.  The step before every change to drivers/ (docs/lab.md); not
# part of the test command: the kernel's cold build alone takes hours on
# the project's 2 shared cores (docs/debug-findings.md).
#
#   debug-lab.sh [-s FUZZ_SECONDS] [-c CPUS] [-o OUTDIR]
#
# The test host has 2 CPUs unless -c says otherwise (-c 1 if TCG's int3
# flake, docs/lab.md, shows up as an oops).
# npa is built against the debug kernel in a copy of this tree
# (build/debug-tree), so that the .ko files of the tree stay Debian's.
# Exit status 0 only when every test passed and no report came.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
secs=60 out= cpus=2
while getopts s:c:o: opt; do
	case $opt in
	s) secs=$OPTARG ;;
	c) cpus=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
out=${out:-$repo/build/lab/debug-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

step() {
	echo "== $* ($(date +%T))"
}

step "setup"
"$here/setup.sh" || exit 1
step "the debug kernel (cached after the first build)"
kdir=$("$here/build-kernel.sh") || { echo "debug-lab: the kernel did not build"; exit 1; }
echo "debug-lab: kernel $(cat "$kdir/release") in $kdir"
step "QEMU with qemu-patches/ (cached after the first build)"
NPA_QEMU=$("$here/build-qemu.sh") || exit 1
export NPA_QEMU

step "npa, selftests and tools against the debug kernel (W=1: any warning fails)"
tree=$repo/build/debug-tree
rm -rf "$tree"
mkdir -p "$tree"
(cd "$repo" && git ls-files -co --exclude-standard -z |
	cpio -0pdm --quiet "$tree") || exit 1
nice -n 10 make -C "$tree" -s KDIR="$kdir/build" modules selftests tools \
	>"$out/build.log" 2>&1
st=$?
if [ $st != 0 ] || grep -E "warning:|error:" "$out/build.log"; then
	tail -n 30 "$out/build.log"
	echo "debug-lab: the build against the debug kernel failed"
	exit 1
fi
# The upstream parents the selftests' families load, for the debug kernel.
KDIR=$kdir/build "$tree/tools/lab/build-upstream.sh" >"$out/upstream.log" 2>&1 ||
	{ tail -n 30 "$out/upstream.log"; echo "debug-lab: the upstream parents did not build"; exit 1; }

step "the test host on the debug kernel: selftests, fault injection, fuzzer ${secs} s"
# KASAN's shadow takes an eighth of memory, kmemleak its own; everything is
# a few times slower than on Debian's kernel.
NPA_STALL=${NPA_STALL:-300} "$tree/tools/lab/run-host.sh" -K debug -m 6G -c "$cpus" \
	-t $((7200 + secs)) -o "$out" tools/lab/debug-host.sh "$secs"
rc=$?

fail=0 reported=0
[ $rc = 0 ] || { echo "debug-lab: the test host's job failed (exit status $rc)"; fail=1; }
# Any report of the kernel's checkers, from the log the job saved or, if
# the test host died first, from its console.
log=$out/dmesg.txt
[ -s "$log" ] || log=$out/console.log
reports='BUG:|WARNING:|INFO:|Oops|general protection fault|kernel BUG|UBSAN:|KASAN|Kernel panic|kmemleak: .*(leak|disabled|pool empty)|list_(add|del) corruption|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|sleeping function called'
if grep -qE "$reports" "$log"; then
	echo "debug-lab: the test host's kernel reported (from $log):"
	grep -nE -A40 "$reports" "$log" | head -n 200
	reported=1
fi
if [ -s "$out/kmemleak.txt" ]; then
	echo "debug-lab: kmemleak suspects memory leaks ($out/kmemleak.txt):"
	head -n 120 "$out/kmemleak.txt"
	reported=1
elif [ ! -e "$out/kmemleak.txt" ]; then
	echo "debug-lab: kmemleak was not read: the job did not get that far"
	reported=1
fi

taps=("$out/npa_test.tap" "$out/npa_fault.tap" "$out/fuzz.tap")
count() {
	cat "${taps[@]}" 2>/dev/null | grep -cE "$1"
}
skip=$(count '^ok .*# SKIP')
pass=$(($(count '^ok ') - skip))
failed=$(count '^not ok ')
[ "$failed" = 0 ] || fail=1
for t in "${taps[@]}"; do
	[ -s "$t" ] || { echo "debug-lab: no $t"; fail=1; }
done
[ $reported = 0 ] || fail=1
echo "debug-lab output: $out"
echo "debug-lab: $pass passed, $failed failed, $skip skipped;" \
	"kernel reports and kmemleak: $([ $reported = 0 ] && echo none || echo see above)"
exit $fail
