#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every npa test: install what is missing, build with W=1, checkpatch, then
# the selftests inside a fresh lab test host.  Exit status 0 only when all
# of it passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
fail=0

step() {
	echo "== $* ($(date +%T))"
}

step "setup"
tools/lab/setup.sh || exit 1

step "build (W=1 and sparse: any warning fails)"
mkdir -p build
make -s modules selftests tools >build/build.log 2>&1 || fail=1
make -s sparse >>build/build.log 2>&1 || fail=1
if grep -E "warning:|error:" build/build.log; then
	echo "build: FAILED"
	fail=1
fi

step "checkpatch --strict"
make -s checkpatch || fail=1

step "QEMU with qemu-patches/ (cached after the first build)"
NPA_QEMU=$(tools/lab/build-qemu.sh) || fail=1
export NPA_QEMU

step "selftests in the lab test host"
stamp=$(date +%Y%m%d-%H%M%S)
out=$repo/build/lab/check-$stamp
tools/lab/run-host.sh -m 4G -o "$out" selftests/run.sh -F noiommu || fail=1

step "selftests in a test host without an IOMMU"
tools/lab/run-host.sh -I -o "$out-noiommu" selftests/run.sh -f noiommu || fail=1

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
	cat "$out/npa_test.tap" "$out-noiommu/npa_test.tap" \
		"$bench/bench.tap" 2>/dev/null | grep -cE "$1"
}
pass=$(count '^ok ')
failed=$(count '^not ok ')
skip=$(count '^ok .*# SKIP')
pass=$((pass - skip))
[ "$pass" -gt 0 ] || fail=1
for d in "$out" "$out-noiommu"; do
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
