"""``rep-deploy bench``: run a model on a device over adb and bring back a record you can keep.

    from rep_deploy.device.adb import connect_server, open_device
    from rep_deploy.device.bench import BenchOptions, bench_model
    dev = open_device(connect_server(), "R58M123ABC")
    record = bench_model(dev, "out/rep/model.onnx", BenchOptions(threads=4, runs=50))
    record["timings_us"]["median"], record["agreement"]["passed"]

One run, per device and model:

1. a fresh folder ``/data/local/tmp/rep-deploy/<time>-<random>/`` (nothing of an earlier run is
   reused, so a half-copied file can never be timed);
2. push: the aarch64 bundle (``rep_deploy.device.bundle``: ``ort_bench`` with ONNX Runtime and
   rep-deploy's kernels for a ``.onnx``; ``tflite_bench`` with Google's stock LiteRT and
   rep-deploy's LCE ops for a ``.tflite``; the loader and C/C++ runtime), the model (a ``.onnx``
   with rep-deploy ops as rep-deploy's sessions load it: ``rep_deploy.runtime.session_model``) and a fixed
   input (seeded random normal, batch 1; NHWC for a ``.tflite``); or, with ``runner``, the user's
   ``benchmark_model`` / ``lce_benchmark_model`` and the ``.tflite``;
3. run, through the bundle's own loader or the runner's own flags, with a timeout;
4. read back the runner's JSON record and output, or parse the user runner's text
   (``rep_deploy.device.tflite_output``);
5. compare the device's output with the host's on the same input: ONNX Runtime (rep-deploy's x86
   kernels when the file has rep-deploy ops) for a ``.onnx``, LCE's x86 interpreter for a
   ``.tflite``: top-1 and the largest difference against a stated tolerance. A user runner feeds
   random inputs of its own and returns no output, so its record says ``checked: false`` and why;
6. remove the folder (unless ``keep``), also when a step failed and the device is still reachable.

Any failure raises :class:`BenchError` with one line; no record is returned for a failed run.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import secrets
import shlex
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .adb import Device, DeviceError, DeviceInfo

__all__ = ["BenchError", "BenchOptions", "DEVICE_ROOT", "TOLERANCE", "bench_model", "compare_outputs"]

DEVICE_ROOT = "/data/local/tmp/rep-deploy"
#: the device's logits may differ from the host's by this much, relative to the largest |logit|
#: (top-1 must agree on top): the binary layers are exact integer arithmetic on both, but the float
#: layers round differently (aarch64 vs x86 kernels, fused multiply-adds), and a value within a few
#: ULPs of a binarization threshold can then take the other sign and move every output it feeds.
#: Measured: 1.5e-7 on the demo; 0.015-0.02 on random-weight ReActNet-A at 224x224, traced to
#: one input bit of the first binary conv (a 3x3 patch of 32 channels) after a stem output within
#: rounding of 0. The same tolerance as `rep-deploy tflite`'s verification.
TOLERANCE = 0.1
EMULATED_NOTE = ("emulated device: aarch64 code ran under qemu-user on an x86 host, so the timings say "
                 "nothing about a phone; the outputs and the flow are real")

Progress = Callable[[str, int, int], None]  # (what, done, total) bytes or steps


class BenchError(RuntimeError):
    """A bench step failed; one line naming the device, the model, the step and what to do."""


@dataclass(frozen=True)
class BenchOptions:
    """How to run (the CLI's options)."""

    threads: int = 1
    runs: int = 10
    warmup: int = 2
    runner: str | None = None  # a benchmark_model / lce_benchmark_model binary, for .tflite files
    keep: bool = False  # leave the device folder in place (for a look with adb shell)
    timeout: float = 1800.0  # seconds the device run may take
    seed: int = 0  # of the fixed input
    tolerance: float = TOLERANCE  # allowed max |device - host| relative to max |host| (top-1 must agree)
    # the bundle, already checked (find_bundle hashes ~40 MB; a caller running many models checks once);
    # None: find and check it for each run
    bundle: Any = None

    def __post_init__(self) -> None:
        for what, value, low in (("threads", self.threads, 1), ("runs", self.runs, 1), ("warmup", self.warmup, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")


def bench_model(device: Device, model: str | os.PathLike[str], options: BenchOptions, *,
                info: DeviceInfo | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Benchmark ``model`` on ``device``; the record (module docstring). Raises :class:`BenchError`.

    ``record["model"]["path"]`` is ``model`` as given (so two ``model.onnx`` in different export
    folders stay apart); ``progress(what, done, total)`` reports pushed bytes and the run.
    """
    model = Path(model)
    if not model.is_file():
        raise BenchError(f"{model}: no such file")
    kind = model.suffix.lower()
    if kind not in (".onnx", ".tflite"):
        raise BenchError(f"{model}: rep-deploy bench runs .onnx or .tflite files")
    if kind == ".onnx" and options.runner is not None:
        raise BenchError(f"--runner is for .tflite files; {model.name} runs in rep-deploy's ONNX Runtime bundle")
    if kind == ".tflite" and options.runner is None:
        _check_litert_ops(model)  # before the device is touched
    info = info or device.info()
    report = progress or (lambda what, done, total: None)
    folder = posixpath.join(DEVICE_ROOT, f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}")
    try:
        with tempfile.TemporaryDirectory(prefix="rep_deploy_bench_") as tmp:
            if options.runner is None:
                record = _bench_bundle(device, model, options, folder, Path(tmp), report)
            else:
                record = _bench_runner(device, model, options, folder, report)
    except DeviceError as e:
        _cleanup(device, folder, options.keep)
        raise BenchError(str(e)) from None
    except BenchError:
        _cleanup(device, folder, options.keep)
        raise
    _cleanup(device, folder, options.keep, strict=True)
    record.update(_provenance(model, info, options, folder))
    return record


# -- rep-deploy's bundle: ort_bench for .onnx, tflite_bench (LiteRT + rep-deploy's LCE ops) for .tflite

def _bench_bundle(device: Device, model: Path, options: BenchOptions, folder: str, tmp: Path,
                  report: Progress) -> dict[str, Any]:
    from rep_deploy.device.bundle import RUNNER_NAME, TFLITE_RUNNER_NAME, find_bundle, parse_runner_json

    tflite = model.suffix.lower() == ".tflite"
    try:
        bundle = options.bundle or find_bundle()
        if tflite:
            bundle.require_tflite()
    except FileNotFoundError as e:
        raise BenchError(str(e)) from None
    x, reference, ref_name, custom = _host_reference(model, options.seed)
    # the device gets the file's own layout: NHWC for a .tflite (the host session takes NCHW)
    np.save(tmp / "input.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if tflite and x.ndim == 4 else x)

    name = "model" + model.suffix.lower()
    pushed = model
    if not tflite and custom:  # the graph rep-deploy's own sessions run: block pairs linked, fused
        from rep_deploy.runtime import session_model

        source = session_model(model)
        if isinstance(source, bytes):
            pushed = tmp / name
            pushed.write_bytes(source)
    files = [(bundle.dir / f, f) for f in bundle.files] + [(pushed, name), (tmp / "input.npy", "input.npy")]
    _push_all(device, files, folder, report, executable=set(bundle.files))  # programs and libraries
    make = bundle.tflite_command if tflite else bundle.command
    runner = "tflite_bench" if tflite else "ort_bench"
    command = "cd {} && {}".format(shlex.quote(folder), make(
        name, "input.npy", "output.npy", "record.json", threads=options.threads, runs=options.runs,
        warmup=options.warmup))
    _run(device, command, runner, model, options, report)
    try:
        rec = parse_runner_json(device.read_bytes(posixpath.join(folder, "record.json")).decode(),
                                TFLITE_RUNNER_NAME if tflite else RUNNER_NAME)
        out = np.load(io.BytesIO(device.read_bytes(posixpath.join(folder, "output.npy"))), allow_pickle=False)
    except ValueError as e:
        raise BenchError(f"{device.serial}: unreadable result from {runner}: {e}") from None
    if tflite and out.ndim == 4:  # back to the host session's NCHW
        out = out.transpose(0, 3, 1, 2)
    runtime = {"litert_version": rec["litert_version"]} if tflite else {"onnxruntime_version": rec["onnxruntime_version"]}
    return {
        "runner": {"name": rec["runner"], "version": rec["runner_version"], **runtime, "machine": rec["machine"]},
        # asked of the device's kernel library; None when the model has no rep-deploy op to run
        "kernel_path": rec.get("kernel_path") if custom else None,
        "init_us": rec["init_us"], "first_us": rec["first_us"], "warmup_avg_us": rec["warmup_avg_us"],
        "timings_us": {k: rec["timings_us"][k] for k in ("min", "median", "mean", "std", "all")},
        "peak_rss_kb": rec.get("peak_rss_kb"),
        "input_shape": list(x.shape),
        "agreement": compare_outputs(out, reference, ref_name, options.tolerance),
    }


def _check_litert_ops(model: Path) -> None:
    """BenchError if the bundle's stock LiteRT cannot run one of the file's custom ops."""
    from rep_deploy.device.litert_ops import litert_gaps

    try:
        from rep_deploy.converters.tflite import inspect_tflite

        gaps = litert_gaps(inspect_tflite(model.read_bytes()).custom_ops)
    except ImportError:  # no TensorFlow on the host: _host_reference says what to install
        return
    except ValueError as e:
        raise BenchError(f"{model}: {e}") from None
    if gaps:
        more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
        raise BenchError(f"{model.name}: stock LiteRT with rep-deploy's LCE ops cannot run {gaps[0]}{more}; "
                         f"LCE's own benchmark binary can: --runner ./lce_benchmark_model")


def _host_reference(model: Path, seed: int) -> tuple[np.ndarray, np.ndarray, str, bool]:
    """The fixed input (seeded random normal, batch 1, NCHW), the host's output for it, what
    computed it, and whether the model uses rep-deploy's (or LCE's) binary ops."""
    from rep_deploy.onnx_file import ModelFileError
    from rep_deploy.session import InferenceSession

    try:
        sess = InferenceSession(model, threads=1)
    except ImportError as e:  # a .tflite without TensorFlow / LCE on the host
        raise BenchError(f"comparing {model.name} with the host needs LCE's interpreter: {e}") from None
    except (ModelFileError, FileNotFoundError, ValueError, RuntimeError) as e:
        raise BenchError(str(e)) from None
    shape = [d if isinstance(d, int) else 1 for d in sess.input_shape]
    shape[0] = 1
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if sess.backend == "lce":
        name = "host LCE interpreter (x86)"
    else:
        name = "host ONNX Runtime " + (f"with rep-deploy kernels ({sess.kernel_path})" if sess.uses_library
                                       else "(stock)")
    return x, sess.run(x), name, sess.uses_custom_ops


def compare_outputs(device_out: np.ndarray, host_out: np.ndarray, reference: str,
                    tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Top-1 per image and the largest difference, relative to the largest |host value|."""
    if device_out.shape != host_out.shape:
        return {"checked": True, "passed": False, "reference": reference,
                "failure": f"output shape {list(device_out.shape)} != host {list(host_out.shape)}"}
    diff = float(np.max(np.abs(device_out.astype(np.float64) - host_out))) if host_out.size else 0.0
    scale = max(float(np.max(np.abs(host_out))) if host_out.size else 0.0, 1e-12)
    flat = lambda a: a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)  # noqa: E731
    top1 = float(np.mean(np.argmax(flat(device_out), 1) == np.argmax(flat(host_out), 1)))
    passed = top1 == 1.0 and diff <= tolerance * scale and bool(np.all(np.isfinite(device_out)))
    return {"checked": True, "passed": passed, "reference": reference, "top1_agreement": top1,
            "max_abs_diff": diff, "max_rel_diff": diff / scale, "tolerance_rel": tolerance}


# -- .tflite in the user's benchmark_model / lce_benchmark_model -----------------------------------

def _bench_runner(device: Device, model: Path, options: BenchOptions, folder: str,
                  report: Progress) -> dict[str, Any]:
    from rep_deploy.device.tflite_output import BenchmarkOutputError, parse_benchmark_output

    runner = Path(options.runner or "")
    if not runner.is_file():
        raise BenchError(f"--runner {runner}: no such file")
    _push_all(device, [(runner, runner.name), (model, model.name)], folder, report, executable={runner.name})
    command = (f"cd {shlex.quote(folder)} && ./{shlex.quote(runner.name)} --graph={shlex.quote(model.name)} "
               f"--num_threads={options.threads} --num_runs={options.runs} --warmup_runs={options.warmup} "
               "--report_peak_memory_footprint=true")
    r = _run(device, command, runner.name, model, options, report)
    try:
        parsed = parse_benchmark_output(r.stdout + "\n" + r.stderr)
    except BenchmarkOutputError as e:
        raise BenchError(f"{device.serial}: {runner.name}: {e}") from None
    return {
        "runner": {"name": runner.name, "version": parsed.get("runner_version"), "output_format": parsed["format"]},
        "init_us": parsed["init_us"], "first_us": parsed["first_us"], "warmup_avg_us": parsed["warmup_avg_us"],
        "timings_us": {**parsed["timings_us"], "all": None},
        "peak_rss_kb": parsed["peak_rss_kb"],
        "agreement": {"checked": False, "reason": "TFLite's benchmark tools run random inputs and return no "
                                                  "output; compare outputs with rep-deploy's LiteRT runner (planned)"},
    }


# -- shared steps --------------------------------------------------------------------------------

def _push_all(device: Device, files: list[tuple[Path, str]], folder: str, report: Progress,
              executable: set[str] | None = None) -> None:
    """mkdir the run folder, push every file into it (progress in bytes over all files)."""
    device.mkdir(folder)
    total = sum(p.stat().st_size for p, _ in files)
    done = 0
    for path, name in files:
        base = done
        mode = 0o755 if executable and name in executable else 0o644
        device.push(path, posixpath.join(folder, name), mode=mode,
                    progress=lambda n, base=base, name=name: report(f"push {name}", base + n, total))
        done += path.stat().st_size
    report("pushed", total, total)


def _run(device: Device, command: str, program: str, model: Path, options: BenchOptions,
         report: Progress) -> Any:
    """Run the benchmark command; a non-zero exit (a signal included) is a BenchError."""
    report("run", 0, 1)
    r = device.run(command, timeout=options.timeout)
    report("run", 1, 1)
    if r.returncode != 0:
        raise BenchError(f"{device.serial}: {program} failed on {model.name}: {_exit_text(r.returncode)}: "
                         f"{r.first_error_line() or 'no output'}")
    return r


def _exit_text(rc: int) -> str:
    if rc > 128 and rc - 128 < 64:
        try:
            return f"killed by {signal.Signals(rc - 128).name} (exit {rc})"
        except ValueError:
            pass
    return f"exit {rc}"


def _cleanup(device: Device, folder: str, keep: bool, *, strict: bool = False) -> None:
    """Remove the run folder. After a failure this is best effort (the device may be gone: the
    original error is what the user needs); after a success a failure to clean up is an error."""
    if keep:
        return
    try:
        device.remove(folder)
    except DeviceError as e:
        if strict:
            raise BenchError(f"{device.serial}: the run succeeded but cleaning {folder} failed: {e}") from None


def _provenance(model: Path, info: DeviceInfo, options: BenchOptions, folder: str) -> dict[str, Any]:
    import datetime

    import rep_deploy

    data = model.read_bytes()
    out = {
        "schema": 1,
        "tool": f"rep-deploy {rep_deploy.__version__} bench",
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": info.to_dict(),
        "emulated": info.emulated,
        "model": {"path": str(model), "name": model.name, "format": model.suffix.lstrip(".").lower(), "bytes": len(data),
                  "sha256": hashlib.sha256(data).hexdigest()},
        "threads": options.threads, "runs": options.runs, "warmup": options.warmup,
        "device_folder": folder, "kept": options.keep,
    }
    if info.emulated:
        out["note"] = EMULATED_NOTE
    return out
