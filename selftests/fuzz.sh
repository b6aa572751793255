#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fuzz the UAPI of an npa mdev inside the lab's test host
# (tools/lab/run-host.sh; docs/lab.md):
#
#   selftests/fuzz.sh [SECONDS [NPA-FUZZ-ARGS...]]
#
# Starts an mdev on VF 1, runs tools/npa/npa-fuzz on it for SECONDS (default
# 20) with frames moving to VF 1's peer meanwhile, then checks that the host
# is unhurt: no warning, oops, lockup or stall in the kernel log, locked and
# pinned memory back to where they were, the mdev still moving frames, and
# the mdev, the VF and npa let go.  NPA-FUZZ-ARGS go to npa-fuzz (e.g.
# -s SEED to replay a run, -x KIND to leave a kind of operation out).  TAP
# goes to stdout and to $NPA_OUT/fuzz.tap.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/lab/lib-host.sh

secs=${1:-20}
shift || true
out=${NPA_OUT:-/tmp}
tap=$out/fuzz.tap
vf=1
ntest=0
fail=0
: >"$tap"

setup_baseline "$vf"
since=$(cut -d' ' -f1 /proc/uptime)
# Follow the kernel log: npa's rate-limited complaints about bad input
# wrap the log buffer within a minute, and a warning would go with it.
dmesg --follow >"$out/fuzz-kmsg.txt" &
follow=$!

say "npa-fuzz for $secs s"
timeout -k 10 $((secs + 120)) tools/npa/npa-fuzz -u "$UUID" -t "$secs" -i "$vf" "$@" \
	2>"$out/fuzz.err" | tee "$out/fuzz.log"
st=${PIPESTATUS[0]}
[ "$st" = 0 ] || echo "# npa-fuzz exited with status $st"
tail -n 5 "$out/fuzz.err" | sed 's/^/# /'
seed=$(sed -n 's/^npa-fuzz: seed //p' "$out/fuzz.log")
grep -q '^npa-fuzz: done' "$out/fuzz.log" || st=1
result "npa-fuzz ran to the end (seed $seed)" $st
grep -q '^npa-fuzz: after closing: VmLck 0 kB, VmPin 0 kB' "$out/fuzz.log"
result "npa-fuzz: nothing locked or pinned once the device is closed" $?

sleep 1
kill "$follow"
wait "$follow" 2>/dev/null
# The run's part of the kernel log, by time.
awk -v since="$since" '{ t = substr($0, 2, index($0, "]") - 2) } t + 0 >= since + 0' \
	"$out/fuzz-kmsg.txt" >"$out/fuzz-dmesg.txt"
rm "$out/fuzz-kmsg.txt"
if grep -qE "$hurt_pattern" "$out/fuzz-dmesg.txt"; then
	grep -E -B5 -A30 "$hurt_pattern" "$out/fuzz-dmesg.txt" | head -80 | sed 's/^/# /'
	st=1
else
	st=0
fi
now=$(hurt_taint)
echo "# taint bits of a hurt kernel: $now (baseline $taint)"
[ "$now" = "$taint" ] || st=1
result "kernel log: no warning, oops, lockup, stall or stack dump (seed $seed)" $st

now=$(mlocked_kb)
echo "# Mlocked $now kB (baseline $mlocked kB)"
[ "$now" = "$mlocked" ]
result "Mlocked back to its baseline" $?
now=$(pinned_pages)
echo "# $now pinned pages (baseline $pinned)"
[ "$now" -le "$pinned" ]
result "pinned pages back to their baseline" $?

say "the mdev still moves frames"
tools/npa/npa-pkt -u "$UUID" -i "$vf" -n 100 both
result "the mdev still moves frames after fuzzing (npa-pkt both)" $?

let_go
exit $fail
