"""Draw a ``bench_roofline.py`` result as a picture: the roofline, and each layer's share of its bound.

Left: the classic roofline of the run. x is a layer's operational intensity (binary MACs per byte it
must move, as the JSON counts them), y the rate it reached (MACs / fastest round); the roof is
min(popcount peak, intensity x copy bandwidth) of the kernel path and machine of that run, with the
measured GEMM peak (``bench_core --peak``) as a second ceiling where the run had it (above the
nominal one when the CPU turbos), and half
the roof dashed: the issue's target is every layer on or above that line. Right: each layer's "% of
bound" in model order, coloured by which bound applies, with the 50% line.

Usage:  python benchmarks/roofline_plot.py out/bench_roofline.json [-o out/roofline.png]
        (``bench_roofline.py --plot FILE.png`` draws the same after a run)
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

TARGET = 0.5  # the issue's: every layer at >= 50% of its own bound


def _kind(name: str) -> str:
    """The layer's family, for its marker: 3x3 convs, 1x1 convs, downsampling pairs."""
    if "Concat" in name:
        return "1x1 pair (downsampling)"
    if "pw" in name or "1x1" in name:
        return "1x1"
    return "3x3"


def plot(result: dict[str, Any], path: str | pathlib.Path) -> pathlib.Path:
    """Write the two-panel PNG of ``result`` (bench_roofline's JSON) to ``path``; returns the path.

    Raises:
        ImportError: matplotlib is missing (the message says how to install it).
        ValueError: the result has no layers or no bandwidth / peak figures.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the roofline plot needs matplotlib: pip install matplotlib "
                          "(or bash scripts/setup.sh)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch

    rows = result.get("layers") or []
    if not rows:
        raise ValueError("the result has no layers to draw")
    threads = int(result.get("threads", 1))
    bw = float(result["bandwidth"]["copy_bytes_per_s"])
    peak = float(result["peak_macs_per_cycle_per_core"]) * float(result["ghz_nominal"]) * 1e9 * threads
    measured = result.get("measured_peak_macs_per_s_per_core")
    measured = float(measured) * threads if measured else None
    if not (bw > 0 and peak > 0):
        raise ValueError("the result lacks the copy bandwidth or the popcount peak")

    intensity = np.array([r["macs"] / r["bytes"] for r in rows])
    rate = np.array([r["macs"] / r["min_s"] for r in rows])
    frac = np.array([r["fraction_of_bound"] for r in rows])
    names = [r["name"] for r in rows]

    fig, (ax, bars) = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [1.1, 1]})
    xs = np.logspace(np.log10(intensity.min() / 2), np.log10(intensity.max() * 2), 200)
    roof = np.minimum(peak, xs * bw)
    ax.loglog(xs, roof, color="black", lw=2, label=f"roof: {peak / 1e9:.0f} GMAC/s popcount peak, "
                                                    f"{bw / 1e9:.1f} GB/s copy")
    ax.loglog(xs, TARGET * roof, color="black", lw=1, ls="--", label="50% of the roof (the target)")
    if measured:
        ax.loglog(xs, np.minimum(measured, xs * bw), color="tab:gray", lw=1, ls=":",
                  label=f"measured GEMM peak {measured / 1e9:.0f} GMAC/s")
    markers = {"3x3": "o", "1x1": "s", "1x1 pair (downsampling)": "D"}
    for kind, marker in markers.items():
        pick = np.array([_kind(n) == kind for n in names])
        if not pick.any():
            continue
        colours = np.where(frac[pick] >= TARGET, "tab:green", "tab:red")
        ax.scatter(intensity[pick], rate[pick], c=colours, marker=marker, s=46, edgecolors="black",
                   linewidths=0.5, zorder=3, label=kind)
    # one label per cluster of nearby points (ReActNet's 14x14 blocks repeat one shape five times)
    placed: list[tuple[float, float, list[str]]] = []
    for i in np.flatnonzero(frac < TARGET):
        x, y = np.log10(intensity[i]), np.log10(rate[i])
        near = next((c for c in placed if abs(c[0] - x) < 0.03 and abs(c[1] - y) < 0.03), None)
        if near:
            near[2].append(names[i])
        else:
            placed.append((x, y, [names[i]]))
    for k, (x, y, group) in enumerate(placed):
        text = group[0].replace("feature.", "f") + (f" (+{len(group) - 1} alike)" if len(group) > 1 else "")
        crowded = any(abs(px - x) < 0.1 and abs(py - y) < 0.05 for px, py, _ in placed[:k])
        ax.annotate(text, (10 ** x, 10 ** y), fontsize=7, textcoords="offset points",
                    xytext=(-5, 5) if crowded else (4, -9), ha="right" if crowded else "left")
    ax.set_xlabel("operational intensity (binary MACs per byte moved)")
    ax.set_ylabel("MAC/s reached (fastest round)")
    ax.grid(True, which="both", alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize=8, loc="lower right")
    below = int((frac < TARGET).sum())
    ax.set_title(f"{below} of {len(rows)} layers below 50% (red); "
                 f"{result['totals']['fraction_of_bound']:.1%} of the bound over the model", fontsize=10)

    y = np.arange(len(rows))[::-1]
    kinds = [r.get("bound_kind", "") for r in rows]
    colour = {"popcount": "tab:blue", "memory": "tab:orange"}
    bars.barh(y, 100 * frac, color=[colour.get(k, "tab:gray") for k in kinds], edgecolor="black", lw=0.4)
    bars.axvline(100 * TARGET, color="black", ls="--", lw=1)
    bars.set_yticks(y, [n.replace("feature.", "f") for n in names], fontsize=7)
    bars.set_xlabel("% of the layer's bound (100% = on the roof)")
    bars.grid(True, axis="x", alpha=0.25)
    bars.set_xlim(0, max(105.0, 105.0 * float(frac.max())))  # turbo can beat the nominal roof
    bars.legend(handles=[Patch(facecolor=c, edgecolor="black", label=f"{k}-bound") for k, c in colour.items()],
                fontsize=8, loc="lower right")
    bars.set_title("each layer, in model order", fontsize=10)

    fig.suptitle(f"{result['model']} ({result.get('graph', 'session')} graph): kernel path "
                 f"{result['kernel_path']}, {threads} thread(s), {result['ghz_nominal']:.2f} GHz nominal; "
                 f"{result.get('machine', '')}", fontsize=11)
    fig.tight_layout()
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(out)  # no half-written PNG if drawing fails
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", help="a JSON file written by bench_roofline.py")
    ap.add_argument("-o", "--output", default="out/roofline.png", help="the PNG to write")
    args = ap.parse_args(argv)
    try:
        result = json.loads(pathlib.Path(args.result).read_text())
        print(plot(result, args.output))
    except (OSError, ValueError, KeyError, ImportError) as e:
        detail = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        print(f"error: {args.result}: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
