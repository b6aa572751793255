#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Inside the test host: run the lab guest's benchmark workload on one data
path and sample the test host around each phase.

The guest (guest-init.sh, npa.mode=bench) prints BENCH-LINKUP, ping lines,
then BENCH-BEGIN/BENCH-END markers around each blast, with its own virtio
interrupt count, and the receiver's count ("bench tx|rx ...").  At each
marker this program reads the test host's /proc/stat, the VMM's threads
(vhost workers are threads of the VMM since Linux 6.4), the host interrupts
of the VF, KVM's exit count and npa's counters, and appends one JSON record
per phase to --out.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time


def cpu_busy():
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    return sum(v) - v[3] - v[4]             # less idle and iowait


def proc_cpu(pid):
    t = 0
    for st in glob.glob("/proc/%d/task/*/stat" % pid):
        try:
            f = open(st).read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])    # utime, stime
        except (OSError, IndexError):
            pass
    return t


def host_irqs(pattern):
    n = 0
    for line in open("/proc/interrupts"):
        if pattern and re.search(pattern, line):
            for x in line.split()[1:]:
                if not x.isdigit():
                    break
                n += int(x)
    return n


def kvm_exits():
    try:
        return int(open("/sys/kernel/debug/kvm/exits").read())
    except OSError:
        return None


def counter(uuid, name):
    if not uuid:
        return None
    return int(open("/sys/bus/mdev/devices/%s/%s" % (uuid, name)).read())


def snapshot(qpid, args):
    return {"t": time.monotonic(), "cpu": cpu_busy(), "vmm": proc_cpu(qpid),
            "irqs": host_irqs(args.irq_pattern), "exits": kvm_exits(),
            "kicks": counter(args.uuid, "host_kicks"),
            "calls": counter(args.uuid, "host_calls")}


def delta(a, b, key):
    if a[key] is None or b[key] is None:
        return None
    return b[key] - a[key]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True)
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--ip", required=True)
    ap.add_argument("--secs", type=int, default=3)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--setup-start", type=float,
                    help="time.time() when the device was created")
    ap.add_argument("--uuid", help="the npa mdev, for its counters")
    ap.add_argument("--irq-pattern", help="the VF's lines in /proc/interrupts")
    ap.add_argument("--log", required=True)
    ap.add_argument("nic", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    nic = args.nic[1:] if args.nic[:1] == ["--"] else args.nic
    hz = os.sysconf("SC_CLK_TCK")

    cmd = [args.qemu, "-accel", "kvm", "-machine", "q35", "-cpu", "host",
           "-smp", "1", "-m", "256M", "-nodefaults", "-no-user-config",
           "-display", "none", "-no-reboot", "-serial", "stdio",
           "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
           "-L", "/usr/lib/ipxe/qemu", "-kernel", args.kernel,
           "-initrd", args.initrd, "-append",
           "console=ttyS0 quiet loglevel=4 panic=-1 npa.mode=bench "
           "npa.ip=%s npa.secs=%d" % (args.ip, args.secs)] + nic
    q = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    log = open(args.log, "w")
    rec = {"path": args.path, "round": args.round}
    rtts, phases, begin, result = [], [], None, "FAIL"
    deadline = time.monotonic() + 120 + 8 * args.secs
    for line in q.stdout:
        log.write(line)
        w = line.split()
        if line.startswith("BENCH-LINKUP") and args.setup_start:
            rec["setup_s"] = time.time() - args.setup_start
        elif "bytes from" in line and "time=" in line:
            rtts.append(float(line.split("time=")[1].split()[0]))
        elif w[:1] == ["BENCH-BEGIN"]:
            begin = (w[1], int(w[2]), snapshot(q.pid, args))
            counted = {"frames": 0, "seconds": 0.0}
        elif w[:1] == ["BENCH-END"] and begin:
            end = snapshot(q.pid, args)
            name, girq, a = begin
            begin = None
            phases.append({
                "phase": name, "guest_irqs": int(w[2]) - girq, **counted,
                "fps": (counted["frames"] / counted["seconds"]
                        if counted["seconds"] else 0),
                "wall_s": end["t"] - a["t"],
                "host_cpu_s": delta(a, end, "cpu") / hz,
                "vmm_cpu_s": delta(a, end, "vmm") / hz,
                "host_irqs": delta(a, end, "irqs"),
                "kvm_exits": delta(a, end, "exits"),
                "host_kicks": delta(a, end, "kicks"),
                "host_calls": delta(a, end, "calls")})
        elif w[:2] in (["bench", "tx"], ["bench", "rx"]) and begin:
            # The receiver's count, printed inside its phase; a phase
            # without one (the peer did not answer) counts no frames.
            kv = dict(x.split("=") for x in w[2:])
            counted = {"frames": int(kv["received"]),
                       "seconds": float(kv["seconds"])}
        elif line.startswith("GUEST-RESULT: PASS"):
            result = "PASS"
        if time.monotonic() > deadline:
            q.kill()
            break
    q.wait()
    rec.update({"result": result, "rtt_ms": rtts, "phases": phases})
    with open(args.out, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print("bench-guest: %s round %d: %s, %s" % (
        args.path, args.round, result,
        ", ".join("%s %.0f/s" % (p["phase"], p["fps"])
                  for p in phases)))
    return 0 if result == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
