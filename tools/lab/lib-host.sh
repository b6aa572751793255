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

# result NAME STATUS: one TAP line, to stdout and $tap; counts in ntest and
# sets fail on a failure (the caller initialises tap, ntest and fail).
result() {
	ntest=$((ntest + 1))
	if [ "$2" = 0 ]; then
		echo "ok $ntest - $1" | tee -a "$tap"
	else
		echo "not ok $ntest - $1" | tee -a "$tap"
		fail=1
	fi
}

# start_mdev VF: the one place that knows how an mdev is made: npa loaded,
# VF handed to it, an mdev started on it.  Sets BDF, PARENT (its vdpa
# device) and UUID.
start_mdev() {
	tools/npactl load &&
		BDF=$(vf_bdf "$1") &&
		tools/npactl bind "$BDF" &&
		PARENT=$(tools/npactl parent "$BDF") &&
		UUID=$(cat /proc/sys/kernel/random/uuid) &&
		mdevctl start --uuid "$UUID" --parent "$PARENT" --type npa-net
}

# rebind BDF DRIVER: the function leaves its driver for DRIVER.
rebind() {
	local bdf=$1 drv=$2
	[ -e "/sys/bus/pci/devices/$bdf/driver" ] &&
		echo "$bdf" >"/sys/bus/pci/devices/$bdf/driver/unbind"
	echo "$drv" >"/sys/bus/pci/devices/$bdf/driver_override"
	echo "$bdf" >/sys/bus/pci/drivers_probe
}

mlocked_kb() {
	awk '/^Mlocked:/ { print $2 }' /proc/meminfo
}

# Pages pinned with FOLL_PIN, system wide: the least of a few samples (the
# test host's 9p I/O pins pages for a moment too), as npa_test counts them.
pinned_pages() {
	local i least= v
	for i in $(seq 10); do
		echo 1 >/proc/sys/vm/stat_refresh
		v=$(awk '/^nr_foll_pin_acquired / { a = $2 }
			 /^nr_foll_pin_released / { r = $2 }
			 END { print a - r }' /proc/vmstat)
		if [ -z "$least" ] || [ "$v" -lt "$least" ]; then
			least=$v
		fi
		sleep 0.05
	done
	echo "$least"
}

# Taint bits of a hurt kernel: bad page, died, warning, soft lockup.
hurt_taint() {
	echo $(($(cat /proc/sys/kernel/tainted) & (1 << 5 | 1 << 7 | 1 << 9 | 1 << 14)))
}

# What a hurt kernel logs.
hurt_pattern='WARNING:|BUG:|Oops|lockup|detected stall|blocked for more than|Call Trace:'

# For the TAP scripts (fuzz.sh, teardown.sh): with result's variables.
# setup_baseline VF: an mdev on VF (start_mdev), as a TAP line; bail out
# without one.  Then the baseline it is checked against: sets mlocked,
# pinned and taint.
setup_baseline() {
	local st
	say "setting up an mdev on VF $1"
	start_mdev "$1"
	st=$?
	result "setup: npa loaded, VF $1 bound, mdev started" $st
	if [ $st != 0 ]; then
		echo "Bail out! no mdev" | tee -a "$tap"
		exit 1
	fi
	mlocked=$(mlocked_kb)
	pinned=$(pinned_pages)
	taint=$(hurt_taint)
	echo "# baseline: Mlocked $mlocked kB, $pinned pinned pages, taint $taint"
}

# let_go: the mdev stopped, its VF given back, npa unloaded, each a TAP
# line, then the plan.
let_go() {
	say "letting go"
	mdevctl stop --uuid "$UUID"
	result "mdevctl stop" $?
	tools/npactl unbind "$BDF"
	result "npactl unbind $BDF" $?
	tools/npactl unload
	result "npactl unload" $?
	echo "1..$ntest" | tee -a "$tap"
}

# vmm_request WORDS: ask run-host.sh to act on the test host's own QEMU:
# "unplug I" hot-unplugs VF I (device_del), "plug I" puts it back.  Prints
# the monitor's answer; fails when none comes within 30 s.
vmm_request() {
	local i
	rm -f "$NPA_OUT/vmm.ans"
	echo "$*" >"$NPA_OUT/vmm.req.tmp" && mv "$NPA_OUT/vmm.req.tmp" "$NPA_OUT/vmm.req"
	for i in $(seq 300); do
		if [ -e "$NPA_OUT/vmm.ans" ]; then
			cat "$NPA_OUT/vmm.ans"
			return 0
		fi
		sleep 0.1
	done
	echo "vmm_request: no answer to '$*'"
	return 1
}
