#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark: npa side by side with vfio-pci passthrough, vhost-vdpa and
# vhost-net, in one lab run (bench-host.sh), then the report
# (bench-report.py) in results/bench-<date>/.
#
#   bench.sh [--quick]      --quick: one round of 1 s phases, and a check
#                           that every path moved frames (for the tests)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
rounds=${NPA_BENCH_ROUNDS:-5} secs=${NPA_BENCH_SECS:-3} check= retries=0
if [ "${1:-}" = --quick ]; then
	# A guest that fails (the nested lab guest has crashed, rarely) gets
	# one more try; the report names every failed attempt.
	rounds=1 secs=1 check=--check retries=1
fi

. tools/lab/lib-bench.sh
# The upstream anchor: vp_vdpa, which Debian does not build, from its source.
bench_prepare ${check:+--no-plots}

stamp=$(date +%Y%m%d-%H%M%S)
out=$repo/build/lab/bench-$stamp
echo "bench: output in $out"
echo "== $rounds round(s) of npa, passthrough, vhost-vdpa, vhost-net (${secs} s phases)"
tools/lab/run-host.sh -m 4G -t $((600 + rounds * 400)) -o "$out" \
	tools/lab/bench-host.sh "$rounds" "$secs" "$upstream/vp_vdpa.ko" \
	"$retries"
results=results/bench-$stamp
[ -z "$check" ] || results=$out/results
/usr/bin/python3 tools/lab/bench-report.py --records "$out/bench.jsonl" \
	--results "$results" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--machine "$(nproc) cores, $(uname -m), QEMU/TCG test host, KVM guest" \
	--rounds "$rounds" --secs "$secs" $check | tee "$out/bench.tap"
