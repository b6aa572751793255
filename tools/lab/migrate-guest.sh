#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: live-migrate the lab guest while numbered
# datagrams flow both ways, there and back, then let it check its NIC.
#
#   migrate-guest.sh [-q QEMU] [-i GUEST_IP] [-s SECONDS] [-t SECONDS]
#                    -a "NIC_A ARGS" (-b "NIC_B ARGS" [-x CASE] | -r B_ADDR
#                    -l MY_ADDR | -p)
#
# The guest boots with NIC A and streams three phases of -s seconds
# (guest-init.sh npa.mode=stream; npa-udp stream), each after the first
# when this script says so.  During the first, QEMU migrates it to a
# second QEMU whose NIC is B; during the second, back to a third QEMU with
# NIC A again; the third is quiet.  Each phase prints what arrived each
# way; each migration prints
#   migrate: A->B completed: total time T ms, downtime D ms
# The second QEMU runs here (over 127.0.0.1), or with -r on another test
# host (migrate-host.sh b there), at B_ADDR, which reaches this one at
# MY_ADDR (-l).
# -p: no migration, the VM stops for two seconds and runs again (monitor
# stop, cont) in each of the first two phases instead.  -x: a migration
# A -> B that does not complete, in the first phase, copying at 1 MiB/s:
#   cancel  cancelled (migrate_cancel) once it copies; the guest goes on
#           on A
#   busy    QEMU B cannot start (NIC B is someone else's): the migration
#           fails; the guest goes on on A
#   kill    QEMU A is killed (SIGKILL) once it copies; the script ends
#           there
# -t bounds the whole run (default 600 s).  Exit status 0 when each
# migration (or pause) ended as it should and the guest says PASS.
#
# NIC A and NIC B are QEMU arguments giving the guest its NIC (netdev id
# n0, the same virtio-net-pci device on both sides), e.g.
#   -netdev vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/UUID
#   -device virtio-net-pci,netdev=n0,mac=...,page-per-vq=on
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"

qemu=qemu-system-x86_64 ip=10.0.0.2 secs=20 tmo=600 nic_a='' nic_b='' pause=0
bad='' remote='' me=127.0.0.1 phase=1
while getopts q:i:s:t:a:b:px:r:l: opt; do
	case $opt in
	q) qemu=$OPTARG ;;
	i) ip=$OPTARG ;;
	s) secs=$OPTARG ;;
	t) tmo=$OPTARG ;;
	a) nic_a=$OPTARG ;;
	b) nic_b=$OPTARG ;;
	p) pause=1 ;;
	x) bad=$OPTARG ;;
	r) remote=$OPTARG ;;
	l) me=$OPTARG ;;
	*) exit 2 ;;
	esac
done
if [ -z "$nic_a" ] || { [ "$pause" = 0 ] && [ -z "$nic_b$remote" ]; }; then
	echo "usage: $0 [-q QEMU] [-i IP] [-s SECONDS] [-t SECONDS] -a NIC_A (-b NIC_B [-x CASE] | -r B_ADDR -l MY_ADDR | -p)" >&2
	exit 2
fi
out=${NPA_OUT:-/tmp}
. "$here/lib-guest.sh"

run=$(mktemp -d /run/npa-migrate.XXXX)
pids=()
finish() {
	kill "${pids[@]}" 2>/dev/null || true
	# Their NICs are free for the next user once they are gone.
	wait "${pids[@]}" 2>/dev/null || true
	cp "$run"/*.log "$out/" 2>/dev/null || true
	rm -rf "$run"
}
trap finish EXIT
deadline=$((SECONDS + tmo))
# Each QEMU's monitor (a Unix socket, or HOST:PORT) and where it listens
# for an incoming migration.
declare -A mon inc

# answers NAME: QEMU NAME's monitor answers (it runs, past its start).
answers() {
	python3 "$here/hmp.py" "${mon[$1]}" "info status" 2>/dev/null |
		grep -q "VM status"
}

# vm NAME NIC [PORT]: start a QEMU of the guest here, listening for an
# incoming migration on PORT if given; its console in $run/NAME.log.
vm() {
	local name=$1 nic=$2 port=${3:-}
	# The guest's console input: the line that starts its next phase.
	mkfifo "$run/$name.in"
	guest_in=$run/$name.in
	mon[$name]=$run/$name.mon
	set --
	if [ -n "$port" ]; then
		inc[$name]=tcp:$me:$port
		set -- -incoming "${inc[$name]}"
	fi
	# shellcheck disable=SC2086 # NIC is a list of QEMU arguments
	guest_qemu "$tmo" "$qemu" "$run/$name.log" "${mon[$name]}" \
		"$(guest_stream_cmdline "$ip" "$secs")" -no-reboot $nic "$@"
	pids+=($!)
	guest_lines "$run/$name.log" $! | sed -u "s/^/$name: /" &
	# Its monitor answers once it has its NIC (or it has failed).
	for _ in $(seq 300); do
		answers "$name" && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "migrate: QEMU $name did not start:"
	cat "$run/$name.log"
	return 1
}

# far NAME ADDR: QEMU NAME runs on the test host at ADDR (migrate-host.sh
# b), its monitor, console and incoming migration on ports 5555, 5556 and
# 4444 there; follow its console here.
far() {
	local name=$1
	mon[$name]=$2:5555
	inc[$name]=tcp:$2:4444
	mkfifo "$run/$name.in"
	: >"$run/$name.log"
	python3 "$here/console.py" "$2:5556" "$run/$name.log" "$run/$name.in" &
	pids+=($!)
	guest_lines "$run/$name.log" $! | sed -u "s/^/$name: /" &
	echo "migrate: waiting for QEMU $name at $2"
	until answers "$name"; do
		[ $SECONDS -lt $deadline ] || { echo "migrate: no QEMU at $2"; return 1; }
		sleep 2
	done
}

# running NAME: QEMU NAME has not exited (one on another test host is
# taken to run).
running() {
	[[ ${mon[$1]} != /* ]] || pid "$1" >/dev/null
}

# wait_for NAME PATTERN: until the console of NAME has a line PATTERN.
wait_for() {
	while ! grep -q "$2" "$run/$1.log"; do
		if [ $SECONDS -ge $deadline ] || ! running "$1" ||
			grep -q "^GUEST-RESULT" "$run/$1.log"; then
			# It may have come just before the end.
			! grep -q "$2" "$run/$1.log" || return 0
			running "$1" || echo "migrate: QEMU $1 has exited"
			echo "migrate: $1 never printed '$2'; its console ends:"
			tail -n 15 "$run/$1.log" | sed "s/^/migrate: $1: /"
			return 1
		fi
		sleep 0.5
	done
}

# next NAME PHASE: once the guest (on QEMU NAME) is done with phase PHASE,
# start the next one.
next() {
	wait_for "$1" "^STREAM-WAIT $2"
	echo go >"$run/$1.in"
}

# pid NAME: the process of QEMU NAME, when it runs here.
pid() {
	pgrep -f -- "-monitor unix:$run/$1.mon" | tail -n 1
}

# stuck NAME: where the threads of QEMU NAME wait, for a migration that
# does not end (its monitor does not answer while its main loop waits).
stuck() {
	local p t
	p=$(pid "$1") || return 0
	for t in /proc/"$p"/task/*; do
		echo "migrate: $1 thread $(cat "$t/comm") waits in $(cat "$t/wchan"):"
		sed 's/^/migrate:   /' "$t/stack" 2>/dev/null || true
	done
	if command -v gdb >/dev/null; then
		gdb -p "$p" -batch -ex "thread apply all bt" 2>/dev/null |
			grep -E '^(Thread|#)' | sed 's/^/migrate:   /'
	fi
}

# gone NAME: until QEMU NAME has exited, letting go of its NIC.
gone() {
	while pid "$1" >/dev/null || answers "$1"; do
		sleep 0.2
	done
}

# migrate FROM TO [END]: migrate the guest from QEMU FROM to QEMU TO, until
# the migration ends as END says: completed (the default; then QEMU FROM
# is stopped, and the switch must have come during phase $phase's
# traffic), failed, cancelled (cancelled once it copies) or killed (QEMU
# FROM killed then).  Prints how it ended; true
# when it ended so.
migrate() {
	local from=$1 to=$2 end=${3:-completed} info status
	guest_hmp "${mon[$from]}" "migrate -d ${inc[$to]}"
	while :; do
		sleep 0.5
		info=$(python3 "$here/hmp.py" "${mon[$from]}" "info migrate" 2>&1 || true)
		status=$(echo "$info" | sed -n 's/^Migration status: \([a-z-]*\).*/\1/p')
		case $status in
		completed | failed | cancelled) break ;;
		active)
			case $end in
			cancelled)
				echo "migrate: $from->$to: cancelling it" \
					"($(echo "$info" | sed -n 's/^transferred ram: //p') sent)"
				guest_hmp "${mon[$from]}" migrate_cancel
				end=cancelled-asked
				continue
				;;
			killed)
				echo "migrate: $from->$to: killing QEMU $from (SIGKILL;" \
					"$(echo "$info" | sed -n 's/^transferred ram: //p') sent)"
				kill -9 "$(pid "$from")"
				gone "$from"
				return 0
				;;
			esac
			;;
		esac
		if [ -z "$status" ] || [ $SECONDS -ge $deadline ]; then
			echo "migrate: $from->$to: no end ($status)"
			echo "$info"
			stuck "$from"
			return 1
		fi
	done
	echo "migrate: $from->$to $status: total time" \
		"$(echo "$info" | sed -n 's/^total time: //p'), downtime" \
		"$(echo "$info" | sed -n 's/^downtime: //p')"
	[ "$status" = "${end%-asked}" ] || { echo "$info"; return 1; }
	[ "$status" = completed ] || return 0
	guest_hmp "${mon[$from]}" quit
	gone "$from"
	# The switch must come while the phase's traffic flows.
	if grep -q "^STREAM-WAIT $phase" "$run/$from.log"; then
		echo "migrate: $from->$to: the switch came after phase $phase's traffic (raise -s)"
		return 1
	fi
}

# pause NAME PHASE: stop the VM in phase PHASE for two seconds.
pause() {
	wait_for "$1" "^STREAM-BEGIN $2"
	sleep 2
	echo "migrate: $1: stop, cont two seconds later (phase $2)"
	guest_hmp "${mon[$1]}" stop
	sleep 2
	guest_hmp "${mon[$1]}" cont
	next "$1" "$2"
}

# verdict NAME: the guest's, on QEMU NAME.
verdict() {
	wait_for "$1" "^GUEST-RESULT"
	sleep 0.5
	grep -q "^GUEST-RESULT: PASS" "$run/$1.log"
}

echo "migrate: booting the guest on KVM ($ip) with NIC A"
vm A "$nic_a"
if [ -n "$bad" ]; then
	case $bad in
	busy) ! vm B "$nic_b" 4444 || exit 1 ;;
	cancel | kill) vm B "$nic_b" 4444 ;;
	*) echo "migrate: -x cancel, busy or kill" >&2; exit 2 ;;
	esac
	inc[B]=tcp:$me:4444
	wait_for A "^STREAM-BEGIN 1"
	sleep 2
	# Slow enough to end it before it completes.
	guest_hmp "${mon[A]}" "migrate_set_parameter max-bandwidth 1M"
	case $bad in
	busy) migrate A B failed ;;
	cancel) migrate A B cancelled ;;
	kill) migrate A B killed; exit ;;
	esac
	next A 1
	next A 2
	verdict A
	exit
fi
if [ "$pause" = 1 ]; then
	pause A 1
	pause A 2
	verdict A
	exit
fi
if [ -n "$remote" ]; then
	far B "$remote"
else
	vm B "$nic_b" 4444
fi
wait_for A "^STREAM-BEGIN 1"
sleep 2
phase=1
migrate A B
# The first QEMU has let go of NIC A: the third takes it.
vm C "$nic_a" 4445
next B 1
wait_for B "^STREAM-BEGIN 2"
sleep 2
phase=2
migrate B C
next C 2
verdict C
