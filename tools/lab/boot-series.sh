#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Evidence for the test host's VMM: boot the test host ROUNDS times under
# each VMM given, alternating, each running CMD; with -l, one core stays
# busy with a CPU-bound job meanwhile.  Prints one line a boot and a
# summary a VMM (passed, failed, stalled, timed out; wall seconds).
#
#   boot-series.sh [-n ROUNDS] [-l] [-t SECONDS] VMM... -- CMD [ARG...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=5 load=0 tmo=600
while getopts n:lt: opt; do
	case $opt in
	n) rounds=$OPTARG ;;
	l) load=1 ;;
	t) tmo=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
vmms=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	vmms+=("$1")
	shift
done
[ $# -ge 2 ] && [ ${#vmms[@]} -ge 1 ] ||
	{ echo "usage: $0 [-n ROUNDS] [-l] [-t SECONDS] VMM... -- CMD [ARG...]" >&2; exit 2; }
shift

# One QEMU for the guests throughout, even if the tree changes meanwhile.
NPA_QEMU=${NPA_QEMU:-$("$here/build-qemu.sh")}
export NPA_QEMU
out=$repo/build/lab/series-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
hog=
if [ $load = 1 ]; then
	sh -c 'while :; do :; done' &
	hog=$!
	trap 'kill $hog' EXIT
fi
log=$out/series.txt
for ((r = 1; r <= rounds; r++)); do
	for i in "${!vmms[@]}"; do
		vmm=${vmms[$i]}
		dir=$out/vmm$i-round$r
		start=$SECONDS
		rc=0
		NPA_HOST_QEMU=$vmm "$here/run-host.sh" -t "$tmo" -o "$dir" "$@" \
			>"$dir.log" 2>&1 || rc=$?
		verdict=passed
		[ $rc = 0 ] || verdict="failed ($rc)"
		[ ! -e "$dir/stalled" ] || verdict=stalled
		[ $rc != 124 ] || [ -e "$dir/stalled" ] || verdict="timed out"
		echo "$("$vmm" --version | head -n 1 | awk '{ print $4 }') round $r: $verdict in $((SECONDS - start)) s" |
			tee -a "$log"
	done
done
echo "series: output in $out"
for vmm in "${vmms[@]}"; do
	v=$("$vmm" --version | head -n 1 | awk '{ print $4 }')
	echo "$v: $(grep -c "^$v .*passed" "$log") of $(grep -c "^$v " "$log") passed;" \
		"$(grep -c "^$v .*stalled" "$log") stalled, $(grep -c "^$v .*timed out" "$log") timed out," \
		"median $(grep "^$v " "$log" | awk '{ print $(NF - 1) }' | sort -n |
			awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') s"
done
