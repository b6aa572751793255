#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the benchmark's records (bench-host.sh, bench-guest.py) into
results: raw CSV and JSON, a Markdown table and PNG plots.

Paths alternate round by round; figures are medians over rounds with their
min-max spread, and ratios to passthrough are taken round by round.  With
--check, it prints one TAP line per path and fails unless every path moved
frames in every phase (never a speed threshold).  --paths names the paths
and their order (bench-migrate.sh: npa in relay mode and vhost-vdpa with
x-svq=on too); passthrough must be one of them for the ratios.
"""
import argparse
import csv
import json
import os
import statistics
import sys

PATHS = ["npa", "passthrough", "vhost-vdpa", "vhost-net"]
PHASES = ["tx64", "tx1400", "rx64", "rx1400"]
PHASE_NAMES = {"tx64": "guest->wire 64 B", "tx1400": "guest->wire 1400 B",
               "rx64": "wire->guest 64 B", "rx1400": "wire->guest 1400 B"}


def load(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    rows = []
    for r in recs:
        for p in r["phases"]:
            frames = p.get("frames", 0)
            row = {"path": r["path"], "round": r["round"],
                   "phase": p["phase"], "frames": frames,
                   "seconds": p.get("seconds", 0), "fps": p.get("fps", 0)}
            for k in ("host_cpu_s", "vmm_cpu_s", "guest_irqs", "host_irqs",
                      "kvm_exits", "host_kicks", "host_calls"):
                v = p.get(k)
                row[k] = v
                row[k + "_per_frame"] = (v / frames if v is not None
                                         and frames else None)
            rows.append(row)
    return recs, rows


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (statistics.median(values), min(values), max(values))


def fmt(s, scale=1.0, digits=0):
    if s is None:
        return "n/a"
    return "%.*f (%.*f-%.*f)" % (digits, s[0] * scale, digits, s[1] * scale,
                                  digits, s[2] * scale)


def pct(values, q):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def summarize(recs, rows):
    out = {}
    for path in PATHS:
        s = out[path] = {}
        for ph in PHASES:
            sel = [r for r in rows if r["path"] == path and r["phase"] == ph]
            ratios = []
            for r in sel:
                pt = [x for x in rows if x["path"] == "passthrough"
                      and x["phase"] == ph and x["round"] == r["round"]]
                if pt and pt[0]["fps"]:
                    ratios.append(r["fps"] / pt[0]["fps"])
            s[ph] = {"fps": spread([r["fps"] for r in sel]),
                     "ratio_to_passthrough": spread(ratios)}
            for k in ("host_cpu_s", "vmm_cpu_s", "guest_irqs", "host_irqs",
                      "kvm_exits", "host_kicks", "host_calls"):
                s[ph][k + "_per_frame"] = spread(
                    [r[k + "_per_frame"] for r in sel])
        rtts = [x for r in recs if r["path"] == path for x in r["rtt_ms"]]
        s["rtt_median_ms"] = statistics.median(rtts) if rtts else None
        s["rtt_p99_ms"] = pct(rtts, 0.99)
        s["setup_s"] = spread([r.get("setup_s") for r in recs
                               if r["path"] == path])
        s["rounds_passed"] = sum(1 for r in recs if r["path"] == path
                                 and r["result"] == "PASS")
    return out


def markdown(summary, meta):
    md = ["# npa benchmark: %s" % meta["date"], "",
          "Machine: %s.  %d round(s), paths alternating in every round, "
          "%d s per phase.  Medians over rounds, (min-max) spread.  "
          "Frames are counted by the receiver." % (
              meta["machine"], meta["rounds"], meta["secs"]), ""]
    md += ["## Frames per second (ratio to passthrough)", "",
           "| path | " + " | ".join(PHASE_NAMES[p] for p in PHASES) + " |",
           "|---|" + "---|" * len(PHASES)]
    for path in PATHS:
        cells = []
        for ph in PHASES:
            d = summary[path][ph]
            r = d["ratio_to_passthrough"]
            cells.append("%s<br>x%s" % (fmt(d["fps"]),
                                        "%.2f" % r[0] if r else "n/a"))
        md.append("| %s | %s |" % (path, " | ".join(cells)))
    md += ["", "## Per frame (guest->wire 1400 B)", "",
           "| path | test host CPU µs | VMM + vhost CPU µs | guest irqs | "
           "VF irqs in the host | KVM exits | npa host kicks | "
           "npa host calls |", "|---|---|---|---|---|---|---|---|"]
    for path in PATHS:
        d = summary[path]["tx1400"]
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            path, fmt(d["host_cpu_s_per_frame"], 1e6, 1),
            fmt(d["vmm_cpu_s_per_frame"], 1e6, 1),
            fmt(d["guest_irqs_per_frame"], 1, 3),
            fmt(d["host_irqs_per_frame"], 1, 3),
            fmt(d["kvm_exits_per_frame"], 1, 2),
            fmt(d["host_kicks_per_frame"], 1, 3)
            if path.startswith("npa") else "-",
            fmt(d["host_calls_per_frame"], 1, 3)
            if path.startswith("npa") else "-"))
    md += ["", "## Latency and setup", "",
           "| path | ping median ms | ping p99 ms | setup s (create -> "
           "guest link up) | rounds passed |", "|---|---|---|---|---|"]
    for path in PATHS:
        s = summary[path]
        md.append("| %s | %s | %s | %s | %d/%d |" % (
            path, "%.2f" % s["rtt_median_ms"] if s["rtt_median_ms"] else "n/a",
            "%.2f" % s["rtt_p99_ms"] if s["rtt_p99_ms"] else "n/a",
            fmt(s["setup_s"], 1, 1) if s["setup_s"] else "n/a",
            s["rounds_passed"], meta["rounds"]))
    md += ["", "Notes:", "",
           "- Posted interrupts: not available in the lab (KVM nested in a "
           "TCG test host has no AVIC/posted-interrupt support), so every "
           "VF interrupt goes through the test host: npa's host calls show "
           "it.  On real hardware with irq bypass they drop out.",
           "- KVM exits are the test host's total (all vCPUs), from "
           "/sys/kernel/debug/kvm/exits.",
           "- Setup time is measured for npa (mdevctl start) and vhost-vdpa "
           "(vdpa dev add) only; it includes the guest's boot.",
           "- The VFs are QEMU's emulated virtio-net under TCG: absolute "
           "numbers are the lab's, ratios are what compare.", ""]
    return "\n".join(md)


def plots(summary, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(no matplotlib: plots skipped)"]
    files = []
    fig, ax = plt.subplots(figsize=(9, 4.5))
    w = 0.8 / len(PATHS)
    for i, path in enumerate(PATHS):
        vals = [summary[path][ph]["fps"][0] if summary[path][ph]["fps"]
                else 0 for ph in PHASES]
        errs = [[(summary[path][ph]["fps"][0] - summary[path][ph]["fps"][1])
                 if summary[path][ph]["fps"] else 0 for ph in PHASES],
                [(summary[path][ph]["fps"][2] - summary[path][ph]["fps"][0])
                 if summary[path][ph]["fps"] else 0 for ph in PHASES]]
        ax.bar([x + i * w for x in range(len(PHASES))], vals, w, yerr=errs,
               label=path, capsize=3)
    ax.set_xticks([x + (len(PATHS) - 1) / 2 * w for x in range(len(PHASES))])
    ax.set_xticklabels([PHASE_NAMES[p] for p in PHASES])
    ax.set_ylabel("frames/s (median, min-max)")
    ax.set_title("Frames per second by data path")
    ax.legend()
    fig.tight_layout()
    f = os.path.join(outdir, "fps.png")
    fig.savefig(f, dpi=100)
    files.append(f)

    fig, ax = plt.subplots(figsize=(7, 4))
    vals = [summary[p]["tx1400"]["host_cpu_s_per_frame"][0] * 1e6
            if summary[p]["tx1400"]["host_cpu_s_per_frame"] else 0
            for p in PATHS]
    ax.bar(PATHS, vals, color=["C%d" % i for i in range(len(PATHS))])
    ax.set_ylabel("test host CPU µs per frame")
    ax.set_title("Host CPU per frame, guest->wire 1400 B")
    fig.tight_layout()
    f = os.path.join(outdir, "cpu-per-frame.png")
    fig.savefig(f, dpi=100)
    files.append(f)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", required=True)
    ap.add_argument("--results", required=True, help="folder to write")
    ap.add_argument("--machine", default="lab")
    ap.add_argument("--date", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--secs", type=int, required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--paths", default=",".join(PATHS),
                    help="comma-separated, in the order of the report")
    args = ap.parse_args()
    PATHS[:] = args.paths.split(",")

    recs, rows = load(args.records)
    os.makedirs(args.results, exist_ok=True)
    summary = summarize(recs, rows)
    meta = {"date": args.date, "machine": args.machine,
            "rounds": args.rounds, "secs": args.secs}
    with open(os.path.join(args.results, "results.json"), "w") as fh:
        json.dump({"meta": meta, "summary": summary, "records": recs}, fh,
                  indent=1)
    with open(os.path.join(args.results, "results.csv"), "w") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["path"])
        wr.writeheader()
        wr.writerows(rows)
    md = markdown(summary, meta)
    with open(os.path.join(args.results, "results.md"), "w") as fh:
        fh.write(md)
    if not args.check:
        for f in plots(summary, args.results):
            print("bench-report: wrote", f)
    print(md)

    if args.check:
        bad = 0
        for i, path in enumerate(PATHS, 1):
            moved = all(any(r["frames"] > 0 for r in rows
                            if r["path"] == path and r["phase"] == ph)
                        for ph in PHASES)
            print("%s %d - bench: %s moved frames in every phase" % (
                "ok" if moved else "not ok", i, path))
            bad += not moved
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
