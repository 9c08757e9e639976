#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn npoll-bench's JSON into a gnuplot script (on stdout) that draws
the one-page chart: eight panels, each saying whether lower or higher is
better, with the SPEC section 7 targets in green (pass) and red (fail).

    bench/chart.py build/bench.json build/bench.png | gnuplot
"""
import json
import math
import sys

BLUE, ORANGE, GREY = 0x4E79A7, 0xF28E2B, 0xBAB0AC
GREEN, RED, NPOLL = 0x59A14F, 0xE15759, 0x4E79A7
OTHER = 0x9C9C9C
# Target names as the chart's axis shows them.
SHORT = [("np_read+deadline", "np_read+dl"),
         ("io_uring recv+link timeout", "io_uring recv+link t/o"),
         ("npoll deadline wake-ups before the deadline", "npoll early wake-ups"),
         ("np_open+np_close / epoll_ctl ADD+DEL", "np_open+close / epoll ADD+DEL"),
         ("timerfd_settime ABSTIME", "timerfd abs"),
         ("np_set_deadline_at", "np_set_deadline_at"),
         ("kernel bytes per npoll descriptor", "kernel bytes per descriptor")]


def main():
    src, png = sys.argv[1], sys.argv[2]
    with open(src) as f:
        doc = json.load(f)
    res = {r["key"]: r for r in doc["results"]}

    def val(key):
        r = res.get(key)
        v = r.get("value") if r else None
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    out = []
    emit = out.append

    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def block(name, rows):
        emit("$%s << EOD" % name)
        for row in rows:
            emit(" ".join(q(c) if isinstance(c, str) else
                          ("NaN" if c is None else repr(c)) for c in row))
        emit("EOD")

    def fmt(v, unit=""):
        if v is None:
            return "n/a"
        if abs(v) >= 100:
            return "%.0f%s" % (v, unit)
        return "%.2f%s" % (v, unit)

    def hbars(name, title, rows, xlabel, extra=""):
        """rows: (label, value or None, colour); horizontal bars, first on top."""
        data = []
        for label, v, colour in rows:
            data.append((label, 0.0 if v is None else float(v),
                         fmt(v), colour))
        block(name, data)
        top = max([d[1] for d in data] + [1e-9])
        emit("set title %s" % q(title))
        emit("unset logscale; set style fill solid 0.85 noborder")
        emit("set xrange [0:%r]; set yrange [%r:-0.6]"
             % (top * 1.3, len(data) - 0.4))
        emit("set xlabel %s; unset ylabel; set xtics auto; unset x2tics" % q(xlabel))
        emit("set ytics scale 0; set grid xtics")
        emit("unset key")
        emit(extra)
        emit("plot $%s using (0.5*$2):0:(0.5*$2):(0.38):4:ytic(1) "
             "with boxxyerror lc rgb variable, "
             "'' using 2:0:3 with labels left offset 0.6,0" % name)
        emit("unset arrow; unset label; set xrange [*:*]; set yrange [*:*]; "
             "set grid noxtics")
        emit("set format x '%h'; set lmargin 34")

    emit("set terminal pngcairo noenhanced size 1600,2100 "
         "font 'DejaVu Sans,11' background '#ffffff'")
    emit("set output %s" % q(png))
    env = doc.get("env", {})
    head = ("npoll-bench: guest instructions under QEMU --icount (1 ns = 1 "
            "instruction), kernel %s, %s idle descriptors"
            % (env.get("kernel", "?"), env.get("idle_descriptors", "?")))
    emit("set multiplot layout 4,2 title %s font ',14'" % q(head))
    emit("set lmargin 34; set rmargin 4")

    # 1. ping-pong: ratio to blocking read, clustered by transport.
    variants = [
        ("blocking_read", "blocking read"),
        ("rcvtimeo", "read + SO_RCVTIMEO"),
        ("epoll_et", "epoll ET"),
        ("epoll_et_timerfd", "epoll ET + timerfd/read"),
        ("uring_recv_lt", "io_uring recv + link t/o"),
        ("uring_poll_lt", "io_uring poll + link t/o"),
        ("np_wait_read", "np_wait + read"),
        ("np_read", "np_read"),
        ("np_read_dl_once", "np_read, deadline once"),
        ("np_read_dl", "np_read + deadline/read"),
    ]
    rows = []
    for vid, label in variants:
        u, ub = val("pingpong.unix." + vid), val("pingpong.unix.blocking_read")
        t, tb = val("pingpong.tcp." + vid), val("pingpong.tcp.blocking_read")
        rows.append((label, u / ub if u and ub else None,
                     t / tb if t and tb else None))
    block("PP", rows)
    emit("set title 'Ping-pong round trip / blocking read (lower is better)'")
    emit("set style data histograms; set style histogram clustered gap 1")
    emit("set style fill solid 0.85 noborder; set boxwidth 1")
    top = max([r[1] or 0 for r in rows] + [r[2] or 0 for r in rows] + [1.1])
    emit("set yrange [0.6:%r]" % (top * 1.22))
    emit("set ytics auto; set xtics rotate by 35 right scale 0; set grid ytics")
    emit("unset xlabel; set ylabel 'x blocking read'")
    emit("set key inside top left horizontal")
    emit("set lmargin 10")
    emit("plot $PP using 2:xtic(1) title 'AF_UNIX 1 B' lc rgb '#%06x', "
         "'' using 3 title 'TCP 64 B' lc rgb '#%06x', "
         "'' using ($0-0.17):($2+0.01):(sprintf('%%.2f',$2)) with labels "
         "rotate by 90 left font ',8' notitle, "
         "'' using ($0+0.17):($3+0.01):(sprintf('%%.2f',$3)) with labels "
         "rotate by 90 left font ',8' notitle, "
         "1.03 with lines dt 2 lw 2 lc rgb '#%06x' "
         "title 'target for np_read: 1.03'"
         % (BLUE, ORANGE, RED))
    emit("set style data lines; set xtics norotate; unset ylabel; set lmargin 34")
    emit("set grid noytics; set xrange [*:*]; set yrange [*:*]; set boxwidth")

    # 2. targets: measured / limit.
    rows = []
    for t in doc.get("targets", []):
        if not t.get("in_spec", True):
            continue
        v, lim = t.get("value"), t.get("limit")
        if v is None:
            score = None
        elif t["op"] == "==":
            score = float(v)
        else:
            score = v / lim
        colour = {"PASS": GREEN, "FAIL": RED}.get(t["result"], GREY)
        name = t["name"]
        for a, b in SHORT:
            name = name.replace(a, b)
        rows.append((name, score, colour))
    hbars("TG", "SPEC 7 targets: measured / limit (pass: left of the line)",
          rows, "measured / limit (early wake-ups: count)",
          "set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lw 2 lc rgb 'black'; "
          "set lmargin 44")

    # 3. re-arming a deadline.
    rows = [("np_set_deadline", val("rearm.np_set_deadline"), NPOLL),
            ("np_set_deadline_at", val("rearm.np_set_deadline_at"), NPOLL),
            ("timerfd_settime", val("rearm.timerfd_settime"), OTHER),
            ("timerfd_settime ABSTIME", val("rearm.timerfd_settime_abs"), OTHER),
            ("setsockopt(SO_RCVTIMEO)", val("rearm.so_rcvtimeo"), OTHER),
            ("null system call", val("rearm.null_syscall"), GREY)]
    tfd = val("rearm.timerfd_settime")
    extra = ""
    if tfd:
        lim = 0.2 * tfd
        extra = ("set arrow from %r, graph 0 to %r, graph 1 nohead dt 2 lw 2 "
                 "lc rgb '#%06x'; set label 'target 0.2 x timerfd' at %r, graph 0.03 "
                 "left offset 0.5,0 tc rgb '#%06x'" % (lim, lim, RED, lim, RED))
    hbars("RA", "Re-arming a deadline that never fires (ns per call, lower is better)",
          rows, "ns", extra)

    # 4. lateness: medians, log scale.
    meths = [("npoll", "npoll"), ("epoll_pwait2", "epoll_pwait2"),
             ("epoll_pwait2_slack1", "pwait2, slack 1ns"),
             ("timerfd", "timerfd")]
    rows = []
    for mid, label in meths:
        a = val("lateness.100us." + mid)
        b = val("lateness.1ms." + mid)
        rows.append((label, None if a is None else a / 1000.0,
                     None if b is None else b / 1000.0))
    block("LT", rows)
    emit("set title 'Deadline lateness, median wake time - deadline (us, log, lower is better)'")
    emit("set style data histograms; set style histogram clustered gap 1")
    emit("set style fill solid 0.85 noborder; set boxwidth 1; set lmargin 10")
    emit("set logscale y; set yrange [1:200]")
    emit("set ytics (1,2,5,10,20,50,100,200); set xtics norotate scale 0; set grid ytics")
    emit("unset xlabel; set ylabel 'us'; set key inside top right")
    emit("plot $LT using 2:xtic(1) title '100 us deadline' lc rgb '#%06x', "
         "'' using 3 title '1 ms deadline' lc rgb '#%06x', "
         "'' using ($0-0.17):($2*1.15):(sprintf('%%.1f',$2)) with labels notitle, "
         "'' using ($0+0.17):($3*1.15):(sprintf('%%.1f',$3)) with labels notitle"
         % (BLUE, ORANGE))
    emit("set style data lines; unset logscale y; unset ylabel; set lmargin 34")
    emit("set grid noytics; set xrange [*:*]; set yrange [*:*]; set ytics auto; set boxwidth")

    # 5. open + close.
    hbars("RG", "Register + deregister one descriptor (ns, lower is better)",
          [("np_open + np_close", val("register.npoll"), NPOLL),
           ("epoll_ctl ADD + DEL", val("register.epoll"), OTHER)], "ns")

    # 6. memory: the target is epoll's epitem + pwq + head on the same guest.
    mlim = val("memory.epoll.slab") or 208
    hbars("MM", "Kernel memory per descriptor (bytes, lower is better)",
          [("npoll, slab+vmalloc delta", val("memory.npoll.total"), NPOLL),
           ("epoll, slab+vmalloc delta", val("memory.epoll.total"), OTHER),
           ("npoll_desc slab object", val("memory.npoll.slab"), NPOLL),
           ("epoll epi+pwq+ep_head objects", val("memory.epoll.slab"), OTHER)],
          "bytes",
          "set arrow from %r, graph 0 to %r, graph 1 nohead dt 2 lw 2 lc rgb '#%06x'; "
          "set label 'target: epoll' at %r, graph 0.03 left offset 0.5,0 tc rgb '#%06x'"
          % (mlim, mlim, RED, mlim, RED))

    # 7. wake-ups with idle descriptors.
    idle = env.get("idle_descriptors", "?")
    hbars("SC", "Ping-pong round trip with idle descriptors registered (ns, lower is better)",
          [("npoll, 1 descriptor", val("scale.npoll.1"), NPOLL),
           ("npoll, +%s idle" % idle, val("scale.npoll.idle"), NPOLL),
           ("npoll, +%s idle w/ deadlines" % idle, val("scale.npoll.idle_dl"), NPOLL),
           ("epoll ET, 1 descriptor", val("scale.epoll.1"), OTHER),
           ("epoll ET, +%s idle" % idle, val("scale.epoll.idle"), OTHER)], "ns")

    # 8. scheduler mode.
    def eps(key):
        r = res.get(key)
        return r.get("events_per_s") if r and r.get("value") is not None else None
    n_np, n_ep = eps("sched.npoll"), eps("sched.epoll")
    extra = ""
    if n_np is None:
        note = (res.get("sched.npoll") or {}).get("note", "not measured")
        extra = ("set label %s . \"\\n\" . %s at graph 0.1, graph 0.62 "
                 "left tc rgb '#%06x'" % (q("npoll: not available"), q(note), RED))
    extra += "; set format x '%.0s%c'"
    hbars("SM", "Scheduler mode, 1000 connections (events/s, higher is better)",
          [("np_poll + np_arm", n_np, NPOLL),
           ("epoll_wait, ET", n_ep, OTHER)], "events/s", extra)

    emit("unset multiplot")
    print("\n".join(out))


if __name__ == "__main__":
    main()
