"""The aarch64 device bundle: find it, check it, build its device-side command, read its JSON record.

``runtimes/bench/build_bundle.sh`` assembles ``build/bundle-aarch64/``: the ``ort_bench`` runner,
ONNX Runtime's aarch64 ``libonnxruntime.so.1`` (from the pinned onnxruntime wheel), rep-deploy's
custom-op library, and the dynamic loader with glibc and libstdc++ from the cross toolchain's sysroot,
listed with their sha256 in ``manifest.json``. The runner is started through the bundled loader
(``./ld-linux-aarch64.so.1 --library-path . ./ort_bench ...``) so that the device's own ``/lib`` is
never used: the same folder runs on glibc boards of any version and on Android, which has no glibc.

The bundle also holds ``tflite_bench``, the ``.tflite`` twin: Google's stock LiteRT (the aarch64
``libLiteRtRuntimeCApi.so`` of the pinned ai-edge-litert wheel) with rep-deploy's LCE kernels
(``librep_deploy_litert.so``) registered as custom ops. Its command template is
``manifest["commands"]["tflite"]`` (:meth:`Bundle.tflite_command`); its record has ``litert_version``
where ``ort_bench``'s has ``onnxruntime_version``. Bundles built before it lack both; the ONNX side
works the same with or without.

Everything here is host-side and cheap: no ONNX Runtime import, no device access.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUILD_COMMAND",
    "BUNDLE_ENV",
    "FORMAT",
    "RUNNER_NAME",
    "TFLITE_RUNNER_NAME",
    "Bundle",
    "default_dir",
    "find_bundle",
    "parse_runner_json",
]

#: Environment variable naming the bundle folder (the build script honours it too).
BUNDLE_ENV = "REP_DEPLOY_BUNDLE"
#: The command that builds (or refreshes) the bundle, from the repository root.
BUILD_COMMAND = "bash runtimes/bench/build_bundle.sh"
#: The manifest format this module understands.
FORMAT = 1
#: The ``runner`` field of every record ``ort_bench`` prints.
RUNNER_NAME = "rep-deploy ort_bench"
#: The ``runner`` field of every record ``tflite_bench`` prints.
TFLITE_RUNNER_NAME = "rep-deploy tflite_bench"
_TFLITE_FILES = ("tflite_bench", "libLiteRtRuntimeCApi.so", "librep_deploy_litert.so")
_REQUIRED_FILES = ("ld-linux-aarch64.so.1", "ort_bench", "libonnxruntime.so.1", "librep_deploy_ort.so", "libc.so.6")


def default_dir() -> Path:
    """``$REP_DEPLOY_BUNDLE``, else ``<repo>/build/bundle-aarch64`` (where the build script writes)."""
    override = os.environ.get(BUNDLE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "build" / "bundle-aarch64"


@dataclass(frozen=True)
class Bundle:
    """A verified bundle folder.

    Attributes:
        dir: the folder on the host; copy all of ``files`` (and nothing else is needed) to the device.
        files: the file names the manifest lists (manifest.json itself excluded).
        manifest: the parsed ``manifest.json``.
        onnxruntime_version, runner_version: what the bundle runs, for result provenance.
    """

    dir: Path
    files: tuple[str, ...]
    manifest: dict[str, Any]
    onnxruntime_version: str
    runner_version: str

    def command(self, model: str, input: str, output: str, json: str | None = None, *, threads: int = 1,
                runs: int = 10, warmup: int = 1) -> str:
        """The shell command that runs ``ort_bench`` on the device, from the bundle's device folder.

        Paths are as the device sees them (relative ones resolve against the bundle folder, the
        command's working directory). The command comes from the manifest's template, so a bundle
        and the host code that drives it cannot disagree on the runner's flags.

        Raises:
            ValueError: a count out of range (the runner would reject it on the device, later).
        """
        return self._format(self.manifest["command"], model, input, output, json, threads, runs, warmup)

    @property
    def has_tflite(self) -> bool:
        """Whether the bundle holds ``tflite_bench`` (LiteRT + rep-deploy's LCE ops) and its command."""
        commands = self.manifest.get("commands")
        return (isinstance(commands, dict) and isinstance(commands.get("tflite"), str)
                and all(name in self.files for name in _TFLITE_FILES))

    @property
    def litert_version(self) -> str | None:
        """The ai-edge-litert version of the bundled LiteRT, or None for a bundle without it."""
        return str(self.manifest["litert_version"]) if self.has_tflite and "litert_version" in self.manifest else None

    def require_tflite(self) -> Bundle:
        """This bundle, if it holds ``tflite_bench``; else FileNotFoundError naming the build command."""
        if not self.has_tflite:
            raise FileNotFoundError(f"bundle {self.dir} has no tflite_bench (LiteRT + rep-deploy's LCE ops): "
                                    f"rebuild it with `{BUILD_COMMAND}`, or pass --runner")
        return self

    def tflite_command(self, model: str, input: str, output: str, json: str | None = None, *, threads: int = 1,
                       runs: int = 10, warmup: int = 1) -> str:
        """The shell command that runs ``tflite_bench`` on a ``.tflite`` model, like :meth:`command`.

        ``input`` is a float32 ``.npy`` laid out as the model's input (NHWC for the files
        ``rep-deploy tflite`` writes); its batch may differ from the model's.

        Raises:
            FileNotFoundError: the bundle has no ``tflite_bench`` (built before it; rebuild it).
            ValueError: a count out of range.
        """
        self.require_tflite()
        return self._format(self.manifest["commands"]["tflite"], model, input, output, json, threads, runs, warmup)

    @staticmethod
    def _format(template: str, model: str, input: str, output: str, json: str | None, threads: int, runs: int,
                warmup: int) -> str:
        if threads < 0 or runs < 1 or warmup < 0:
            raise ValueError(f"need threads >= 0, runs >= 1, warmup >= 0; got {threads}, {runs}, {warmup}")
        if json is None:
            template = template.replace(" --json {json}", "")
        q = shlex.quote
        return template.format(model=q(model), input=q(input), output=q(output), json=q(json or ""),
                               threads=int(threads), runs=int(runs), warmup=int(warmup))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_bundle(path: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Bundle:
    """Load and check a bundle before anything is pushed to a device.

    A device run that fails on a missing or half-built library is slow to diagnose over adb, so the
    manifest and every file's size and sha256 are checked here, on the host.

    Args:
        path: the bundle folder; default :func:`default_dir`.
        verify: also check sizes and sha256 (``False``: only that the files exist).

    Raises:
        FileNotFoundError: no bundle, or one that does not match its manifest (stale or partly
            copied); the one-line message names the command that builds it.
    """
    folder = Path(path).expanduser() if path is not None else default_dir()
    hint = f"build it with `{BUILD_COMMAND}`"
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no aarch64 bundle at {folder} (no manifest.json); {hint}")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = {f["name"]: f for f in manifest["files"]}
        fmt = manifest["format"]
        ort_version, runner_version = str(manifest["onnxruntime_version"]), str(manifest["runner_version"])
        str(manifest["command"])
    except (ValueError, KeyError, TypeError) as e:
        raise FileNotFoundError(f"bundle {folder} has a malformed manifest.json ({e}); {hint}") from None
    if fmt != FORMAT:
        raise FileNotFoundError(f"bundle {folder} has manifest format {fmt}, this rep-deploy reads {FORMAT}; {hint}")
    for name in _REQUIRED_FILES:
        if name not in files:
            raise FileNotFoundError(f"bundle {folder} lacks {name}; {hint}")
    for name, entry in files.items():
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(f"bundle {folder} is missing {name}; {hint}")
        if verify and (file.stat().st_size != entry["size"] or _sha256(file) != entry["sha256"]):
            raise FileNotFoundError(f"bundle {folder}: {name} does not match manifest.json (stale); {hint}")
    return Bundle(dir=folder, files=tuple(sorted(files)), manifest=manifest, onnxruntime_version=ort_version,
                  runner_version=runner_version)


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise ValueError(f"not an ort_bench/tflite_bench record: {what}")


def _is_num(v: Any, minimum: float = 0.0) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= minimum


def _is_int(v: Any, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _check_tensor(record: dict[str, Any], key: str) -> None:
    t = record.get(key)
    _need(isinstance(t, dict), f"'{key}' is not an object")
    _need(isinstance(t.get("name"), str) and isinstance(t.get("file"), str), f"'{key}' needs name and file")
    shape = t.get("shape")
    _need(isinstance(shape, list) and all(_is_int(d, 0) for d in shape), f"'{key}.shape' is not a list of sizes")


def parse_runner_json(text: str, runner: str = RUNNER_NAME) -> dict[str, Any]:
    """Parse and validate the JSON record ``ort_bench`` (or, with ``runner=TFLITE_RUNNER_NAME``,
    ``tflite_bench``) prints or writes with ``--json``.

    Device output travels through adb and shells, so the record is checked field by field here and a
    damaged or foreign one fails at once with a message naming the field, not later in a report.
    The last line that starts with ``{`` is taken, so stray lines before it do not matter.

    Raises:
        ValueError: not JSON, not from ``runner``, or a field missing / of the wrong type / negative.
    """
    lines = [ln for ln in text.strip().splitlines() if ln.lstrip().startswith("{")]
    _need(bool(lines), "no JSON object in the text")
    try:
        record = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise ValueError(f"not an ort_bench/tflite_bench record: invalid JSON ({e})") from None
    _need(isinstance(record, dict), "not a JSON object")
    if runner not in (RUNNER_NAME, TFLITE_RUNNER_NAME):
        raise ValueError(f"unknown runner {runner!r}; expected {RUNNER_NAME!r} or {TFLITE_RUNNER_NAME!r}")
    _need(record.get("runner") == runner, f"runner is {record.get('runner')!r}, not {runner!r}")
    # the runtime each runner reports: ONNX Runtime's version, or LiteRT's TfLiteVersion()
    runtime_key = "onnxruntime_version" if runner == RUNNER_NAME else "litert_version"
    for key in ("runner_version", runtime_key):
        _need(isinstance(record.get(key), str) and record[key] != "", f"'{key}' missing")
    machine = record.get("machine")
    _need(isinstance(machine, dict) and all(isinstance(machine.get(k), str) for k in ("sysname", "release", "machine")),
          "'machine' needs sysname, release and machine")
    _need(_is_int(record.get("threads"), 0), "'threads' is not an integer >= 0")
    _need(_is_int(record.get("runs"), 1), "'runs' is not an integer >= 1")
    _need(_is_int(record.get("warmup"), 0), "'warmup' is not an integer >= 0")
    for key in ("init_us", "first_us"):
        _need(_is_num(record.get(key)), f"'{key}' is not a time >= 0")
    warm = record.get("warmup_avg_us")
    _need(_is_num(warm) if record["warmup"] else warm is None, "'warmup_avg_us' does not fit 'warmup'")
    timings = record.get("timings_us")
    _need(isinstance(timings, dict), "'timings_us' is not an object")
    for key in ("min", "median", "mean", "std"):
        _need(_is_num(timings.get(key)), f"'timings_us.{key}' is not a time >= 0")
    runs = timings.get("all")
    _need(isinstance(runs, list) and len(runs) == record["runs"] and all(_is_num(v) for v in runs),
          "'timings_us.all' does not hold 'runs' times")
    _need(timings["min"] <= timings["median"] and timings["min"] <= timings["mean"],
          "'timings_us' min is not the minimum")
    peak = record.get("peak_rss_kb")
    _need(peak is None or _is_int(peak, 0), "'peak_rss_kb' is not a size in kB")
    kernel = record.get("kernel_path")  # runner 1.0.0 without it reads as None
    _need(kernel is None or isinstance(kernel, str), "'kernel_path' is not a name")
    _check_tensor(record, "input")
    _check_tensor(record, "output")
    return record
