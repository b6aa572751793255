#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Live migration between two test hosts on this machine (issue 11's
# setup): host a and host b, each with its own VFs, all on one segment
# (one peer.py for both hosts' wires), linked to each other by a wire of
# their own that carries the migration stream.  The lab guest, its NIC an
# npa mdev on host a's VF 3, migrates to an npa mdev on host b's VF 3 and
# back while numbered datagrams flow both ways (migrate-host.sh,
# migrate-guest.sh -r).
#
#   migrate-two-hosts.sh [-o OUTDIR] [-s SECONDS]
#
# SECONDS: each stream phase (default 60: the link between the test hosts
# carries about 10 MB/s, a migration takes 25 s).
#
# TAP lines to stdout and OUTDIR/two-hosts.tap; each host's output in
# OUTDIR/a.log, OUTDIR/b.log, its test host's files in OUTDIR/a, OUTDIR/b.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib-host.sh"
out= secs=60
while getopts o:s: opt; do
	case $opt in
	o) out=$OPTARG ;;
	s) secs=$OPTARG ;;
	*) exit 2 ;;
	esac
done
out=${out:-$repo/build/lab/two-hosts-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out/a" "$out/b"
out=$(cd "$out" && pwd)
base=${NPA_PORTBASE:-24000}
tap=$out/two-hosts.tap
: >"$tap"
ntest=0
fail=0

# Host a's VFs are the peer's wires 0-3, host b's (its ports 4 higher)
# wires 4-7; the hosts' link is UDP between ports base+60 and base+61.
python3 "$here/peer.py" --base "$base" --wires 8 --stats "$out/peer.json" \
	>"$out/peer.log" 2>&1 &
peer=$!
trap 'kill $peer 2>/dev/null; wait $peer 2>/dev/null' EXIT
echo "two-hosts: booting test hosts a and b, output in $out"
NPA_PORTBASE=$base "$here/run-host.sh" -P -L $((base + 60)):$((base + 61)) \
	-t 1800 -o "$out/a" tools/lab/migrate-host.sh a "$secs" >"$out/a.log" 2>&1 &
a=$!
NPA_PORTBASE=$((base + 4)) "$here/run-host.sh" -P -L $((base + 61)):$((base + 60)) \
	-t 1800 -o "$out/b" tools/lab/migrate-host.sh b "$secs" >"$out/b.log" 2>&1 &
b=$!
tail -n +1 -f "$out/a.log" --pid=$a | grep --line-buffered -E '^(migrate|[ABC]: (udp|GUEST|STREAM-BEGIN))' &
wait $a
sta=$?
wait $b
stb=$?
grep -E '^migrate-host' "$out/b.log"

for m in "A->B" "B->C"; do
	grep -q "^migrate: $m completed" "$out/a.log"
	result "two hosts: migration $m completed ($(sed -n "s/^migrate: $m completed: //p" "$out/a.log"))" $?
done
grep '[ABC]: phase [0-9]: udp stream' "$out/a.log" | sed 's/^/# /' | tee -a "$tap"
[ $sta = 0 ] && grep -q "^C: GUEST-RESULT: PASS" "$out/a.log"
result "two hosts: the guest passed, no datagram duplicated or corrupt either way" $?
[ $stb = 0 ]
result "two hosts: host b's job ended well" $?
echo "1..$ntest" | tee -a "$tap"
exit $fail
