#!/usr/bin/env python3
"""Charts for a `nebula bench` run.

Usage: plot.py RESULTS_JSON [OUT_DIR]

Reads the results.json written by `nebula bench` and writes SVG charts next
to it (or into OUT_DIR), printing the path of each file written, one per line:

  startup.svg  start-up time of every measured call, per runtime (log axis)
  total.svg    total time per function: p50 bars, p90 whiskers (log axis)
  cpu.svg      CPU per invocation: the server's records and the system-wide
               /proc/stat figure above idle (log axis)
  memory.svg   peak memory per invocation (log axis)

Every number comes from results.json; this script only draws. It needs
matplotlib (Debian: python3-matplotlib).
"""

import json
import os
import random
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

COLORS = {"wasm": "#654ff0", "docker-cold": "#1d63ed", "docker-warm": "#7fb2ff"}
LABELS = {"wasm": "wasm", "docker-cold": "docker cold", "docker-warm": "docker warm"}

# A warm container is reused: its start-up is 0, which a log axis cannot
# show. Those calls are drawn at this floor and labelled as such.
ZERO_FLOOR_US = 1.0


def fmt_us(value, _pos=None):
    if value >= 1e6:
        return f"{value / 1e6:g} s"
    if value >= 1e3:
        return f"{value / 1e3:g} ms"
    return f"{value:g} µs"


def fmt_bytes(value, _pos=None):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value:g} B"


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    # No date in the file: the same results give the same SVG.
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    print(path)


def runtimes_of(results):
    return results["settings"]["runtimes"]


def cell(fn, runtime):
    return fn["cells"].get(runtime)


def ok_samples(fn, runtime):
    c = cell(fn, runtime)
    return [s for s in c["samples"] if s["ok"]] if c else []


def subtitle(results):
    m = results["machine"]
    vm = ", VM" if m.get("virtual_machine") else ""
    return (f"{m['cpu_model']} ({m['logical_cpus']} CPUs{vm}) · "
            f"{results['settings']['runs']} calls per function and runtime")


def startup_chart(results, out_dir):
    runtimes = runtimes_of(results)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 1.1 * len(runtimes)))
    rng = random.Random(7)  # fixed jitter: the same results draw the same chart
    data, zero_counts = [], []
    for rt in runtimes:
        values = [s["startup_us"] for fn in results["functions"] for s in ok_samples(fn, rt)]
        zero_counts.append(sum(1 for v in values if v <= 0))
        data.append([max(v, ZERO_FLOOR_US) for v in values] or [ZERO_FLOOR_US])
    positions = list(range(len(runtimes), 0, -1))
    box = ax.boxplot(data, positions=positions, vert=False, widths=0.5, showfliers=False,
                     patch_artist=True, medianprops={"color": "black"})
    for patch, rt in zip(box["boxes"], runtimes):
        patch.set_facecolor(COLORS.get(rt, "grey"))
        patch.set_alpha(0.35)
    for y, values, rt in zip(positions, data, runtimes):
        ax.scatter(values, [y + rng.uniform(-0.18, 0.18) for _ in values], s=9,
                   color=COLORS.get(rt, "grey"), alpha=0.8, linewidths=0)
    for y, zeros, rt in zip(positions, zero_counts, runtimes):
        if zeros:
            ax.annotate(f"{zeros} calls at 0: warm container reused", (ZERO_FLOOR_US, y + 0.3),
                        fontsize=8, color="#333333")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(fmt_us))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(positions)
    ax.set_yticklabels([LABELS.get(rt, rt) for rt in runtimes])
    ax.set_xlabel("start-up time per call (server record, log scale)")
    ax.set_title("Start-up, every measured call of every function\n" + subtitle(results),
                 fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    save(fig, out_dir, "startup.svg")


def grouped_bars(ax, results, value_of, whisker_of=None):
    """Bars per function (x) and runtime (colour); None values are skipped
    and marked n/a. Returns True when anything was drawn."""
    runtimes = runtimes_of(results)
    functions = results["functions"]
    width = 0.8 / len(runtimes)
    drawn = False
    for j, rt in enumerate(runtimes):
        xs, heights, lows, highs = [], [], [], []
        for i, fn in enumerate(functions):
            x = i - 0.4 + width * (j + 0.5)
            c = cell(fn, rt)
            v = value_of(c) if c else None
            if v is None or v <= 0:
                ax.annotate("n/a", (x, 0), ha="center", fontsize=7, color="#777777",
                            xycoords=("data", "axes fraction"), xytext=(0, 4),
                            textcoords="offset points")
                continue
            xs.append(x)
            heights.append(v)
            if whisker_of:
                w = whisker_of(c)
                lows.append(0)
                highs.append(max((w or v) - v, 0))
        if not xs:
            continue
        drawn = True
        ax.bar(xs, heights, width=width * 0.95, color=COLORS.get(rt, "grey"),
               label=LABELS.get(rt, rt),
               yerr=[lows, highs] if whisker_of else None, capsize=2 if whisker_of else 0,
               error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
    ax.set_xticks(range(len(functions)))
    ax.set_xticklabels([fn["name"] for fn in functions], rotation=30, ha="right")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(axis="y", which="major", alpha=0.3)
    return drawn


def summary_value(metric, stat):
    def get(c):
        d = c["summary"][metric]
        return d.get(stat) if d.get("count") else None
    return get


def total_chart(results, out_dir):
    n = len(results["functions"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * n + 2), 4.5))
    grouped_bars(ax, results, summary_value("total_us", "p50"), summary_value("total_us", "p90"))
    ax.yaxis.set_major_formatter(FuncFormatter(fmt_us))
    ax.set_ylabel("total time per call (log scale)")
    ax.set_title("Total time per call: p50 bars, p90 whiskers\n" + subtitle(results), fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(fig, out_dir, "total.svg")


def cpu_chart(results, out_dir):
    n = len(results["functions"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(10, 2.4 * n + 3), 4.5))
    grouped_bars(left, results, summary_value("cpu_us", "mean"))
    left.yaxis.set_major_formatter(FuncFormatter(fmt_us))
    left.set_title("CPU per invocation, server records\n(wasm: thread CPU, docker: container "
                   "cgroup)", fontsize=10)
    drawn = grouped_bars(right, results, lambda c: c["summary"].get("system_cpu_us_per_call"))
    right.yaxis.set_major_formatter(FuncFormatter(fmt_us))
    right.set_title("System-wide CPU per invocation above idle\n(/proc/stat: includes dockerd, "
                    "containerd, runc, kernel)", fontsize=10)
    if not drawn:
        right.text(0.5, 0.5, "no system-wide figures", transform=right.transAxes, ha="center")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels),
               bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(subtitle(results), fontsize=9, y=1.02)
    save(fig, out_dir, "cpu.svg")


def memory_chart(results, out_dir):
    n = len(results["functions"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * n + 2), 4.5))
    grouped_bars(ax, results, summary_value("max_memory_bytes", "p50"))
    ax.yaxis.set_major_formatter(FuncFormatter(fmt_bytes))
    ax.set_ylabel("peak memory per call, p50 (log scale)")
    ax.set_title("Peak memory: wasm linear memory, docker cold cgroup peak, docker warm "
                 "process max RSS\n" + subtitle(results), fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(fig, out_dir, "memory.svg")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        results = json.load(f)
    out_dir = argv[2] if len(argv) == 3 else os.path.dirname(os.path.abspath(argv[1]))
    plt.rcParams["svg.hashsalt"] = "nebula-bench"
    plt.rcParams["font.size"] = 9
    startup_chart(results, out_dir)
    total_chart(results, out_dir)
    cpu_chart(results, out_dir)
    memory_chart(results, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
