#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the lab's test host and run one command inside it.
#
#   run-host.sh [-n VFS] [-m MEM] [-c CPUS] [-t SECONDS] [-o OUTDIR] [-I|-R]
#               [-K debian|debug] [-P] [-L LOCAL:REMOTE] CMD [ARG...]
#
# The test host is Debian's kernel under QEMU/TCG (q35, emulated VT-d) with
# this machine's / as its root (read-only 9p + tmpfs overlay).  It has VFS
# VRING-capable VFs (virtio-net-pci, modern only, iommu_platform,
# page-per-vq, each behind its own root port) whose wires end in peer.py on
# 127.0.0.1 and are captured to OUTDIR/vfN.pcap, plus three functions npa must
# refuse and one whose doorbells share a page.  CMD runs in this repository with NPA_* variables describing the
# lab (see lib-host.sh) and NPA_QEMU (the patched QEMU, build-qemu.sh),
# which is also the test host's VMM; its output is streamed and its exit status returned.
# -K (default $NPA_KERNEL, else debian) picks its kernel: Debian's
# (versions.env), or the debug lab's (build-kernel.sh: KASAN, lockdep,
# kmemleak, fault injection; built and cached on first use), whose modules
# are bound over /lib/modules/REL inside (mkinitramfs.sh); npa's modules
# must then be built against it (debug-lab.sh does).
# -I boots it without an IOMMU, -R with an IOMMU that does not remap
# interrupts (the job sees NPA_INTREMAP=off).  -c sets its CPUs (default 1,
# or $NPA_HOST_CPUS).  Two let an ioctl on one CPU race an interrupt or a
# teardown on the other, which one CPU never shows: the fuzzer's runs
# (make fuzz, check.sh) use two.  The int3 oopses two CPUs met under QEMU
# 7.2's TCG (multi-threaded code patching) were not seen on the project's
# 10.0.13 (docs/lab.md); one CPU is fast enough for the other tests.
# -P: no peer of its own: the caller's serves the VFs' wires (two test
# hosts on one segment, migrate-two-hosts.sh).  -L: a link to another test
# host, a virtio-net function at 00:1c.0 (the job sees NPA_LINK) whose wire
# is UDP from port LOCAL to port REMOTE on 127.0.0.1.
# OUTDIR (read-write inside the test host) keeps console.log, dmesg.txt,
# peer.json and whatever CMD writes to $NPA_OUT.  CMD may ask for a VF to
# be hot-unplugged and plugged back (vmm_request in lib-host.sh).
#
# The test host's VMM is the project's own QEMU ($NPA_QEMU, else
# build-qemu.sh's cached build; $NPA_HOST_QEMU overrides it for the test
# host alone), not Debian 12's QEMU 7.2: under 7.2's TCG
# a one-vCPU test host hung for good with its vCPU halted and a timer
# interrupt pending in its local APIC (docs/lab.md).  The test host writes
# a heartbeat every 5 s (l1-init.sh); when none comes for $NPA_STALL
# seconds (default 180) it has stopped making progress: its registers and
# local APIC go to OUTDIR/stall.txt and it is ended at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.env"

nvfs=4 mem=3G tmo=900 out= iommu=on intremap=on cpus=${NPA_HOST_CPUS:-1}
kernel=${NPA_KERNEL:-debian} peer=1 link=
while getopts n:m:t:o:IRc:K:PL: opt; do
	case $opt in
	n) nvfs=$OPTARG ;;
	m) mem=$OPTARG ;;
	t) tmo=$OPTARG ;;
	o) out=$OPTARG ;;
	I) iommu=off ;;
	R) intremap=off ;;
	c) cpus=$OPTARG ;;
	K) kernel=$OPTARG ;;
	P) peer=0 ;;
	L) link=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-n VFS] [-m MEM] [-c CPUS] [-t SECONDS] [-o OUTDIR] [-I|-R] [-K debian|debug] [-P] [-L LOCAL:REMOTE] CMD [ARG...]" >&2; exit 2; }
[ "$nvfs" -ge 1 ] && [ "$nvfs" -le 8 ] || { echo "run-host: 1 to 8 VFs" >&2; exit 2; }

out=${out:-$repo/build/lab/$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
base=${NPA_PORTBASE:-24000}
stall=${NPA_STALL:-180}
initrd=$("$here/mkinitramfs.sh" host)
case $kernel in
debian)
	vmlinuz=/boot/vmlinuz-$KVER kargs=
	;;
debug)
	kdir=$("$here/build-kernel.sh")
	vmlinuz=$kdir/bzImage
	kargs="npa.modules=$kdir/mod/lib/modules/$(cat "$kdir/release")"
	# Every report of this kernel fails the debug lab: the lockup and
	# stall detectors at their longest, as a starved TCG vCPU on a busy
	# machine trips them at the defaults (soft lockups of 22 to 64 s and
	# an RCU stall of 100 s seen while booting Debian's kernel, load 15).
	kargs+=" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=300"
	;;
*)
	echo "run-host: -K debian or debug" >&2
	exit 2
	;;
esac
# 4-level paging, though QEMU's TCG offers LA57 (docs/debug-findings.md):
# on 5-level paging KVM runs the lab guest on 5-level nested page tables,
# and under TCG's SVM that guest triple-faulted and the test host's memory
# was damaged (finding 11); the debug kernel's KASAN also saw the direct
# map as wild while identify_cpu() rebuilt the CPU's features (finding 9).
kargs+=" no5lvl"
qemu=${NPA_QEMU:-}
[ -n "$qemu" ] || qemu=$("$here/build-qemu.sh")
vmm=${NPA_HOST_QEMU:-$qemu}

{
	echo "cd $(printf %q "$repo")"
	echo "export NPA_OUT=$(printf %q "$out") NPA_NVFS=$nvfs NPA_INTREMAP=$intremap"
	echo "export NPA_VF_PORTS='$(for ((i = 0; i < nvfs; i++)); do printf '0000:00:%02x.0 ' $((0x10 + i)); done)'"
	echo "export NPA_BAD_LEGACY=0000:00:18.0 NPA_BAD_NOIOMMU=0000:00:19.0 NPA_BAD_NOTNET=0000:00:1a.0"
	echo "export NPA_SHARED_DOORBELL=0000:00:1b.0"
	[ -z "$link" ] || echo "export NPA_LINK=0000:00:1c.0"
	echo "export NPA_QEMU=$(printf %q "$qemu")"
	printf '%q ' "$@"
	echo
} >"$out/job.sh"

# no_timer_check: under TCG on a busy machine, the kernel's boot-time check
# that the timer interrupt comes through the IO-APIC can miss it and panic
# ("timer doesn't work through Interrupt-remapped IO-APIC"; docs/lab.md).
args=(-accel tcg,thread=multi -machine q35 -cpu max -smp "$cpus" -m "$mem"
	-nodefaults -display none -no-reboot -serial stdio
	-monitor "unix:$out/monitor.sock,server=on,wait=off"
	-monitor "unix:$out/watch.sock,server=on,wait=off"
	-kernel "$vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 intel_iommu=$iommu quiet loglevel=4 panic=-1 no_timer_check npa.init=$here/l1-init.sh npa.out=$out $kargs")
# The IOMMU comes before every device it translates.
[ $iommu = on ] &&
	args+=(-device intel-iommu,intremap=$intremap,caching-mode=on,device-iotlb=on)
args+=(-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=hostroot,addr=0x8
	-fsdev "local,id=out,path=$out,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=out,mount_tag=out,addr=0x9)
vfdev=()
for ((i = 0; i < nvfs; i++)); do
	vfdev[i]="virtio-net-pci,id=vfdev$i,bus=rp$i,netdev=vf$i,mac=52:54:00:4e:50:0$i,disable-legacy=on,iommu_platform=on,ats=on,page-per-vq=on"
	args+=(-device "pcie-root-port,id=rp$i,bus=pcie.0,chassis=$((i + 1)),addr=0x$((10 + i))"
		-netdev "dgram,id=vf$i,local.type=inet,local.host=127.0.0.1,local.port=$((base + i)),remote.type=inet,remote.host=127.0.0.1,remote.port=$((base + 100 + i))"
		-object "filter-dump,id=dump$i,netdev=vf$i,file=$out/vf$i.pcap"
		-device "${vfdev[i]}")
done
# Functions npa must refuse: legacy-only, DMA bypassing the IOMMU, not a NIC.
args+=(-netdev "dgram,id=bad0,local.type=inet,local.host=127.0.0.1,local.port=$((base + 50)),remote.type=inet,remote.host=127.0.0.1,remote.port=$((base + 150))"
	-device virtio-net-pci,netdev=bad0,addr=0x18,disable-modern=on,disable-legacy=off
	-netdev "dgram,id=bad1,local.type=inet,local.host=127.0.0.1,local.port=$((base + 51)),remote.type=inet,remote.host=127.0.0.1,remote.port=$((base + 151))"
	-device virtio-net-pci,netdev=bad1,addr=0x19,disable-legacy=on
	-device virtio-rng-pci,addr=0x1a,disable-legacy=on,iommu_platform=on)
# A function npa takes but whose doorbells share a page: not for the guest.
args+=(-netdev "dgram,id=shared,local.type=inet,local.host=127.0.0.1,local.port=$((base + 52)),remote.type=inet,remote.host=127.0.0.1,remote.port=$((base + 152))"
	-device virtio-net-pci,netdev=shared,addr=0x1b,disable-legacy=on,iommu_platform=on,page-per-vq=off)

if [ -n "$link" ]; then
	args+=(-netdev "dgram,id=link,local.type=inet,local.host=127.0.0.1,local.port=${link%:*},remote.type=inet,remote.host=127.0.0.1,remote.port=${link#*:}"
		-device virtio-net-pci,netdev=link,addr=0x1c,disable-legacy=on)
fi

peer_pid=
cleanup() {
	if [ -n "$peer_pid" ]; then
		kill "$peer_pid" 2>/dev/null || true
		wait "$peer_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

if [ $peer = 1 ]; then
	python3 "$here/peer.py" --base "$base" --wires "$nvfs" --stats "$out/peer.json" \
		--monitor "$out/monitor.sock" >"$out/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 50); do
		grep -q "^peer: " "$out/peer.log" && break
		kill -0 $peer_pid 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^peer: " "$out/peer.log" ||
		{ echo "run-host: the peer did not start:"; cat "$out/peer.log"; exit 1; }
fi

# HMP commands on the watch monitor: each command, then what it printed.
hmp() {
	python3 "$here/hmp.py" -e "$out/watch.sock" "$@"
}

# A request of the job (lib-host.sh's vmm_request): "unplug I" or "plug I"
# takes VF I out of the test host (device_del: a PCIe hot-unplug the test
# host's kernel sees) or puts it back; the monitor's answer goes back.
serve() {
	local req i ans
	[ -e "$out/vmm.req" ] || return 0
	req= i=
	read -r req i <"$out/vmm.req" || true
	rm -f "$out/vmm.req"
	if [[ $i =~ ^[0-9]$ ]] && [ "$i" -lt "$nvfs" ] && [ "$req" = unplug ]; then
		ans=$(hmp "device_del vfdev$i" 2>&1)
	elif [[ $i =~ ^[0-9]$ ]] && [ "$i" -lt "$nvfs" ] && [ "$req" = plug ]; then
		ans=$(hmp "device_add ${vfdev[i]}" 2>&1)
	else
		ans="run-host: no request '$req $i'"
	fi
	echo "$ans" >"$out/vmm.ans.tmp" && mv "$out/vmm.ans.tmp" "$out/vmm.ans"
}

# Until QEMU ($1) exits: serve the job's requests; end the test host when
# the heartbeat stops.
watch() {
	local qpid=$1 beat age tick=0
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 1
		serve
		tick=$((tick + 1))
		[ $((tick % 5)) = 0 ] || continue
		beat=$(stat -c %Y "$out/heartbeat" 2>/dev/null || echo "$boot")
		[ "$beat" -ge "$boot" ] || beat=$boot
		age=$(($(date +%s) - beat))
		[ "$age" -ge "$stall" ] || continue
		echo "run-host: the test host stopped making progress: no heartbeat for $age s" \
			"(its uptime was $(cat "$out/heartbeat" 2>/dev/null || echo "not up yet") s); registers and local APIC in $out/stall.txt"
		hmp "info registers -a" "info lapic" "info irq" >"$out/stall.txt" 2>&1 || true
		touch "$out/stalled"
		kill "$(cat "$out/qemu.pid")" 2>/dev/null
		return
	done
}

for attempt in 1 2 3; do
	rm -f "$out/started" "$out/rc" "$out/heartbeat" "$out/stalled" "$out/qemu.pid"
	echo "run-host: booting the test host ($nvfs VFs, $mem, $cpus CPUs, TCG, IOMMU $iommu, $kernel kernel), output in $out"
	start=$SECONDS
	boot=$(date +%s)
	{ timeout -k 10 "$tmo" "$vmm" "${args[@]}" -pidfile "$out/qemu.pid" 2>&1 |
		tee "$out/console.log" || true; } &
	qpid=$!
	watch $qpid
	wait $qpid || true
	echo "run-host: test host ran $((SECONDS - start)) s"
	[ -e "$out/started" ] && break
	[ ! -e "$out/stalled" ] || break
	echo "run-host: the test host did not reach its job (boot attempt $attempt)"
done

if [ -e "$out/stalled" ]; then
	echo "run-host: the job did not finish: the test host stalled; see $out/stall.txt and $out/console.log"
	exit 124
fi
if [ ! -e "$out/started" ]; then
	echo "run-host: giving up: the test host did not boot three times"
	exit 125
fi
if [ ! -s "$out/rc" ]; then
	echo "run-host: the job did not finish (timeout ${tmo}s or a crash); see $out/console.log"
	exit 124
fi
exit "$(cat "$out/rc")"
