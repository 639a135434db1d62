"""Wall time of the quick CLI commands (``--help``, ``zoo --help``, ``info``), optionally against a
baseline revision, interleaved round by round so both sides see the same machine load.

Importing torch, onnxruntime or TensorFlow costs ~1-3 s; commands that do not need them must not pay
for it. Each configuration is one fresh ``python`` process per round (what a user's shell does); the
table shows median and min per command, and with ``--baseline`` the ratio to the baseline. Two
reference rows put the numbers in context: a bare interpreter, and ``import torch`` alone.

    .venv/bin/python benchmarks/bench_cli_startup.py [--baseline REV] [--rounds 15] [--json FILE]

``--baseline REV`` checks REV out into a temporary git worktree and runs its CLI with the same
interpreter and installed dependencies (the editable install's import hook is bypassed for that
process, so ``rep_deploy`` comes from the worktree).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the CLI of the tree at argv[1] with argv[2:], importing rep_deploy from that tree.
_RUN_TREE = """
import sys
tree = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "ScikitBuild" not in type(f).__name__
                    and "skbc" not in type(f).__module__]
sys.path.insert(0, tree)
sys.argv = ["rep-deploy", *sys.argv[2:]]
from rep_deploy.cli import main
main()
"""


def _demo_file(out: Path) -> Path:
    """A real exported model for ``info`` (the shipped demo; exported once, then reused)."""
    path = out / "model.onnx"
    if not path.is_file():
        subprocess.run([sys.executable, "-m", "rep_deploy", "export", "rep-resnet20-digits",
                        "--pretrained", "--force", "--reference-images", "0", "-o", str(out)],
                       check=True, capture_output=True)
    return path


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): "
                         f"{r.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", metavar="REV", help="git revision to compare with (e.g. HEAD~3)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--model", type=Path, help="ONNX file for `info` (default: export the demo)")
    ap.add_argument("--json", type=Path, default=Path("out/bench_cli_startup.json"))
    args = ap.parse_args(argv)

    model = args.model or _demo_file(ROOT / "out" / "bench_cli_demo")
    commands = {"--help": ["--help"], "zoo --help": ["zoo", "--help"], "info": ["info", str(model)]}
    py = sys.executable
    trees = {"current": str(ROOT)}
    tmp = None
    if args.baseline:
        tmp = tempfile.mkdtemp(prefix="rep-deploy-baseline-")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, args.baseline],
                       check=True, capture_output=True)
        (Path(tmp) / "rep_deploy" / "models").symlink_to(Path(tmp) / "models")
        trees = {f"baseline {args.baseline}": tmp, **trees}
    configs: dict[str, list[str]] = {"python (bare interpreter)": [py, "-c", "pass"],
                                     "python -c 'import torch'": [py, "-c", "import torch"]}
    for label, tree in trees.items():
        for name, cli_args in commands.items():
            configs[f"{name} [{label}]"] = [py, "-c", _RUN_TREE, tree, *cli_args]
    try:
        for cmd in configs.values():  # warm the file cache once
            _time(cmd)
        times: dict[str, list[float]] = {k: [] for k in configs}
        for _ in range(args.rounds):
            for label, cmd in configs.items():
                times[label].append(_time(cmd))
    finally:
        if tmp:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp],
                           capture_output=True)

    rows = [{"command": k, "median_s": statistics.median(v), "min_s": min(v), "rounds": len(v)}
            for k, v in times.items()]
    base = {r["command"].split(" [")[0]: r for r in rows if "[baseline" in r["command"]}
    width = max(len(r["command"]) for r in rows)
    print(f"{'command':<{width}}  median s   min s   vs baseline (median)")
    for r in rows:
        b = base.get(r["command"].split(" [")[0]) if "[current]" in r["command"] else None
        ratio = f"{b['median_s'] / r['median_s']:.1f}x faster" if b else ""
        r["speedup_vs_baseline"] = b["median_s"] / r["median_s"] if b else None
        print(f"{r['command']:<{width}}  {r['median_s']:8.3f}  {r['min_s']:6.3f}   {ratio}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rounds": args.rounds, "baseline": args.baseline, "rows": rows},
                                    indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
