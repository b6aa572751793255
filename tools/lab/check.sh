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

step "build (W=1: any warning fails)"
mkdir -p build
make -s modules selftests >build/build.log 2>&1 || fail=1
if grep -E "warning:|error:" build/build.log; then
	echo "build: FAILED"
	fail=1
fi

step "checkpatch --strict"
make -s checkpatch || fail=1

step "selftests in the lab test host"
out=$repo/build/lab/check-$(date +%Y%m%d-%H%M%S)
tools/lab/run-host.sh -o "$out" selftests/run.sh
rc=$?
tap=$out/npa_test.tap
pass=$(grep -c '^ok ' "$tap" 2>/dev/null)
failed=$(grep -c '^not ok ' "$tap" 2>/dev/null)
skip=$(grep -c '^ok .*# SKIP' "$tap" 2>/dev/null)
pass=$((pass - skip))
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$pass" -gt 0 ] || fail=1
if grep -qE "WARNING:|BUG:|Oops" "$out/dmesg.txt" 2>/dev/null; then
	echo "the test host's kernel log has a WARNING/BUG/Oops:"
	grep -E -A20 "WARNING:|BUG:|Oops" "$out/dmesg.txt" | head -60
	failed=$((failed + 1))
	fail=1
fi
echo "lab output: $out"
echo "npa: $pass passed, $failed failed, $skip skipped"
exit $fail
