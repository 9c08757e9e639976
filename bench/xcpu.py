#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Instructions per cross-CPU round trip, from npoll-bench's xcpu section.

    bench/xcpu.py GUEST_JSON MARKS [RUN_JSON...]

GUEST_JSON is npoll-bench's JSON of a run of its xcpu section, MARKS the
file bench/vcpu_insns.so wrote during that run (one line per marker:
every vCPU's instruction count).  Each row's batches are bracketed by
two markers; a batch's figure is the instructions all vCPUs executed
between them over its round trips.  The median over a row's batches is
its figure, its spread (min, max) shows how repeatable it is.

Further RUN_JSON arguments are the same guest run repeated: the figure
of a row is then the median over every run's batches, and the runs'
medians are printed next to it.

Prints the table and the targets, and the JSON object for
build/bench.json's "xcpu" member on the last line, after "json: ".
"""
import json
import statistics
import sys


def read_marks(path):
    marks = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 5 and w[0] == "mark" and w[4] == "insns":
                marks[int(w[1])] = [int(x) for x in w[5:]]
    return marks


def rows_of(doc, marks):
    """{key: row} with per-batch instructions per round trip."""
    rows = {}
    for r in doc["results"]:
        if not r.get("section", "").startswith("xcpu.") or "marks" not in r:
            continue
        per = []
        for b, e in r["marks"]:
            if b not in marks or e not in marks:
                raise SystemExit("xcpu.py: marker %d or %d missing from the plugin's file" % (b, e))
            per.append(sum(marks[e]) - sum(marks[b]))
        per = [p / r["iters"] for p in per]
        rows[r["key"]] = {
            "key": r["key"], "section": r["section"], "label": r["label"],
            "batches": per, "switches_per_rt": r["switches_per_rt"],
            "ipis_per_rt": r["ipis_per_rt"], "host_ns": r["value"],
        }
    return rows


TITLES = {
    "xcpu.unix": "Ping-pong across two vCPUs, AF_UNIX stream, 1 byte (instructions per round trip, both vCPUs)",
    "xcpu.tcp": "Ping-pong across two vCPUs, TCP loopback, 64 bytes (instructions per round trip, both vCPUs)",
}
EXPERT_DEADLINE = ("rcvtimeo", "epoll_et_pwait2", "uring_expert")


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        raise SystemExit("usage: xcpu.py GUEST_JSON MARKS [GUEST_JSON MARKS...]")
    runs = []
    for i in range(1, len(argv), 2):
        with open(argv[i]) as f:
            doc = json.load(f)
        runs.append(rows_of(doc, read_marks(argv[i + 1])))
    keys = list(runs[0])
    out = {"rows": [], "targets": [], "runs": len(runs)}
    value = {}
    for k in keys:
        allb = [b for run in runs if k in run for b in run[k]["batches"]]
        r = dict(runs[0][k])
        r["value"] = statistics.median(allb)
        r["min"], r["max"] = min(allb), max(allb)
        r["run_medians"] = [statistics.median(run[k]["batches"]) for run in runs if k in run]
        del r["batches"]
        value[k] = r["value"]
        out["rows"].append(r)
    section = None
    for r in out["rows"]:
        if r["section"] != section:
            section = r["section"]
            print("\n" + TITLES.get(section, section))
        base = value.get(section + ".blocking_read")
        ratio = "x%.3f" % (r["value"] / base) if base else ""
        spread = "min %.0f max %.0f" % (r["min"], r["max"])
        if len(runs) > 1:
            spread += ", runs " + " ".join("%.0f" % m for m in r["run_medians"])
        print("  %-60s %9.0f instr %7s  %s, switches/rt %.2f, IPIs/rt %.2f" % (
            r["label"], r["value"], ratio, spread, r["switches_per_rt"], r["ipis_per_rt"]))

    def target(name, v, limit):
        verdict = "N/A" if v is None else ("PASS" if v <= limit else "FAIL")
        out["targets"].append({"name": name, "value": v, "op": "<=", "limit": limit,
                               "result": verdict})
        print("target %s = %s (<= %g) %s" % (name, "n/a" if v is None else "%.3f" % v,
                                           limit, verdict))

    print("\nTwo-vCPU targets (instructions, both vCPUs)")
    for t, name in (("unix", "AF_UNIX"), ("tcp", "TCP")):
        s = "xcpu." + t
        dl = [value.get("%s.%s" % (s, e)) for e in EXPERT_DEADLINE]
        np_dl, np_rd, blk = (value.get(s + ".np_read_dl"), value.get(s + ".np_read"),
                             value.get(s + ".blocking_read"))
        target("np_read+deadline / best expert peer with a deadline, two vCPUs (%s)" % name,
               np_dl / min(dl) if np_dl and all(dl) else None, 1.0)
        target("np_read / blocking read, two vCPUs (%s)" % name,
               np_rd / blk if np_rd and blk else None, 1.03)
    print("json: " + json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
