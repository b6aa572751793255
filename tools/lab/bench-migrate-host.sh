#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the test host: the migration benchmark (bench-migrate.sh), in one
# test host with five VFs:
#   VF 0, 1  npa mdevs (npa_vf)                    -netdev vhost-vfio
#   VF 2, 3  vp_vdpa + vhost_vdpa                  -netdev vhost-vdpa
#            (without the features x-svq=on refuses, svq-features.txt)
#   VF 4     vfio-pci                              passthrough
#
#   bench-migrate-host.sh ROUNDS SECONDS MIGRATIONS STREAM_SECONDS VP_VDPA_KO
#
# Each of ROUNDS rounds runs the benchmark's guest workload (guest-init.sh
# npa.mode=bench, SECONDS a phase; bench-guest.py) on, in turn:
#   npa             direct mode (VF 0's mdev)
#   npa-relay       the same mdev while QEMU logs dirty pages: from the
#                   guest's first answered ping on, a migration to a QEMU
#                   listening on VF 1's mdev, held at max-bandwidth 64 KiB/s
#                   so it cannot complete, runs until the guest is done
#   vhost-vdpa      VF 2 through vhost-vdpa
#   vhost-vdpa-svq  the same with x-svq=on: QEMU relays every queue
#   passthrough     VF 4 assigned with vfio-pci
# Records to $NPA_OUT/bench.jsonl (bench-report.py --paths); npa-relay's
# carry what was sampled meanwhile (the mdev's relay count, the migration's
# status).  The first MIGRATIONS rounds also migrate the guest A->B->A
# under numbered streams (migrate-guest.sh -s STREAM_SECONDS) with npa
# (VF 0 <-> VF 1) and with vhost-vdpa x-svq=on (VF 2 <-> VF 3); one record
# per run to $NPA_OUT/migrate.jsonl (bench-migrate-report.py --parse), the
# run's output and QEMU consoles in $NPA_OUT/migrate-PATH-ROUND/.
set -euo pipefail
. tools/lab/lib-host.sh
. tools/lab/versions.env
rounds=$1 secs=$2 mrounds=$3 ssecs=$4 vpvdpa=$5
res=$NPA_OUT/bench.jsonl mres=$NPA_OUT/migrate.jsonl
initrd=$NPA_OUT/guest.gz
tools/lab/mkinitramfs.sh guest "$initrd" >/dev/null
modprobe -a kvm_amd vfio-pci vdpa vhost_vdpa
ulimit -l unlimited
: >"$res"
: >"$mres"

# npa: an mdev on VF 0 and on VF 1.
tools/npactl load
uuid=()
for i in 0 1; do
	bdf=$(vf_bdf $i)
	tools/npactl bind "$bdf" >/dev/null
	uuid[i]=$(cat /proc/sys/kernel/random/uuid)
	mdevctl start -u "${uuid[i]}" -p "$(tools/npactl parent "$bdf")" -t npa-net
done
npa_bdf=$(vf_bdf 0)
dev=virtio-net-pci,netdev=n0,page-per-vq=on
# vhost-vdpa on vp_vdpa: VF 2 and VF 3 (npa_mdev leaves them alone).
insmod "$vpvdpa"
for i in 2 3; do
	rebind "$(vf_bdf $i)" vp-vdpa
done
vdpa_bdf=$(vf_bdf 2)
# QEMU's shadow virtqueue refuses a device that offers a feature it does
# not handle, and the lab's VFs offer some.  Each try: vdpa2 without the
# features refused so far (vdpa-add.py), QEMU started with x-svq=on on it;
# what QEMU said goes to $NPA_OUT/svq-features.txt and the features it
# names are left out at the next try.  Both vhost-vdpa devices are then
# provisioned without them, for vhost-vdpa with and without x-svq.
svq_off=0
: >"$NPA_OUT/svq-features.txt"
for _ in 1 2 3 4 5; do
	python3 tools/lab/vdpa-add.py vdpa2 "pci/$vdpa_bdf" "$svq_off" >/dev/null
	said=$(echo quit | timeout 60 "$NPA_QEMU" -accel kvm -machine q35 \
		-m 256M -nodefaults -no-user-config -display none -S -monitor stdio \
		-netdev "vhost-vdpa,id=n0,vhostdev=/dev/$(basename /sys/bus/vdpa/devices/vdpa2/vhost-vdpa-*),x-svq=on" \
		-device "$dev,mac=52:54:00:4e:50:02" 2>&1 |
		grep -v '^(qemu)\|^QEMU .*monitor' || true)
	vdpa dev del vdpa2
	echo "features off $(printf 0x%x "$svq_off"): ${said:-QEMU started}" |
		tee -a "$NPA_OUT/svq-features.txt"
	[ -n "$said" ] || break
	# "vdpa svq does not work with features 0xF", or "SVQ Invalid device
	# feature flags, offer: 0xO, ok: 0xK"
	if [[ $said =~ features\ (0x[0-9a-f]+) ]]; then
		svq_off=$((svq_off | BASH_REMATCH[1]))
	elif [[ $said =~ offer:\ (0x[0-9a-f]+),\ ok:\ (0x[0-9a-f]+) ]]; then
		svq_off=$((svq_off | (BASH_REMATCH[1] & ~BASH_REMATCH[2])))
	else
		break
	fi
done
vhost=()
for i in 2 3; do
	python3 tools/lab/vdpa-add.py "vdpa$i" "pci/$(vf_bdf $i)" "$svq_off"
	vhost[i]=/dev/$(basename /sys/bus/vdpa/devices/vdpa$i/vhost-vdpa-*)
done
# passthrough: VF 4.
pt_bdf=$(vf_bdf 4)
rebind "$pt_bdf" vfio-pci

npa_nic() {
	echo "-netdev vhost-vfio,id=n0,sysfsdev=/sys/bus/mdev/devices/$1 -device $dev,mac=52:54:00:4e:50:00"
}
svq_nic() {
	echo "-netdev vhost-vdpa,id=n0,vhostdev=$1,x-svq=on -device $dev,mac=52:54:00:4e:50:02"
}

# run PATH ROUND IP IRQ_PATTERN [BENCH-GUEST ARGS] -- QEMU ARGS: one guest
# workload, its record to $res (a failed guest's too, as FAIL).
run() {
	local path=$1 round=$2 ip=$3 pattern=$4
	shift 4
	timeout -k 10 $((300 + 8 * secs)) python3 tools/lab/bench-guest.py \
		--path "$path" --round "$round" --out "$res" --qemu "$NPA_QEMU" \
		--ip "$ip" --secs "$secs" --kernel "/boot/vmlinuz-$KVER" \
		--initrd "$initrd" --irq-pattern "$pattern" \
		--log "$NPA_OUT/bench-$path-$round.log" "$@" ||
		echo "bench-migrate-host: $path round $round failed"
}

# sample_relay SOURCE_MONITOR LOG: once the guest on VF 0's mdev answers a
# ping, start a migration from its QEMU to the one listening on 4446, too
# slow to complete, then every second until that QEMU is gone: a line
# "SECONDS RELAYING_QUEUES MIGRATION_STATUS TRANSFERRED" to LOG.
sample_relay() {
	local mon=$1 log=$2 d=/sys/bus/mdev/devices/${uuid[0]} calls t0 info
	calls=$(cat "$d/host_calls")
	until [ "$(cat "$d/host_calls")" -gt "$calls" ]; do
		sleep 0.2
		[ $SECONDS -lt $((start + 120)) ] || return 0
	done
	t0=$EPOCHREALTIME
	python3 tools/lab/hmp.py "$mon" "migrate_set_parameter max-bandwidth 64k" \
		"migrate -d tcp:127.0.0.1:4446" >>"$log.hmp" 2>&1 || return 0
	while info=$(python3 tools/lab/hmp.py "$mon" "info migrate" 2>/dev/null) &&
		[ -n "$info" ]; do
		echo "$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }")" \
			"$(cat "$d/relay")" \
			"$(echo "$info" | sed -n 's/^Migration status: \([a-z-]*\).*/\1/p')" \
			"$(echo "$info" | sed -n 's/^transferred ram: \([0-9]*\).*/\1/p')" >>"$log"
		sleep 1
	done
}

# relay_run ROUND: npa's path in relay mode, while QEMU logs dirty pages.
relay_run() {
	local round=$1 mon=/run/npa-bench-relay.mon log=$NPA_OUT/relay-$1.txt dpid spid start
	: >"$log"
	rm -f "$mon"
	# shellcheck disable=SC2046 # the NIC is a list of QEMU arguments
	timeout -k 5 $((300 + 8 * secs)) "$NPA_QEMU" -accel kvm -machine q35 \
		-cpu host -smp 1 -m 256M -nodefaults -no-user-config \
		-display none -no-reboot -serial null \
		-L /usr/share/seabios -L /usr/share/qemu -L /usr/lib/ipxe/qemu \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$initrd" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 npa.mode=bench npa.ip=10.0.0.2 npa.secs=$secs" \
		$(npa_nic "${uuid[1]}") -incoming tcp:127.0.0.1:4446 \
		>"$NPA_OUT/relay-dst-$round.log" 2>&1 &
	dpid=$!
	start=$SECONDS
	sample_relay "$mon" "$log" &
	spid=$!
	# shellcheck disable=SC2046
	run npa-relay "$round" 10.0.0.2 "npa\\[$npa_bdf\\]-[0-9]" \
		--uuid "${uuid[0]}" -- $(npa_nic "${uuid[0]}") \
		-monitor "unix:$mon,server=on,wait=off"
	wait "$spid" || true
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	# What was sampled goes with the round's record.
	python3 - "$res" "$round" "$log" <<-'EOF'
	import json, sys
	res, rnd, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = [l.split() for l in open(log) if l.strip()]
	recs = [json.loads(l) for l in open(res) if l.strip()]
	for r in recs:
	    if r["path"] == "npa-relay" and r["round"] == rnd:
	        r["relay_samples"] = [[float(x[0]), int(x[1])] + x[2:] for x in s]
	with open(res, "w") as fh:
	    fh.writelines(json.dumps(r) + "\n" for r in recs)
	EOF
	echo "bench-migrate-host: npa-relay round $round: relaying queues" \
		"$(awk '{ print $2 }' "$log" | sort -u | tr '\n' ' ')migration" \
		"$(awk '{ print $3 }' "$log" | sort -u | tr '\n' ' ')"
}

# migrate PATH ROUND IP NIC_A NIC_B: the guest A->B->A under streams.
migrate() {
	local path=$1 round=$2 ip=$3 d=$NPA_OUT/migrate-$1-$2 rc=0
	mkdir -p "$d"
	cp "$initrd" "$d/guest.gz"
	NPA_OUT=$d tools/lab/migrate-guest.sh -q "$NPA_QEMU" -i "$ip" \
		-s "$ssecs" -t $((3 * ssecs + 400)) -a "$4" -b "$5" \
		>"$d/out.log" 2>&1 || rc=$?
	grep -E 'migrate: |udp stream|GUEST-RESULT|FAILED|did not start|qemu-system' \
		"$d/out.log" | sed "s/^/$path: /" || true
	python3 tools/lab/bench-migrate-report.py --parse "$d" --path "$path" \
		--round "$round" --rc "$rc" >>"$mres"
	tail -n 1 "$mres"
}

for round in $(seq "$rounds"); do
	echo "== round $round of $rounds"
	# shellcheck disable=SC2046
	run npa "$round" 10.0.0.2 "npa\\[$npa_bdf\\]-[0-9]" \
		--uuid "${uuid[0]}" -- $(npa_nic "${uuid[0]}")
	relay_run "$round"
	run vhost-vdpa "$round" 10.0.2.2 "vp-vdpa\\[$vdpa_bdf\\]" -- \
		-netdev "vhost-vdpa,id=n0,vhostdev=${vhost[2]}" \
		-device "$dev,mac=52:54:00:4e:50:02"
	# shellcheck disable=SC2046
	run vhost-vdpa-svq "$round" 10.0.2.2 "vp-vdpa\\[$vdpa_bdf\\]" -- \
		$(svq_nic "${vhost[2]}")
	run passthrough "$round" 10.0.4.2 "vfio-msix.*$pt_bdf" -- \
		-device "vfio-pci,host=$pt_bdf"
	if [ "$round" -le "$mrounds" ]; then
		echo "== migrations, round $round"
		migrate npa "$round" 10.0.0.2 "$(npa_nic "${uuid[0]}")" \
			"$(npa_nic "${uuid[1]}")"
		migrate vhost-vdpa-svq "$round" 10.0.2.2 "$(svq_nic "${vhost[2]}")" \
			"$(svq_nic "${vhost[3]}")"
	fi
done
for i in 0 1; do
	mdevctl stop -u "${uuid[i]}"
done
