#!/usr/bin/env python3
"""summary.py RESULTS.tsv JSON|- KEY=VALUE... — the table scripts/bench.sh prints last.

RESULTS.tsv has one figure a line: METRIC TOPO ROUND VALUE (TOPO kernel or
icmpgw). Prints, for each metric, the median [min-max] over rounds on each
topology, the ratio icmpgw/kernel of the medians and issue 4's target where
there is one; writes the same figures (and every round's) to JSON unless
JSON is "-".
"""
import json
import math
import statistics
import sys

# metric, label, unit, target kind, target value
#   ratio>=: icmpgw/kernel must be at least; ratio<=: at most;
#   abs<=: icmpgw's median must be at most; equal: the medians must match.
ROWS = [
    ("udp64_pps", "UDP 64 B forwarded", "pkt/s", "ratio>=", 1.0),
    ("udp64_offered_pps", "  offered by the client", "pkt/s", None, None),
    ("udp64_drop_pct", "  dropped on the way", "%", None, None),
    ("udp64_cli_txdrop_pct", "  of which at client gw0 (tx_dropped)", "%", None, None),
    ("tcp1_mbps", "TCP 1 stream", "Mbit/s", "ratio>=", 0.7),
    ("tcp4_mbps", "TCP 4 streams", "Mbit/s", None, None),
    ("ping5ms_med_ms", "ping every 5 ms, median", "ms", "ratio<=", 2.0),
    ("ping5ms_p99_ms", "ping every 5 ms, p99", "ms", "abs<=", 5.0),
    ("ping5ms_loss", "  lost of 500", "", None, None),
    ("ping1ms_med_ms", "ping every 1 ms, median", "ms", "ratio<=", 2.0),
    ("ping1ms_p99_ms", "ping every 1 ms, p99", "ms", "abs<=", 5.0),
    ("ping1ms_loss", "  lost of 500", "", None, None),
    ("te_pps", "Time Exceeded, limiter off", "msg/s", None, None),
    ("te_offered_pps", "  TTL=1 datagrams offered", "pkt/s", None, None),
    ("te_limited_count", "Time Exceeded from 1000, Linux limits", "msgs", "equal", None),
    ("udp64_sys_us_per_pkt", "all cores' CPU per fwd pkt, UDP 64 B", "us", None, None),
    ("udp64_cpu_us_per_pkt", "icmpgw CPU per pkt read, UDP 64 B", "us", None, None),
    ("udp64_user_pct", "  of which in user space", "%", None, None),
    ("tcp1_cpu_us_per_pkt", "icmpgw CPU per pkt read, TCP 1", "us", None, None),
    ("tcp4_cpu_us_per_pkt", "icmpgw CPU per pkt read, TCP 4", "us", None, None),
    ("te_cpu_us_per_pkt", "icmpgw CPU per pkt read, TTL=1", "us", None, None),
    ("udp64_gc", "icmpgw GC cycles in UDP 64 B window (4 s)", "", None, None),
    ("tcp1_gc", "icmpgw GC cycles in TCP 1 run (6 s)", "", None, None),
    ("icmpgw_gc_total", "icmpgw GC cycles, whole run", "", None, None),
    ("icmpgw_vmhwm_mib", "icmpgw peak RSS (VmHWM)", "MiB", "abs<=", 64.0),
    ("chain_vmhwm_mib", "  of the 5-router chain", "MiB", "abs<=", 64.0),
]

# The virtual-hops figure compares icmpgw with itself: metric hops_pps on
# topologies router1 and chain5; the cost of 4 more hops must be <= 10%.
HOPS_TARGET_PCT = 10.0


# Rows where icmpgw/kernel means nothing (shares, counts of losses).
NO_RATIO = {"udp64_drop_pct", "udp64_cli_txdrop_pct", "ping5ms_loss", "ping1ms_loss"}


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    a = abs(v)
    if a >= 100000:
        return "%.0fk" % (v / 1000)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    if a == 0:
        return "0"
    return "%.3f" % v


def main():
    path, out = sys.argv[1], sys.argv[2]
    meta = dict(kv.split("=", 1) for kv in sys.argv[3:])
    data = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) != 4:
            continue
        try:
            v = float(f[3])
        except ValueError:
            continue
        if math.isnan(v):
            continue
        data.setdefault(f[0], {}).setdefault(f[1], []).append((int(f[2]), v))

    summary = {}
    lines = []
    head = "%-42s %-6s %-24s %-24s %-8s %s" % ("WORKLOAD", "UNIT", "KERNEL median [min-max]", "ICMPGW median [min-max]", "ICMPGW/K", "TARGET")
    lines.append(head)
    lines.append("-" * len(head))
    for metric, label, unit, kind, target in ROWS:
        row = {"label": label, "unit": unit}
        cells = []
        med = {}
        for topo in ("kernel", "icmpgw"):
            vals = [v for _, v in sorted(data.get(metric, {}).get(topo, []))]
            if vals:
                m = statistics.median(vals)
                med[topo] = m
                row[topo] = {"median": m, "min": min(vals), "max": max(vals), "rounds": vals}
                cells.append("%s [%s-%s]" % (fmt(m), fmt(min(vals)), fmt(max(vals))) if len(vals) > 1 else fmt(m))
            else:
                cells.append("-")
        ratio = None
        if metric not in NO_RATIO and med.get("kernel", 0) > 0 and "icmpgw" in med:
            ratio = med["icmpgw"] / med["kernel"]
            row["ratio"] = ratio
        verdict = ""
        if kind:
            ok = None
            if kind == "ratio>=" and ratio is not None:
                ok, want = ratio >= target, ">=%.1fx" % target
            elif kind == "ratio<=" and ratio is not None:
                ok, want = ratio <= target, "<=%.1fx" % target
            elif kind == "abs<=" and "icmpgw" in med:
                ok, want = med["icmpgw"] <= target, "<=%g %s" % (target, unit)
            elif kind == "equal" and len(med) == 2:
                ok, want = med["icmpgw"] == med["kernel"], "equal"
            if ok is not None:
                verdict = "%s %s" % (want, "ok" if ok else "MISSED")
                row["target"] = want
                row["met"] = ok
        summary[metric] = row
        lines.append("%-42s %-6s %-24s %-24s %-8s %s" % (label, unit, cells[0], cells[1],
                                                         ("%.2fx" % ratio) if ratio is not None else "-", verdict))

    hops = {t: [v for _, v in sorted(data.get("hops_pps", {}).get(t, []))] for t in ("router1", "chain5")}
    if hops["router1"] and hops["chain5"]:
        m1, m5 = statistics.median(hops["router1"]), statistics.median(hops["chain5"])
        cost = 100 * (1 - m5 / m1) if m1 > 0 else float("nan")
        ok = cost <= HOPS_TARGET_PCT
        cells = ["%s [%s-%s]" % (fmt(statistics.median(v)), fmt(min(v)), fmt(max(v))) for v in (hops["router1"], hops["chain5"])]
        lines.append("")
        lines.append("%-42s %-6s %-24s %-24s %-8s %s" % ("VIRTUAL HOPS (icmpgw only)", "UNIT", "1 ROUTER", "5 ROUTERS", "COST", "TARGET"))
        lines.append("%-42s %-6s %-24s %-24s %-8s %s" % ("UDP 64 B forwarded", "pkt/s", cells[0], cells[1], "%.1f%%" % cost,
                                                         "<=%g%% %s" % (HOPS_TARGET_PCT, "ok" if ok else "MISSED")))
        summary["hops_pps"] = {"label": "UDP 64 B forwarded, 1 router vs 5-router chain", "unit": "pkt/s",
                               "router1": {"median": m1, "rounds": hops["router1"]},
                               "chain5": {"median": m5, "rounds": hops["chain5"]},
                               "cost_pct": cost, "target": "<=%g%%" % HOPS_TARGET_PCT, "met": ok}

    print()
    print("=== icmpgw vs Linux kernel forwarding, %s round(s) each, alternately; %s" % (meta.get("rounds", "?"), meta.get("date", "")))
    print("    %s, kernel %s, %s, iperf3 %s, icmpgw %s, %s s" % (meta.get("cpu", "?"), meta.get("kernel", "?"), meta.get("go", "?"),
                                                               meta.get("iperf3", "?"), meta.get("commit", "?"), meta.get("seconds", "?")))
    print("\n".join(lines))
    if out != "-":
        with open(out, "w") as fh:
            json.dump({"meta": meta, "metrics": summary}, fh, indent=2)
            fh.write("\n")
        print("figures written to %s" % out)


main()
