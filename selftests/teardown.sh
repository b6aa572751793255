#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every way an npa mdev can be taken away, under traffic, CYCLES times each,
# inside the lab's test host (tools/lab/run-host.sh; docs/lab.md):
#
#   selftests/teardown.sh [CYCLES [KIND...]]
#
# KINDs (default all): kill (SIGKILL of the VMM), stop (mdevctl stop),
# unbind (npactl unbind of the function), unload (npactl unload) and
# unplug (the function hot-unplugged from the test host by its QEMU,
# device_del, then plugged back).  In each cycle npa-pkt plays the VMM on
# VF 1's mdev, moving frames both ways, and the teardown strikes after a
# random delay (the seed is printed; NPA_SEED replays it).  After each: the
# VMM is gone, the host is unhurt (no warning, oops or lockup in the kernel
# log, no taint), Mlocked and the system's pinned pages are back to their
# baseline, and the next user gets a working mdev (npa-pkt both).  TAP, a
# line per kind, goes to stdout and to $NPA_OUT/teardown.tap; the first
# failure of a kind stops that kind, with what went wrong.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/lab/lib-host.sh

cycles=${1:-50}
shift || true
kinds=${*:-kill stop unbind unload unplug}
out=${NPA_OUT:-/tmp}
tap=$out/teardown.tap
vf=1
ntest=0
fail=0
seed=${NPA_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$seed
: >"$tap"
echo "# seed $seed (NPA_SEED=$seed replays the delays)" | tee -a "$tap"

# wait_gone PID SECONDS: 0 once the process is gone.
wait_gone() {
	local i
	for i in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# wait_path [!] -e PATH SECONDS: 0 once `test [!] -e PATH` holds.
wait_path() {
	local not= i
	if [ "$1" = "!" ]; then
		not=!
		shift
	fi
	for i in $(seq $(($3 * 10))); do
		test $not "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# hmp_ok WORDS: vmm_request, and the monitor said nothing but the command.
hmp_ok() {
	local ans

	ans=$(vmm_request "$@") || { echo "$ans"; return 1; }
	if echo "$ans" | grep -qvE '^\(qemu\)|^$'; then
		echo "$ans"
		return 1
	fi
}

# strike KIND: take the mdev away from the running VMM ($vmm).
strike() {
	case $1 in
	kill)
		kill -KILL "$vmm"
		;;
	stop)
		timeout 60 mdevctl stop --uuid "$UUID"
		;;
	unbind)
		timeout 60 tools/npactl unbind "$BDF"
		;;
	unload)
		timeout 60 tools/npactl unload
		;;
	unplug)
		hmp_ok unplug $vf || return 1
		# q35's ACPI hotplug: an eject request acpiphp serves.
		wait_path ! -e "/sys/bus/pci/devices/$BDF" 60 || {
			echo "$BDF still there a minute after device_del"
			# Who serves the slot, and what it said.
			ls /sys/bus/pci/slots
			dmesg | grep -E "acpiphp|pciehp|ACPI" | tail -n 5
			return 1
		}
		hmp_ok plug $vf || return 1
		wait_path -e "/sys/bus/pci/devices/$BDF/driver" 60 ||
			{ echo "$BDF did not come back with a driver"; return 1; }
		;;
	esac
}

# What the next user needs after KIND: the mdev back, where it went.
restore() {
	case $1 in
	kill) ;;
	stop) mdevctl start --uuid "$UUID" --parent "$PARENT" --type npa-net ;;
	*) start_mdev $vf ;;
	esac
}

# cycle KIND N: one cycle; prints what went wrong and fails.
cycle() {
	local kind=$1 delay now st log=$out/teardown-vmm.log

	tools/npa/npa-pkt -u "$UUID" -i $vf -n 1000000 -s 1000 both >"$log" 2>&1 &
	vmm=$!
	delay=$((5 + RANDOM % 25))
	sleep "$(printf '%d.%d' $((delay / 10)) $((delay % 10)))"
	if ! kill -0 "$vmm" 2>/dev/null; then
		echo "the VMM ended before the teardown:"
		tail -n 5 "$log"
		return 1
	fi
	strike "$kind" || { echo "$kind did not complete"; return 1; }
	if ! wait_gone "$vmm" 30; then
		echo "the VMM still runs 30 s after $kind"
		kill -KILL "$vmm"
		return 1
	fi
	wait "$vmm" 2>/dev/null
	st=$?
	# Killed, or asked for the device back (the request eventfd) and let go.
	if [ "$kind" = kill ]; then
		[ $st = 137 ] || { echo "the VMM was not killed (status $st)"; return 1; }
	elif ! grep -q "the host asked for the device back" "$log"; then
		echo "the VMM was not asked for the device back (status $st):"
		tail -n 5 "$log"
		return 1
	fi

	now=$(hurt_taint)
	[ "$now" = "$taint" ] || { echo "taint $now (baseline $taint)"; return 1; }
	if grep -qE "$hurt_pattern" "$kmsg"; then
		grep -E -B5 -A30 "$hurt_pattern" "$kmsg" | head -60
		return 1
	fi
	now=$(mlocked_kb)
	[ "$now" = "$mlocked" ] || { echo "Mlocked $now kB (baseline $mlocked)"; return 1; }
	now=$(pinned_pages)
	[ "$now" -le "$pinned" ] || { echo "$now pinned pages (baseline $pinned)"; return 1; }

	restore "$kind" || { echo "the mdev did not come back after $kind"; return 1; }
	if ! tools/npa/npa-pkt -u "$UUID" -i $vf -n 50 both >"$log.next" 2>&1; then
		echo "the next user's frames did not pass:"
		tail -n 5 "$log.next"
		return 1
	fi
}

setup_baseline $vf
kmsg=$out/teardown-kmsg.txt
dmesg --follow-new >"$kmsg" &
follow=$!

for kind in $kinds; do
	say "$kind, $cycles cycles under traffic"
	start=$SECONDS
	n=0
	while [ $n -lt "$cycles" ]; do
		# Not in a subshell: restore sets BDF, PARENT and UUID.
		if ! cycle "$kind" >"$out/teardown-why.txt" 2>&1; then
			sed 's/^/# /' "$out/teardown-why.txt" | tee -a "$tap"
			break
		fi
		n=$((n + 1))
	done
	echo "# $kind: $n of $cycles cycles in $((SECONDS - start)) s"
	[ $n = "$cycles" ]
	result "teardown $kind under traffic: host unhurt, nothing pinned, next user served ($n of $cycles cycles)" $?
	# A failed cycle may leave the mdev anywhere: start afresh.
	if [ $n != "$cycles" ]; then
		mdevctl stop --uuid "$UUID" 2>/dev/null
		start_mdev $vf >/dev/null 2>&1
	fi
done

kill "$follow"
wait "$follow" 2>/dev/null
let_go
exit $fail
