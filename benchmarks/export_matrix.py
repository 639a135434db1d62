"""Export every zoo model (beta 1 and 2 for Rep models) and tabulate what verification measured.

Prints a table and writes JSON (``--json PATH``): per model and beta, the max abs / relative logit
difference and top-1 agreement of each backend against PyTorch, exact-zero sign inputs, file size
against the ideal (1 bit per binary weight, 32 per other parameter) and against the ``--ops standard``
export of the same model.

    .venv/bin/python benchmarks/export_matrix.py [--only NAME ...] [--json out/export_matrix.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rep_deploy import ExportOptions, export_model, get_model_info, list_models


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="model names (default: the whole zoo)")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    ap.add_argument("--images", type=int, default=8, help="verification images (default 8)")
    args = ap.parse_args(argv)
    rows = []
    names = args.only or list_models()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            info = get_model_info(name)
            for beta in ((1, 2) if info.rep_of else (None,)):
                t0 = time.perf_counter()
                shape = (args.images, *info.input_size)
                custom = export_model(name, Path(tmp) / "c", beta=beta, options=ExportOptions(
                    input_shape=shape, reference_images=1))
                standard = export_model(name, Path(tmp) / "s", beta=beta, options=ExportOptions(
                    ops="standard", input_shape=shape, reference_images=0))
                v = custom.report["verification"]
                row = {"model": name, "beta": beta or info.beta,
                       "backends": {b["backend"]: {k: b[k] for k in ("images", "max_abs_diff",
                                                                   "max_rel_diff", "top1_agreement")}
                                    for b in v["backends"]},
                       "standard_max_rel_diff": standard.report["verification"]["backends"][0]["max_rel_diff"],
                       "sign_zero_inputs": v["sign_zero_inputs"],
                       "custom_bytes": custom.report["file_bytes"], "ideal_bytes": custom.report["ideal_bytes"],
                       "standard_bytes": standard.report["file_bytes"],
                       "seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                ort, ref = row["backends"]["onnxruntime (function bodies)"], row["backends"]["onnx.reference"]
                print(f"{name:20s} b={row['beta']}  ORT rel {ort['max_rel_diff']:.1e} top1 "
                      f"{ort['top1_agreement']:.0%} | reference rel {ref['max_rel_diff']:.1e} | standard "
                      f"rel {row['standard_max_rel_diff']:.1e} | zeros {row['sign_zero_inputs']} | "
                      f"{row['custom_bytes'] / 1e6:7.3f} MB = {row['custom_bytes'] / row['ideal_bytes']:.3f} "
                      f"x ideal, standard {row['standard_bytes'] / row['custom_bytes']:.1f} x larger "
                      f"({row['seconds']}s)", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
