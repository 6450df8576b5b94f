#!/usr/bin/env python3
"""Charts for a `nebula bench --suite near-zero` run.

Usage: plot_near_zero.py NEAR_ZERO_JSON [OUT_DIR]

Reads the near-zero.json written by `nebula bench --suite near-zero` and
writes SVG charts next to it (or into OUT_DIR), printing the path of each
file written, one per line:

  near-zero-resources.svg  machine CPU, server RSS and Docker engine RSS
                           against the offered rate, per runtime (log-log)
  near-zero-latency.svg    latency p50 and p99 (from the intended send time)
                           against the offered rate, per runtime (log-log)

A log axis has no 0: the idle row (offered rate 0) is drawn at a floor
below the smallest offered rate and labelled "0 (idle)". Every number comes
from near-zero.json; this script only draws. It needs matplotlib (Debian:
python3-matplotlib).
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

COLORS = {"wasm": "#654ff0", "docker-cold": "#1d63ed", "docker-warm": "#7fb2ff"}
LABELS = {"wasm": "wasm", "docker-cold": "docker cold", "docker-warm": "docker warm"}


def fmt_us(value, _pos=None):
    if value >= 1e6:
        return f"{value / 1e6:.3g} s"
    if value >= 1e3:
        return f"{value / 1e3:.3g} ms"
    return f"{value:.3g} µs"


def fmt_bytes(value, _pos=None):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g} B"


def fmt_cores(value, _pos=None):
    return f"{value:.3g}"


def fmt_rate(value, _pos=None):
    return f"{value:g}"


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    # No date in the file: the same results give the same SVG.
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    print(path)


def measured_rows(curve):
    """The rows that ran, by offered rate: (offered, row) pairs."""
    rows = [r for r in curve["rows"] if r["kind"] != "not offered"]
    return sorted(((r["offered_per_s"], r) for r in rows), key=lambda pair: pair[0])


def idle_floor(results):
    """Where rate 0 is drawn: a step below the smallest rate offered."""
    positive = [offered for curve in results["curves"].values()
                for offered, _ in measured_rows(curve) if offered > 0]
    return min(positive) / 3 if positive else 0.1


def subtitle(results):
    m = results["machine"]
    vm = ", VM" if m.get("virtual_machine") else ""
    return f"{m['cpu_model']} ({m['logical_cpus']} CPUs{vm})"


def rate_axis(ax, floor, with_idle=True):
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(fmt_rate))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if with_idle:
        low, high = ax.get_xlim()
        # Only ticks inside the drawn range: set_xticks would widen it.
        ticks = [t for t in ax.get_xticks() if floor * 1.5 < t <= high and t >= low]
        ax.set_xticks([floor] + ticks)
        ax.set_xticklabels(["0 (idle)"] + [fmt_rate(t) for t in ticks])
    ax.set_xlabel("offered rate, requests per second (log scale)")
    ax.grid(which="major", alpha=0.3)


def log_y_axis(ax, formatter):
    """A log y axis labelled even when the values span less than a decade
    (no power of ten in range): then every tick between gets a label."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    low, high = ax.get_ylim()
    if low > 0 and high / low < 4:
        # Nearly flat: a range of ×4 around it shows it as flat, not as
        # noise blown up to the whole height.
        middle = (low * high) ** 0.5
        low, high = middle / 2, middle * 2
        ax.set_ylim(low, high)
    if low > 0 and high / low < 30:
        ax.yaxis.set_minor_formatter(FuncFormatter(formatter))
        ax.tick_params(axis="y", which="minor", labelsize=7)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def draw_series(ax, results, value_of, floor, positive_floor):
    """One line per runtime through its measured rows; the saturation row
    gets a star. Values ≤ 0 (or missing) are skipped. True if anything was
    drawn."""
    drawn = False
    for runtime, curve in results["curves"].items():
        xs, ys, sat = [], [], None
        for offered, row in measured_rows(curve):
            value = value_of(row)
            if value is None or value <= 0:
                continue
            x = offered if offered > 0 else floor
            xs.append(x)
            ys.append(max(value, positive_floor))
            if row["kind"] == "saturation":
                sat = (x, max(value, positive_floor))
        if not xs:
            continue
        drawn = True
        ax.plot(xs, ys, marker="o", markersize=4, color=COLORS.get(runtime, "grey"),
                label=LABELS.get(runtime, runtime))
        if sat:
            ax.plot([sat[0]], [sat[1]], marker="*", markersize=11,
                    color=COLORS.get(runtime, "grey"), linestyle="none")
    return drawn


def resources_chart(results, out_dir):
    floor = idle_floor(results)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    panels = [
        ("machine CPU, cores (all processes)", lambda r: r.get("machine_cpu_cores"),
         fmt_cores, 1e-4),
        ("Nebula server resident memory (avg)", lambda r: r.get("server_rss_avg_bytes"),
         fmt_bytes, 1.0),
        ("Docker engine resident memory (avg)", lambda r: r.get("engine_rss_avg_bytes"),
         fmt_bytes, 1.0),
    ]
    for ax, (title, value_of, formatter, positive_floor) in zip(axes, panels):
        drawn = draw_series(ax, results, value_of, floor, positive_floor)
        ax.set_title(title, fontsize=10)
        if not drawn:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "not measured (no Docker)" if "engine" in title else "no data",
                    transform=ax.transAxes, ha="center", color="#777777")
            continue
        log_y_axis(ax, formatter)
        rate_axis(ax, floor)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels),
                   bbox_to_anchor=(0.5, -0.08))
    fig.suptitle("Resource use against offered load (★ = saturation)\n" + subtitle(results),
                 fontsize=10, y=1.03)
    save(fig, out_dir, "near-zero-resources.svg")


def latency_chart(results, out_dir):
    floor = idle_floor(results)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    drawn = False
    for runtime, curve in results["curves"].items():
        color = COLORS.get(runtime, "grey")
        for stat, style in (("p50", "-"), ("p99", "--")):
            xs, ys = [], []
            for offered, row in measured_rows(curve):
                value = (row.get("latency_us") or {}).get(stat)
                if offered <= 0 or value is None or value <= 0:
                    continue
                xs.append(offered)
                ys.append(value)
            if not xs:
                continue
            drawn = True
            ax.plot(xs, ys, linestyle=style, marker="o", markersize=3, color=color,
                    label=f"{LABELS.get(runtime, runtime)} {stat}")
    if drawn:
        log_y_axis(ax, fmt_us)
    rate_axis(ax, floor, with_idle=False)
    ax.set_ylabel("latency from the intended send time (log scale)")
    ax.set_title("Latency against offered load (open loop; the last point of each line is "
                 "the saturation rate)\n" + subtitle(results), fontsize=10)
    if drawn:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.text(0.5, 0.5, "no latency measured", transform=ax.transAxes, ha="center")
    save(fig, out_dir, "near-zero-latency.svg")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        results = json.load(f)
    out_dir = argv[2] if len(argv) == 3 else os.path.dirname(os.path.abspath(argv[1]))
    plt.rcParams["svg.hashsalt"] = "nebula-bench-near-zero"
    plt.rcParams["font.size"] = 9
    resources_chart(results, out_dir)
    latency_chart(results, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
