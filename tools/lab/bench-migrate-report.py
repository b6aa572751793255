#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The migration benchmark's records and report (bench-migrate.sh).

--parse DIR: one JSON record from a migrate-guest.sh run whose output is
DIR/out.log (the QEMU consoles DIR/A.log, B.log, C.log): per migration
(A->B in phase 1, B->C back to NIC A in phase 2) how it ended, QEMU's total
time and downtime, the datagrams lost each way in its phase and the longest
the guest stood still (npa-udp stream); the quiet third phase as a
baseline; QEMU's errors, when it did not go through.

--records FILE --results DIR: the records as migrate.csv, migrate.md and
migrate.png (medians over rounds, min-max spread).  No thresholds: a
failed run is reported with its error.
"""
import argparse
import csv
import json
import os
import re
import statistics
import sys

MIG_RE = re.compile(r"migrate: (\w)->(\w) ([a-z-]+): total time ([0-9]*)"
                    r"[^,]*, downtime ([0-9]*)")
# Each phase's report as the guest says it again at its end (guest-init.sh).
STILL_RE = re.compile(r"phase ([0-9]): udp stream: the guest stood still "
                      r"for ([0-9]+) ms")
STREAM_RE = re.compile(r"phase ([0-9]): udp stream (tx|rx): ([0-9]+) of "
                       r"([0-9]+) payloads as sent: ([0-9]+) lost, "
                       r"([0-9]+) duplicated, ([0-9]+) reordered, "
                       r"([0-9]+) corrupt")
ERR_RE = re.compile(r"\b[Ee]rror\b|did not start|no end|never printed|"
                    r"FAILED|qemu-system|raise -s")
# A hurt kernel (lib-host.sh's hurt_pattern), in the test host's console.
HURT_RE = re.compile(r"WARNING:|BUG:|Oops|lockup|detected stall|"
                     r"blocked for more than|Call Trace:")
PATHS = ["npa", "vhost-vdpa-svq"]
PATH_NAMES = {"npa": "npa (vhost-vfio, relay + dirty log in the kernel)",
              "vhost-vdpa-svq": "vhost-vdpa x-svq=on (QEMU's shadow "
                                "virtqueue)"}
FIELDS = ["total_ms", "downtime_ms", "still_ms", "lost_tx", "lost_rx",
          "dup_tx", "dup_rx", "corrupt_tx", "corrupt_rx"]


def parse(d, path, rnd, rc):
    text = open(os.path.join(d, "out.log"), errors="replace").read()
    lines = text.splitlines()
    phases = []
    still = {int(m.group(1)): int(m.group(2))
             for m in STILL_RE.finditer(text)}
    streams = {}
    for m in STREAM_RE.finditer(text):
        streams[(int(m.group(1)), m.group(2))] = {
            "good": int(m.group(3)), "sent": int(m.group(4)),
            "lost": int(m.group(5)), "dup": int(m.group(6)),
            "reordered": int(m.group(7)), "corrupt": int(m.group(8))}
    for i in range(3):
        ph = {"phase": i + 1, "still_ms": still.get(i + 1)}
        for k in ("tx", "rx"):
            s = streams.get((i + 1, k), {})
            ph["sent_" + k] = s.get("sent")
            for f in ("lost", "dup", "corrupt", "reordered"):
                ph["%s_%s" % (f, k)] = s.get(f)
        phases.append(ph)
    migrations = []
    for i, m in enumerate(MIG_RE.finditer(text)):
        mig = {"migration": "%s->%s" % (m.group(1), m.group(2)),
               "status": m.group(3),
               "total_ms": int(m.group(4)) if m.group(4) else None,
               "downtime_ms": int(m.group(5)) if m.group(5) else None}
        if i < 2:
            mig.update({k: v for k, v in phases[i].items() if k != "phase"})
        migrations.append(mig)
    errors = [ln.strip() for ln in lines if ERR_RE.search(ln)]
    for name in ("A", "B", "C"):
        f = os.path.join(d, name + ".log")
        if os.path.exists(f):
            errors += ["%s: %s" % (name, ln.strip())
                       for ln in open(f, errors="replace")
                       if ln.startswith("qemu-system")
                       or re.search(r"\b[Ee]rror\b", ln)]
    errors = [e for i, e in enumerate(errors)
              if e.split(": ", 1)[-1] not in
              [x.split(": ", 1)[-1] for x in errors[:i]]]
    result = "PASS" if rc == 0 and "GUEST-RESULT: PASS" in text else "FAIL"
    return {"path": path, "round": rnd, "rc": rc, "result": result,
            "migrations": migrations, "quiet": phases[2],
            "errors": errors[:40]}


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (statistics.median(values), min(values), max(values))


def fmt(s):
    if s is None:
        return "n/a"
    if s[1] == s[2]:
        return "%.0f" % s[0]
    return "%.0f (%.0f-%.0f)" % s


def summarize(recs):
    out = {}
    for path in PATHS:
        sel = [r for r in recs if r["path"] == path]
        s = out[path] = {"runs": len(sel),
                         "passed": sum(r["result"] == "PASS" for r in sel)}
        for name in ("A->B", "B->C"):
            ms = [m for r in sel for m in r["migrations"]
                  if m["migration"] == name and m["status"] == "completed"]
            s[name] = {f: spread([m.get(f) for m in ms]) for f in FIELDS}
            s[name]["completed"] = len(ms)
        s["quiet"] = {f: spread([r["quiet"].get(f) for r in sel])
                      for f in ("still_ms", "lost_tx", "lost_rx")}
        s["errors"] = [(r["round"], e) for r in sel for e in r["errors"]]
    return out


def markdown(summary, meta):
    md = ["# npa migration benchmark: %s" % meta["date"], "",
          "Machine: %s.  The guest (256 MiB, one vCPU, KVM in the test "
          "host) migrates A->B and back B->C (C on NIC A again) over "
          "127.0.0.1 while npa-udp streams 100 numbered datagrams a second "
          "each way; %s round(s).  Medians over rounds, (min-max) spread.  "
          "Lost: datagrams of the migration's phase that never arrived "
          "(guest->wire counted at the peer, wire->guest in the guest).  "
          "Still: the longest the guest's stream loop stood still in that "
          "phase." % (meta["machine"], meta["rounds"]), "",
          "| path | migration | completed | total ms | downtime ms | "
          "guest still ms | lost guest->wire | lost wire->guest | "
          "duplicated | corrupt |", "|---|---|---|---|---|---|---|---|---|---|"]
    for path in PATHS:
        s = summary[path]
        for name in ("A->B", "B->C"):
            d = s[name]
            dup = [d["dup_tx"], d["dup_rx"]]
            cor = [d["corrupt_tx"], d["corrupt_rx"]]
            md.append("| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |"
                      % (path, name, d["completed"], s["runs"],
                         fmt(d["total_ms"]), fmt(d["downtime_ms"]),
                         fmt(d["still_ms"]), fmt(d["lost_tx"]),
                         fmt(d["lost_rx"]), " / ".join(fmt(x) for x in dup),
                         " / ".join(fmt(x) for x in cor)))
    md += ["", "Quiet third phase (no migration), the baseline:", "",
           "| path | guest still ms | lost guest->wire | lost wire->guest |",
           "|---|---|---|---|"]
    for path in PATHS:
        q = summary[path]["quiet"]
        md.append("| %s | %s | %s | %s |" % (path, fmt(q["still_ms"]),
                                             fmt(q["lost_tx"]),
                                             fmt(q["lost_rx"])))
    errs = [(p, r, e) for p in PATHS for r, e in summary[p]["errors"]]
    if errs:
        md += ["", "What QEMU and the run said where it did not go through:",
               "", "```"]
        md += ["%s round %d: %s" % x for x in errs]
        md += ["```"]
    md.append("")
    return "\n".join(md)


def relay_evidence(bench):
    """What was sampled while npa-relay's guest ran (bench-migrate-host.sh):
    the mdev's relaying queues and the migration's status, per round."""
    md = ["", "## npa-relay: the queues relayed, QEMU logging", "",
          "Sampled every second from the migration's start (after the "
          "guest's first answered ping, before its first blast) to the "
          "guest's end; host kicks per frame in each blast phase (0 in "
          "direct mode, where the doorbells are the guest's).", "",
          "| round | seconds sampled | relaying queues (min-max) | "
          "migration status seen | host kicks per frame tx64 / tx1400 / "
          "rx64 / rx1400 |", "|---|---|---|---|---|"]
    for r in bench:
        if r["path"] != "npa-relay":
            continue
        s = r.get("relay_samples", [])
        q = [x[1] for x in s]
        st = sorted(set(x[2] for x in s if len(x) > 2))
        kicks = {p["phase"]: (p["host_kicks"] / p["frames"]
                              if p.get("frames") and p.get("host_kicks")
                              is not None else None) for p in r["phases"]}
        md.append("| %d | %s | %s | %s | %s |" % (
            r["round"], "%.0f" % s[-1][0] if s else "none",
            "%d-%d" % (min(q), max(q)) if q else "n/a",
            ", ".join(st) or "n/a",
            " / ".join("%.3f" % kicks[p] if kicks.get(p) is not None
                       else "n/a"
                       for p in ("tx64", "tx1400", "rx64", "rx1400"))))
    return md


def plots(summary, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(no matplotlib: plots skipped)"]
    panels = [("total_ms", "total time ms"), ("downtime_ms", "downtime ms"),
              ("still_ms", "guest stood still ms"),
              ("lost_rx", "lost wire->guest"), ("lost_tx", "lost guest->wire")]
    fig, axes = plt.subplots(1, len(panels), figsize=(14, 4))
    w = 0.38
    for ax, (f, title) in zip(axes, panels):
        for i, path in enumerate(PATHS):
            xs, vals, lo, hi = [], [], [], []
            for j, name in enumerate(("A->B", "B->C")):
                s = summary[path][name][f]
                xs.append(j + i * w)
                vals.append(s[0] if s else 0)
                lo.append(s[0] - s[1] if s else 0)
                hi.append(s[2] - s[0] if s else 0)
            ax.bar(xs, vals, w, yerr=[lo, hi], capsize=3,
                   label=path, color="C%d" % i)
        ax.set_xticks([w / 2, 1 + w / 2])
        ax.set_xticklabels(["A->B", "B->A"])
        ax.set_title(title)
        ax.set_ylim(bottom=0, top=max(1, ax.get_ylim()[1]))
    axes[0].legend(fontsize=8)
    fig.suptitle("Live migration under traffic: npa vs vhost-vdpa x-svq=on "
                 "(missing bar: did not complete)")
    fig.tight_layout()
    f = os.path.join(outdir, "migrate.png")
    fig.savefig(f, dpi=100)
    return [f]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parse", metavar="DIR")
    ap.add_argument("--path")
    ap.add_argument("--round", type=int, default=1)
    ap.add_argument("--rc", type=int, default=0)
    ap.add_argument("--records")
    ap.add_argument("--results", help="folder to write")
    ap.add_argument("--machine", default="lab")
    ap.add_argument("--date", default="")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--svq-features", help="what QEMU said to x-svq=on "
                    "on the VF's vdpa device, try by try")
    ap.add_argument("--console", help="the test host's console log")
    ap.add_argument("--bench", help="the throughput records, for the "
                    "relay evidence")
    args = ap.parse_args()

    if args.parse:
        print(json.dumps(parse(args.parse, args.path, args.round, args.rc)))
        return 0
    recs = [json.loads(line) for line in open(args.records) if line.strip()]
    os.makedirs(args.results, exist_ok=True)
    summary = summarize(recs)
    meta = {"date": args.date, "machine": args.machine,
            "rounds": args.rounds}
    with open(os.path.join(args.results, "migrate.json"), "w") as fh:
        json.dump({"meta": meta, "summary": summary, "records": recs}, fh,
                  indent=1)
    with open(os.path.join(args.results, "migrate.csv"), "w") as fh:
        wr = csv.writer(fh)
        wr.writerow(["path", "round", "result", "migration", "status"] +
                    FIELDS)
        for r in recs:
            for m in r["migrations"] or [{"migration": "", "status": ""}]:
                wr.writerow([r["path"], r["round"], r["result"],
                             m["migration"], m["status"]] +
                            [m.get(f) for f in FIELDS])
    md = markdown(summary, meta)
    if args.svq_features and os.path.exists(args.svq_features):
        md += ("\nQEMU with `x-svq=on` on VF 2's vdpa device, provisioned "
               "without the features it refused at the try before "
               "(vdpa-add.py; the vhost-vdpa devices above are provisioned "
               "as at the last try):\n\n```\n%s```\n" %
               open(args.svq_features, errors="replace").read())
    if args.console and os.path.exists(args.console):
        hurt = [ln.rstrip() for ln in open(args.console, errors="replace")
                if HURT_RE.search(ln)]
        md += ("\nThe test host's kernel reported, during the run: %s\n" %
               ("nothing" if not hurt else
                "\n\n```\n%s\n```\n" % "\n".join(hurt[:40])))
    if args.bench:
        md += "\n".join(relay_evidence(
            [json.loads(line) for line in open(args.bench)
             if line.strip()])) + "\n"
    with open(os.path.join(args.results, "migrate.md"), "w") as fh:
        fh.write(md)
    for f in plots(summary, args.results):
        print("bench-migrate-report: wrote", f)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
