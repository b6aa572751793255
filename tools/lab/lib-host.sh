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

# kernel_nic N: VF N with the test host's own virtio_net driver again (from
# npa, vp_vdpa or nothing), as a host without npa would drive it; prints
# its network interface.
kernel_nic() {
	local bdf d drv
	bdf=$(vf_bdf "$1") d=/sys/bus/pci/devices/$bdf
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)")
	# The test host has no udev to load it when a virtio device appears.
	modprobe virtio_net || return 1
	if [ "$drv" = npa ]; then
		tools/npactl unbind "$bdf" >/dev/null
	elif [ "$drv" != virtio-pci ]; then
		rebind "$bdf" virtio-pci
	fi
	# virtio_net's probe may come a little later.
	for _ in $(seq 50); do
		ls "$d"/virtio*/net 2>/dev/null && return 0
		sleep 0.1
	done
	echo "kernel_nic: $bdf has no network interface" >&2
	return 1
}

# tap_bridge N: a tap (npatap0) on a bridge (npabr0) with VF N driven by
# the test host itself, for a guest NIC backed by tap + vhost-net on VF
# N's wire, as on a host without npa.  tap_bridge_del takes both away.
tap_bridge() {
	local nic
	tap_bridge_del 2>/dev/null
	# The VF's own address may be the guest's (the lab's VF N is
	# 52:54:00:4e:50:0N): a bridge keeps its ports' addresses for itself.
	nic=$(kernel_nic "$1") &&
		ip link set "$nic" address "02:4e:50:bb:00:0$1" &&
		modprobe -a tun bridge vhost_net &&
		ip link add npabr0 type bridge &&
		ip tuntap add npatap0 mode tap &&
		ip link set npatap0 master npabr0 &&
		ip link set "$nic" master npabr0 &&
		ip link set "$nic" up &&
		ip link set npatap0 up &&
		ip link set npabr0 up
}

tap_bridge_del() {
	ip link del npatap0
	ip link del npabr0
}
