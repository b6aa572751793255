# SPDX-License-Identifier: GPL-2.0
# Helpers for scripts that run inside the lab's test host (run-host.sh).

say() {
	printf '\n--- %s\n' "$*"
}

# vf_bdf N: the PCI address of VF N (behind the Nth root port).
vf_bdf() {
	local port
	port=$(echo "$NPA_VF_PORTS" | cut -d' ' -f$(($1 + 1)))
	basename /sys/bus/pci/devices/"$port"/0000:??:??.?
}
