#!/usr/bin/env python3
"""Turns a stubfuzz_bench JSON file into report.md and SVG plots, or compares
two such files (--compare A.json B.json). Standard library only; the plots
are drawn by scripts/plot (matplotlib), which reads the same JSON with load()."""
import argparse
import json
import os
import platform
import subprocess
import sys

GOALS_SPAWN = 1.10
GOALS_NOTIFY = 1.20
GOALS_SCALE = 1.20
GOALS_KIB = 100.0
GOALS_FUZZ = 2.0
# Issue #13's: the factory's spawn against its raw floor and the seed path's,
# a reset against a fresh stub, a blocked record end to end, and spawns with
# 1,000 live stubs against one.
GOALS_FACTORY_FLOOR = 1.2
GOALS_FACTORY_SEED = 0.3
GOALS_RESET = 0.1
GOALS_BLOCKED_US = 500.0
GOALS_SCALE_SPAWN = 1.2
# The campaign's programs a second (where a fork takes under 100 µs).
GOALS_PROGRAMS_PER_S = 10_000
# fuzz::ProgramClass, as BM_FuzzThroughput names its counters.
CLASSES = ["trapped_only", "executed", "killed", "blocked", "spun"]
PHASES = ["setup_ns", "clone_exec_ns", "pidfd_open_ns", "ready_ns", "getfd_ns"]
PHASE_LABELS = ["setup", "clone/exec", "pidfd_open", "ready (filter installed)", "pidfd_getfd"]
PLOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "plot")


def short(name):
    for suffix in ("/manual_time", "/real_time", "/iterations:1"):
        name = name.replace(suffix, "")
    return name


def load(path):
    """{name: {"median": us, "p90": us, "mean": us, "counters": {...}}}"""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc.get("benchmarks", []):
        if b.get("error_occurred"):
            out.setdefault(short(b.get("run_name", b["name"])), {})["error"] = b.get("error_message", "")
            continue
        name = short(b.get("run_name", b["name"]))
        agg = b.get("aggregate_name", "")
        if b.get("run_type") == "iteration":
            agg = "median"  # a run without repetitions: one value
        if agg not in ("median", "p90", "mean"):
            continue
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        e = out.setdefault(name, {"counters": {}})
        e[agg] = b["real_time"] * scale
        if agg == "median":
            skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads",
                    "aggregate_name", "aggregate_unit", "iterations", "real_time", "cpu_time",
                    "time_unit", "family_index", "per_family_instance_index", "error_occurred",
                    "error_message"}
            e["counters"] = {k: v for k, v in b.items() if k not in skip and isinstance(v, (int, float))}
            e["iterations"] = b.get("iterations")
    return doc.get("context", {}), out


def floor_of(name, results):
    """BM_X/harness_Y pairs with BM_X/floor_Y; BM_X/harness/arg with BM_X/floor/arg;
    BM_X/harness_Y/arg, when no BM_X/floor_Y/arg ran, with the shared BM_X/floor_Y."""
    parts = name.split("/")
    if len(parts) < 2 or not parts[1].startswith("harness"):
        return None
    floor = parts[1].replace("harness", "floor", 1)
    for cand in ("/".join([parts[0], floor] + parts[2:]), "/".join([parts[0], floor])):
        if cand in results:
            return cand
    return None


def listener_table(results, names):
    """BM_Profile*: each profile's row against the listener profile's (same call, same run)."""
    ref = next((n for n in names if n.endswith("/listener") and "median" in results[n]), None)
    if not ref:
        return ""
    base = results[ref]["median"]
    rows = ["| benchmark | median µs | − listener µs | /listener |", "|---|---:|---:|---:|"]
    for n in names:
        m = results[n].get("median")
        if m is None or n == ref or "/floor" in n:
            continue
        rows.append(f"| {n} | {fmt(m)} | {fmt(m - base)} | {m / base:.2f}x |")
    return f"Against {ref.split('/', 1)[1]} ({fmt(base)} µs):\n\n" + "\n".join(rows)


def throughput_table(results, names):
    """BM_FuzzThroughput: the measurement against its floor model, and each
    class's share, raw cost and measured time."""
    md = []
    for n in names:
        c = results[n].get("counters", {})
        if "floor_programs_per_s" not in c:
            continue
        md += [f"{n}: measured {c['programs_per_s']:.0f} programs/s, floor model "
               f"{c['floor_programs_per_s']:.0f} programs/s ({fmt(c['floor_us'])} µs a program); "
               f"measured/floor {c['ratio']:.2f}x (without the /proc wait of blocked and spun: "
               f"{c.get('ratio_without_detect', 0):.2f}x)", "",
               "| class | share | raw µs (floor, p25) | raw µs p50 | of it /proc wait µs | measured µs |",
               "|---|---:|---:|---:|---:|---:|"]
        for k in CLASSES:
            g = lambda key: c.get(key.format(k))
            md.append(f"| {k.replace('_', ' ')} | {100 * (g('share_{}') or 0):.1f}% | {fmt(g('raw_{}_us'))} | "
                      f"{fmt(g('raw_{}_p50_us'))} | {fmt(g('raw_{}_detect_us'))} | {fmt(g('measured_{}_us'))} |")
        md.append("")
    return "\n".join(md)


def machine():
    model, nproc = "?", str(os.cpu_count())
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or nproc
    except OSError:
        pass
    return model, nproc, platform.release()


def fmt(v, unit="us"):
    if v is None:
        return "–"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def table(results, names):
    rows = ["| benchmark | median µs | p90 µs (reps) | per-iter p50 µs | per-iter p90 µs | floor | harness/floor |",
            "|---|---:|---:|---:|---:|---|---:|"]
    for n in names:
        e = results[n]
        if "error" in e and "median" not in e:
            rows.append(f"| {n} | error: {e['error']} | | | | | |")
            continue
        c = e.get("counters", {})
        f = floor_of(n, results)
        r = ratio(e.get("median"), results[f].get("median")) if f else None
        p50 = c.get("p50_ns")
        p90 = c.get("p90_ns")
        rows.append(f"| {n} | {fmt(e.get('median'))} | {fmt(e.get('p90'))} | "
                    f"{fmt(p50 / 1e3) if p50 else '–'} | {fmt(p90 / 1e3) if p90 else '–'} | "
                    f"{f.split('/', 1)[1] if f else ''} | {f'{r:.2f}x' if r else ''} |")
    return "\n".join(rows)


def phase_table(results, names):
    rows = ["| benchmark | " + " | ".join(PHASE_LABELS) + " | total µs |",
            "|---|" + "---:|" * (len(PHASES) + 1)]
    for n in names:
        c = results[n].get("counters", {})
        if "setup_ns" not in c:
            continue
        rows.append(f"| {n} | " + " | ".join(fmt(c[p] / 1e3) for p in PHASES) +
                    f" | {fmt(results[n].get('median'))} |")
    return "\n".join(rows)


def draw_plots(path, out):
    """The plots' file names, as scripts/plot wrote them into out; none (and
    one line on stderr) when it cannot: the tables do not need them."""
    try:
        r = subprocess.run([PLOT, "bench", path, out], capture_output=True, text=True)
    except OSError as e:
        print(f"report.py: no plots: {PLOT}: {e}", file=sys.stderr)
        return []
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        print(f"report.py: no plots: {lines[-1] if lines else f'exit {r.returncode}'}",
              file=sys.stderr)
        return []
    return r.stdout.split()


def scale_series(results, prefix, key=None):
    out = []
    for n, e in results.items():
        if n.startswith(prefix + "/live:") and "median" in e:
            y = e["counters"].get(key) if key else e["median"]
            if y is not None:
                out.append((int(n.rsplit(":", 1)[1]), y))
    return sorted(out)


def goal(ok):
    return "**met**" if ok else "**not met**"


def ceiling_verdict(share):
    """What a goal of `share` times the kernel's own ceiling leaves to an executor."""
    if share > 1:
        return "**out of reach on this machine**"
    if share > 0.9:
        return "**reachable only by an executor that costs next to nothing**"
    return "within reach"


def ceiling_goal(results, machine_cpus):
    """The 10,000 programs/s goal against BM_FuzzCeiling's best: what the
    kernel alone sustains for a campaign's mix on every CPU the run had."""
    ceil = [e.get("counters", {}) for n, e in results.items() if n.startswith("BM_FuzzCeiling/")]
    ceil = [c for c in ceil if "programs_per_s" in c]
    if not ceil:
        return None
    best = max(ceil, key=lambda c: c["programs_per_s"])
    c = best["programs_per_s"]
    cpus = int(best.get("cpus", 0))
    audited = " (every seccomp kill audited)" if best.get("kills_audited") else ""
    # A pinned run's ceiling is one CPU's, not that of the machine a campaign uses.
    pinned = machine_cpus and cpus < machine_cpus
    where = f"{cpus} CPU{'s' if cpus != 1 else ''} at once" + \
        (f", fewer than the machine's {machine_cpus}: the run was pinned" if pinned else "")
    verdict = "not judged on fewer CPUs than a campaign has" if pinned else \
        ceiling_verdict(GOALS_PROGRAMS_PER_S / c)
    return (f"- {GOALS_PROGRAMS_PER_S:,} programs/s against what the kernel alone sustains here "
            f"(BM_FuzzCeiling: the floor model's raw programs on {where}, best of its thread counts): "
            f"{c:,.0f} programs/s{audited}, so the goal asks for "
            f"{100 * GOALS_PROGRAMS_PER_S / c:.0f}% of the kernel's own ceiling — {verdict}")


def goals(results, machine_cpus=None):
    g = []
    m = lambda n: results.get(n, {}).get("median")
    for h, f in (("BM_Spawn/harness_uml_clone", "BM_Spawn/floor_uml_clone"),
                 ("BM_Spawn/harness_clone_pidfd", "BM_Spawn/floor_clone_pidfd")):
        r = ratio(m(h), m(f))
        if r:
            hc, fc = results[h]["counters"], results[f]["counters"]
            worst = max(PHASES, key=lambda p: hc.get(p, 0) - fc.get(p, 0))
            g.append(f"- spawn→listener within {GOALS_SPAWN:.2f}x of its floor ({h.split('/')[1]}): "
                     f"{r:.3f}x — {goal(r <= GOALS_SPAWN)}; the largest phase difference is "
                     f"{PHASE_LABELS[PHASES.index(worst)]} (+{(hc.get(worst, 0) - fc.get(worst, 0)) / 1e3:.1f} µs)")
    r = ratio(m("BM_Notify/harness_sync_wake_up"), m("BM_Notify/floor_sync_wake_up"))
    if r:
        g.append(f"- notification round trip with SYNC_WAKE_UP within {GOALS_NOTIFY:.1f}x of its floor: "
                 f"{r:.2f}x — {goal(r <= GOALS_NOTIFY)}")
    r = ratio(m("BM_ScaleNotify/harness/live:1000"), m("BM_ScaleNotify/harness/live:1"))
    if r:
        g.append(f"- notification latency with 1000 live stubs within {GOALS_SCALE:.1f}x of one stub: "
                 f"{r:.2f}x — {goal(r <= GOALS_SCALE)}")
    fz = results.get("BM_FuzzThroughput", {}).get("counters", {})
    if "ratio" in fz:
        r = fz["ratio"]
        g.append(f"- fuzz throughput within {GOALS_FUZZ:.0f}x of its floor model for a campaign's class mix "
                 f"(BM_FuzzThroughput): {r:.2f}x — {goal(r <= GOALS_FUZZ)}; {fz['programs_per_s']:.0f} "
                 f"programs/s against {fz['floor_programs_per_s']:.0f}")
    line = ceiling_goal(results, machine_cpus)
    if line:
        g.append(line)
    r = ratio(m("BM_Spawn/pooled_factory"), m("BM_Spawn/floor_factory"))
    if r:
        g.append(f"- factory stub ready within {GOALS_FACTORY_FLOOR:.1f}x of its raw floor "
                 f"(pooled_factory / floor_factory): {r:.2f}x — {goal(r <= GOALS_FACTORY_FLOOR)}")
    r = ratio(m("BM_Spawn/pooled_factory"), m("BM_Spawn/pooled_seed_path"))
    if r:
        floor = ratio(m("BM_Spawn/floor_factory"), m("BM_Spawn/pooled_seed_path"))
        g.append(f"- factory stub in ≤ {GOALS_FACTORY_SEED:.1f}x of the seed path's spawn: {r:.2f}x — "
                 f"{goal(r <= GOALS_FACTORY_SEED)}" +
                 (f"; the raw floor alone is {floor:.2f}x" if floor else ""))
    # Registered with fixed iterations: its name carries them.
    rs = next((e for n, e in results.items() if n.startswith("BM_Spawn/pooled_reset")), {})
    if rs.get("median") and rs.get("counters", {}).get("fresh_us"):
        r = rs["median"] / rs["counters"]["fresh_us"]
        g.append(f"- a reset stub in ≤ {GOALS_RESET:.1f}x of a fresh one: {r:.3f}x — "
                 f"{goal(r <= GOALS_RESET)}")
    b = m("BM_Fuzz/blocked")
    if b:
        g.append(f"- a blocked record in ≤ {GOALS_BLOCKED_US:.0f} µs end to end (BM_Fuzz/blocked): "
                 f"{b:.0f} µs — {goal(b <= GOALS_BLOCKED_US)}")
    for name in ("factory", "harness"):
        r = ratio(m(f"BM_ScaleSpawn/{name}/live:1000"), m(f"BM_ScaleSpawn/{name}/live:1"))
        if r:
            what = "the factory's" if name == "factory" else "the seed path's"
            g.append(f"- {what} spawn with 1000 live stubs within {GOALS_SCALE_SPAWN:.1f}x of one: "
                     f"{r:.2f}x — {goal(r <= GOALS_SCALE_SPAWN)}")
    mem = results.get("BM_ScaleMemory/harness/live:1000", {}).get("counters", {})
    if "user_total_kib" in mem:
        t = mem["user_total_kib"]
        g.append(f"- ≤ {GOALS_KIB:.0f} KiB per live stub (stub Pss + monitor Pss growth, 1000 stubs): "
                 f"{t:.1f} KiB — {goal(t <= GOALS_KIB)}; kernel memory (kernel stacks, page tables, "
                 f"slab; /proc/meminfo delta, noisy) adds {mem.get('kernel_kib', 0):.1f} KiB")
    return "\n".join(g)


def report(path, out, note):
    ctx, results = load(path)
    os.makedirs(out, exist_ok=True)
    model, nproc, kernel = machine()
    families = {}
    for n in results:
        families.setdefault(n.split("/")[0], []).append(n)
    md = [f"# stubfuzz benchmarks", "",
          f"- machine: {model}, nproc {nproc}; kernel {kernel}",
          f"- run: {ctx.get('date', '?')}, {os.path.basename(path)}; {note}".rstrip("; "),
          "- median and p90 are over repetitions; per-iter p50/p90 are the medians over repetitions "
          "of each run's per-iteration percentiles. harness/floor = median ratio.", "",
          "## Goals", "", goals(results, ctx.get("num_cpus")) or "(the goal benchmarks were not run)", ""]
    for fam, names in families.items():
        md += [f"## {fam}", "", table(results, names), ""]
        if any("setup_ns" in results[n].get("counters", {}) for n in names):
            md += ["Phases (µs, per iteration, medians):", "", phase_table(results, names), ""]
        if fam == "BM_FuzzThroughput":
            md += [throughput_table(results, names)]
        if fam.startswith("BM_Profile") and listener_table(results, names):
            md += [listener_table(results, names), ""]
        if fam == "BM_ScaleMemory":
            md += ["| live stubs | stub Pss KiB | monitor RSS KiB/stub | monitor Pss KiB/stub | user total KiB | kernel KiB |",
                   "|---:|---:|---:|---:|---:|---:|"]
            for n in names:
                c = results[n].get("counters", {})
                md.append(f"| {n.rsplit(':', 1)[1]} | {c.get('stub_pss_kib', 0):.1f} | {c.get('monitor_rss_kib', 0):.1f} | "
                          f"{c.get('monitor_pss_kib', 0):.1f} | {c.get('user_total_kib', 0):.1f} | {c.get('kernel_kib', 0):.1f} |")
            md.append("")
    plots = draw_plots(path, out)
    md += ["## Plots", ""] + [f"![{p}]({p})" for p in plots]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(os.path.join(out, "report.md"))


def compare(a, b):
    _, ra = load(a)
    _, rb = load(b)
    print(f"| benchmark | A median µs | B median µs | B/A |\n|---|---:|---:|---:|")
    for n in ra:
        if n in rb and "median" in ra[n] and "median" in rb[n]:
            print(f"| {n} | {fmt(ra[n]['median'])} | {fmt(rb[n]['median'])} | {rb[n]['median'] / ra[n]['median']:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("json", nargs="?", help="bench.json from stubfuzz_bench")
    ap.add_argument("--out", help="report directory (default: the JSON's)")
    ap.add_argument("--note", default="", help="a line about the run (pinning, mode)")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two JSON files")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.json:
        report(args.json, args.out or os.path.dirname(os.path.abspath(args.json)), args.note)
    else:
        ap.error("give a JSON file or --compare A B")


if __name__ == "__main__":
    sys.exit(main())
