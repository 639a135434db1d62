"""The picture of a ``rep-deploy profile`` report: where the OPs go next to where the time goes.

One panel for OPs and one per measured backend; in each, a group of bars per cost kind with one
bar per model (base and Rep side by side when ``--compare`` was given), labelled with the kind's
share of that model's total. A Rep model's extra cost shows as taller bars in the kinds that grow
(BN, tile, elementwise: every float tensor is beta times wider), and the OPs panel next to the
time panels shows how little of that the OPs count sees.

Time per kind is each node's median under its main kind (a fused ``BinaryConvBlock`` under
"binary conv"; see ``rep_deploy.profile.latency``), so the bars of a model add up to its profiled
node time. Drawn with matplotlib's Agg backend (no display needed).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

__all__ = ["KIND_OF_CATEGORY", "render_png"]

# count_onnx_ops categories (latency) -> the OPs rows' kind names (report.ops_rows)
KIND_OF_CATEGORY: dict[str, str] = {
    "binary_conv": "binary conv", "conv": "FP conv", "fc": "FC", "bn": "BatchNorm", "tile": "tile",
    "pooling": "pooling", "elementwise": "elementwise", "other": "other",
}
_RUNTIME = "runtime-added"


def _label(path: str) -> str:
    """A model's short name: its export folder (``out/rep-reactnet-a/model.onnx``), else the file."""
    p = Path(path)
    return p.parent.name if p.parent.name else p.name


def _latency_by_kind(prof: dict[str, Any]) -> dict[str, float]:
    if not prof["by_category"]:  # tflite-lce: whole-model time only
        return {"whole run (no per-op times)": prof["wall"]["median_ms"]}
    out: dict[str, float] = {}
    for cat, v in prof["by_category"].items():
        kind = _RUNTIME if cat.startswith(_RUNTIME) else KIND_OF_CATEGORY.get(cat, cat)
        out[kind] = out.get(kind, 0.0) + v["median_ms"]
    return out


def render_png(doc: dict[str, Any]) -> bytes:
    """Draw the OPs and latency panels of a profile report (``doc`` as ``--json`` writes it) as
    PNG bytes (the caller writes them, after everything else succeeded).

    Raises:
        ImportError: matplotlib is not installed (one line saying how to install it).
        ValueError: ``doc`` holds no per-model OPs (nothing to draw).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install matplotlib (or bash scripts/setup.sh)") from None
    models = doc.get("models") or {}
    if not models:
        raise ValueError("nothing to plot: the report holds no model")
    names = list(models)
    panels: list[tuple[str, str, dict[str, dict[str, float]]]] = [(
        "OPs (millions; paper conventions, BN literal)", "M OPs",
        {m: {r["kind"]: r["ops"] / 1e6 for r in models[m]["rows"]} for m in names})]
    for backend, per_model in (doc.get("latency") or {}).items():
        threads = next(iter(per_model.values()))["threads"]
        panels.append((f"{backend}, {threads} thread{'s' if threads > 1 else ''}: median ms by kind",
                       "ms", {m: _latency_by_kind(per_model[m]) for m in names if m in per_model}))

    o = doc.get("overhead")
    rows = len(panels) + (1 if o else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.0 * rows), squeeze=False)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    if o:
        _overhead_panel(axes[0, 0], doc, names)
    for ax, (title, unit, values) in zip(axes[1 if o else 0:, 0], panels):
        kinds = [k for m in values for k, v in values[m].items() if v > 0]
        kinds = list(dict.fromkeys(kinds))  # first-seen order, no duplicates
        width = 0.8 / max(len(values), 1)
        for j, (m, per_kind) in enumerate(values.items()):
            total = sum(per_kind.values()) or 1.0
            xs = [i + (j - (len(values) - 1) / 2) * width for i in range(len(kinds))]
            ys = [per_kind.get(k, 0.0) for k in kinds]
            bars = ax.bar(xs, ys, width, label=f"{_label(m)} (total {total:.4g} {unit})",
                          color=colors[j % len(colors)])
            for bar, y in zip(bars, ys):
                if y > 0:
                    ax.annotate(f"{y / total:.0%}", (bar.get_x() + bar.get_width() / 2, y),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(kinds)), [k.replace(" ", "\n", 1) if len(k) > 10 else k for k in kinds], fontsize=8)
        ax.set_xlim(-0.6, max(len(kinds), 3) - 0.4)  # a lone group stays bar-sized
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="upper right")
        ax.margins(y=0.15)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _overhead_panel(ax: Any, doc: dict[str, Any], names: list[str]) -> None:
    """Horizontal bars: the Rep model's overhead over its base, in OPs (three conventions) and in
    measured time on each backend (median of interleaved rounds' ratios)."""
    o = doc["overhead"]
    items = [("OPs, no BN", o["ops_without_bn"], "#8c8c8c")]
    if "ops_with_bn_paper" in o:
        items.append(("OPs, BN as the paper counts it", o["ops_with_bn_paper"], "#8c8c8c"))
    items.append(("OPs, BN per element", o["ops_with_bn_literal"], "#8c8c8c"))
    for backend, v in (doc.get("latency_overhead") or {}).items():
        items.append((f"time, {backend} ({v['threads']} thr)", v["paired_ratio"] - 1, "#c44e52"))
    labels, values, colors = zip(*items)
    ys = list(range(len(items)))[::-1]
    ax.barh(ys, [v * 100 for v in values], color=colors)
    for y, v in zip(ys, values):
        ax.annotate(f"{v:+.1%}", (v * 100, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlabel("%")
    ax.axvline(0, color="black", linewidth=0.5)
    ax.margins(x=0.12)
    ax.set_title(f"overhead of {_label(names[0])} over {_label(names[1])}", fontsize=10, loc="left")
