#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The migration benchmark, in one lab run (bench-migrate-host.sh, a test
# host with five VFs): live migration under traffic with npa and with
# vhost-vdpa x-svq=on (QEMU's shadow virtqueue) on vp_vdpa, and the guest's
# throughput with npa in direct and relay mode next to vhost-vdpa (without
# and with x-svq=on) and passthrough; then the reports (bench-report.py,
# bench-migrate-report.py) in results/bench-migrate-<date>/.
#
#   bench-migrate.sh        NPA_BENCH_ROUNDS throughput rounds (3),
#                           NPA_BENCH_SECS a phase (3), the first
#                           NPA_BENCH_MIGRATIONS rounds (2) with both
#                           migrations, NPA_BENCH_STREAM_SECS (30) a
#                           stream phase
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
rounds=${NPA_BENCH_ROUNDS:-3} secs=${NPA_BENCH_SECS:-3}
migrations=${NPA_BENCH_MIGRATIONS:-2} ssecs=${NPA_BENCH_STREAM_SECS:-30}
paths=npa,npa-relay,vhost-vdpa,vhost-vdpa-svq,passthrough

. tools/lab/lib-bench.sh
bench_prepare

stamp=$(date +%Y%m%d-%H%M%S)
out=$repo/build/lab/bench-migrate-$stamp
results=results/bench-migrate-$stamp
echo "bench-migrate: output in $out"
echo "== $rounds round(s) of ${paths//,/, } (${secs} s phases);" \
	"migrations in $migrations of them (${ssecs} s stream phases)"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
tools/lab/run-host.sh -n 5 -m 4G \
	-t $((600 + rounds * 5 * (100 + 8 * secs) + migrations * 2 * (3 * ssecs + 200))) \
	-o "$out" tools/lab/bench-migrate-host.sh "$rounds" "$secs" \
	"$migrations" "$ssecs" "$upstream/vp_vdpa.ko" || rc=$?
load1=$(cut -d' ' -f1-3 /proc/loadavg)
machine="$(nproc) cores, $(uname -m), QEMU/TCG test host, KVM guest; load average $load0 before, $load1 after"
date=$(date -u '+%Y-%m-%d %H:%M UTC')
/usr/bin/python3 tools/lab/bench-report.py --records "$out/bench.jsonl" \
	--results "$results" --date "$date" --machine "$machine" \
	--rounds "$rounds" --secs "$secs" --paths "$paths" | tee "$out/bench.md"
/usr/bin/python3 tools/lab/bench-migrate-report.py --records "$out/migrate.jsonl" \
	--bench "$out/bench.jsonl" --svq-features "$out/svq-features.txt" \
	--console "$out/console.log" --results "$results" --date "$date" \
	--machine "$machine" --rounds "$migrations" | tee "$out/migrate.md"
cp "$out/bench.jsonl" "$out/migrate.jsonl" "$results/"
echo "bench-migrate: results in $results (test host exit status $rc)"
exit $rc
