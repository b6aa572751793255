#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Measure what KVM does for a guest's WBINVDs with an npa mdev in KVM's
# VFIO device and without it, against a VM without a device and vfio-pci
# passthrough (wbinvd-host.sh, in one lab run), and print the table
# docs/performance.md shows.  Counts are the evidence: the guest is nested
# KVM inside a TCG test host, so its times mean little.
#
#   wbinvd.sh [N]           N WBINVDs per guest (default 10000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
n=${1:-10000}
make -s modules tools
NPA_QEMU=$(tools/lab/build-qemu.sh)
export NPA_QEMU
out=$repo/build/lab/wbinvd-$(date +%Y%m%d-%H%M%S)
echo "wbinvd: output in $out"
st=0
tools/lab/run-host.sh -m 4G -t 1800 -o "$out" tools/lab/wbinvd-host.sh "$n" || st=$?
/usr/bin/python3 - "$out/wbinvd.jsonl" <<'PY'
import json, sys
cols = ["label", "n", "exits", "emulated", "flushes", "noncoherent",
        "assigned", "registered", "assignments", "bypass", "loop_ms"]
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for line in open(sys.argv[1]):
    r = json.loads(line)
    print("| " + " | ".join("?" if r[c] is None else str(r[c]) for c in cols) + " |")
PY
exit $st
