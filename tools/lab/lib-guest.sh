# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Inside the test host, sourced by run-guest.sh and migrate-guest.sh: the
# lab guest's QEMU and its monitor.  Needs $here (tools/lab), versions.env
# sourced, and $NPA_OUT or /tmp for the guest's initramfs.

guest_initrd=${NPA_OUT:-/tmp}/guest.gz
[ -s "$guest_initrd" ] || "$here/mkinitramfs.sh" guest "$guest_initrd" >/dev/null
modprobe kvm_amd 2>/dev/null || modprobe kvm_intel
# The guest's memory is pinned for the VF's DMA.
ulimit -l unlimited

# guest_qemu SECONDS QEMU LOG MONITOR CMDLINE [QEMU_ARGS...]: start the lab
# guest (an unmodified Debian kernel, guest-init.sh as /init with CMDLINE's
# npa.* words) on KVM in the background, its console in LOG (and its
# console input from the FIFO $guest_in, when set; or both on the chardev
# $guest_serial instead, when set, LOG then has QEMU's own messages), its
# monitor on the Unix socket MONITOR (or on TCP at MONITOR, if HOST:PORT);
# killed after SECONDS.
guest_in=/dev/null guest_serial=stdio
guest_qemu() {
	local tmo=$1 qemu=$2 log=$3 mon=unix:$4 cmdline=$5
	[[ $4 == /* ]] || mon=tcp:$4
	shift 5
	timeout -k 5 "$tmo" "$qemu" -accel kvm -machine q35 -cpu host -smp 1 -m 256M \
		-nodefaults -no-user-config -display none -serial "$guest_serial" \
		-monitor "$mon,server=on,wait=off" \
		-L /usr/share/seabios -L /usr/share/qemu -L /usr/lib/ipxe/qemu \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$guest_initrd" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 $cmdline" \
		"$@" <>"$guest_in" >"$log" 2>&1 &
}

# guest_hmp MONITOR COMMAND...: what the commands printed, as "qemu
# monitor:" lines.
guest_hmp() {
	python3 "$here/hmp.py" "$@" | sed -n 's/^\(.*[^ ].*\)$/qemu monitor: \1/p'
}

# The lines of the guest's console that say what it does.
guest_pattern='^(guest|udp|phase [0-9]+: udp|GUEST|STREAM|PING|[0-9]+ bytes from|---|round-trip|qemu)|vhost-vfio'

# guest_lines LOG PID: follow the guest's console (until its QEMU, PID,
# exits), printing those lines.
guest_lines() {
	tail -n +1 -f "$1" --pid="$2" | grep --line-buffered -E "$guest_pattern"
}

# guest_stream_cmdline IP SECONDS: the npa.* words of a guest that streams
# across migrations (migrate-guest.sh), the same on every QEMU it runs on.
guest_stream_cmdline() {
	echo "npa.ip=$1 npa.mode=stream npa.secs=$2 npa.phases=3"
}
