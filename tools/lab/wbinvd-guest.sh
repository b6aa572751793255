#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: boot the lab guest on KVM with QEMU_NIC_ARGS (none:
# a VM without a NIC), let it execute N WBINVDs (tools/lab/wbinvd/, loaded
# by guest-init.sh's npa.mode=wbinvd), and count from the test host's trace
# what KVM did for them.  The guest's loop sits between two CPUID markers
# (kvm_cpuid events); between them are counted:
#   exits     kvm_exit events with the WBINVD exit reason
#   emulated  kvm_emulate_wbinvd() calls
#   flushes   wbinvd_ipi() calls: a real WBINVD on a host CPU, made only
#             when KVM treats the VM as doing non-coherent DMA
#   noncoherent, assigned  kvm->arch.noncoherent_dma_count and
#             assigned_device_count at the first kvm_emulate_wbinvd()
# and over the VM's whole life:
#   registered   kvm_arch_register_noncoherent_dma() calls
#   assignments  kvm_arch_start_assignment() calls
#   bypass       kvm_arch_irq_bypass_add_producer() calls (posted interrupts)
# loop_ms is the loop's length between the markers: a nested guest under
# TCG, so it means little.
#
#   wbinvd-guest.sh [-n N] [-l LABEL] -- [QEMU_NIC_ARGS...]
#
# Prints "wbinvd: LABEL key=value ..." and appends the same as a JSON
# object to $NPA_OUT/wbinvd.jsonl; the trace is kept in
# $NPA_OUT/wbinvd-LABEL.trace.  Exit status 0 when the guest ran its loop
# and both markers and an emulated WBINVD were traced.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=1000 label=vm
while getopts n:l: opt; do
	case $opt in
	n) n=$OPTARG ;;
	l) label=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
out=${NPA_OUT:-/tmp}
ko=$here/wbinvd/npa_wbinvd.ko
[ -e "$ko" ] || { echo "wbinvd-guest: $ko is not built (make modules)" >&2; exit 1; }
# The lab guest's initramfs, with the module (run-guest.sh boots it).
"$here/mkinitramfs.sh" guest "$out/guest.gz" "$ko" >/dev/null

modprobe kvm_amd 2>/dev/null || modprobe kvm_intel
if [ -d /sys/module/kvm_amd ]; then
	exit_wbinvd=0x89	# SVM_EXIT_WBINVD
else
	exit_wbinvd=54		# EXIT_REASON_WBINVD
fi
t=/sys/kernel/tracing
[ -e $t/trace ] || mount -t tracefs tracefs $t

probes() {
	echo 0 >$t/tracing_on
	echo 0 >$t/events/enable
	echo >$t/kprobe_events
}
probes
trap 'probes; echo 0 >$t/events/kvm/kvm_exit/filter; echo 0 >$t/events/kvm/kvm_cpuid/filter' EXIT
# The counters at each emulated WBINVD, read through the function's BTF
# (found by its bare name, unique in kvm.ko and vmlinux).
echo "p:npa/emulate kvm_emulate_wbinvd" \
	"noncoherent=vcpu->kvm->arch.noncoherent_dma_count.counter:s32" \
	"assigned=vcpu->kvm->arch.assigned_device_count.counter:s32" >>$t/kprobe_events
cat >>$t/kprobe_events <<EOF
p:npa/flush kvm:wbinvd_ipi
p:npa/registered kvm:kvm_arch_register_noncoherent_dma
p:npa/assignment kvm:kvm_arch_start_assignment
p:npa/bypass kvm:kvm_arch_irq_bypass_add_producer
EOF
echo 16384 >$t/buffer_size_kb
echo "exit_reason == $exit_wbinvd" >$t/events/kvm/kvm_exit/filter
echo 'function >= 0x4e504100 && function <= 0x4e504101' >$t/events/kvm/kvm_cpuid/filter
echo 1 >$t/events/npa/enable
echo 1 >$t/events/kvm/kvm_exit/enable
echo 1 >$t/events/kvm/kvm_cpuid/enable
echo >$t/trace
echo 1 >$t/tracing_on

st=0
"$here/run-guest.sh" -q "$NPA_QEMU" -n "$n" -a npa.mode=wbinvd -- "$@" || st=$?
echo 0 >$t/tracing_on
cp $t/trace "$out/wbinvd-$label.trace"

# kvm_cpuid prints "func 4e504100 ...".
awk -v label="$label" -v n="$n" -v json="$out/wbinvd.jsonl" '
/ kvm_cpuid: func 4e504100 / { inloop = 1; begin = $0; next }
/ kvm_cpuid: func 4e504101 / { inloop = 0; end = $0; next }
/ registered: / { registered++ }
/ assignment: / { assignment++ }
/ bypass: / { bypass++ }
inloop && / kvm_exit: / { exits++ }
inloop && / flush: / { flushes++ }
inloop && / emulate: / {
	if (!emulated++) {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^noncoherent=/) noncoh = substr($i, 13)
			if ($i ~ /^assigned=/) assigned = substr($i, 10)
		}
	}
}
function ts(line,   f) {
	match(line, /[0-9]+\.[0-9]+:/)
	return substr(line, RSTART, RLENGTH - 1)
}
END {
	ok = begin != "" && end != "" && noncoh != ""
	if (noncoh == "") noncoh = assigned = "null"
	ms = ok ? int((ts(end) - ts(begin)) * 1000) : -1
	printf "wbinvd: %s n=%d exits=%d emulated=%d flushes=%d noncoherent=%s assigned=%s registered=%d assignments=%d bypass=%d loop_ms=%d\n",
		label, n, exits, emulated, flushes, noncoh, assigned,
		registered, assignment, bypass, ms
	printf "{\"label\": \"%s\", \"n\": %d, \"exits\": %d, \"emulated\": %d, \"flushes\": %d, \"noncoherent\": %s, \"assigned\": %s, \"registered\": %d, \"assignments\": %d, \"bypass\": %d, \"loop_ms\": %d, \"markers\": %s}\n",
		label, n, exits, emulated, flushes, noncoh, assigned,
		registered, assignment, bypass, ms, ok ? "true" : "false" >>json
	exit !ok
}' "$out/wbinvd-$label.trace" || st=1
exit $st
