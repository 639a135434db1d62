"""``rep-deploy bench``: the command line over :func:`rep_deploy.device.bench.bench_model`.

Registered on the main group by ``rep_deploy/cli.py``; heavy imports (numpy, ONNX Runtime, adbutils)
happen inside the command, so ``rep-deploy --help`` stays fast.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from rep_deploy.console import ReportedError, console

__all__ = ["bench", "devices"]


@click.command("bench", context_settings={"max_content_width": 100})
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="MODEL...")
@click.option("--device", "serials", multiple=True, metavar="SERIAL",
              help="A device serial as `adb devices` lists it (repeatable).")
@click.option("--all-devices", is_flag=True, help="Every online device of the adb server.")
@click.option("--emulated", is_flag=True,
              help="Start an emulated arm64 device for this run (qemu; see `rep-deploy emulator`) and stop it after.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="Threads on the device: ONNX Runtime's intra-op threads; for a .tflite, LiteRT's builtin ops' and rep-deploy's LCE binary convs'.")
@click.option("--runs", type=click.IntRange(1), default=10, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(0), default=2, show_default=True, help="Untimed runs first.")
@click.option("--runner", type=click.Path(dir_okay=False), metavar="PATH",
              help="For .tflite files: run TFLite's benchmark_model or LCE's lce_benchmark_model (built for "
                   "the device) instead of the bundle's LiteRT; its text output is parsed, no output compared.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the records as JSON to this file ('-' for stdout instead of the table).")
@click.option("--keep", is_flag=True, help="Leave the run folder on the device (to look at it with adb shell).")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Seconds one device run may take.")
@click.option("--tolerance", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Allowed max |device - host| relative to max |host| (top-1 must agree too): float layers "
                   "round differently on ARM, and a value at a binarization threshold can flip.")
def bench(models: tuple[str, ...], serials: tuple[str, ...], all_devices: bool, emulated: bool, threads: int,
          runs: int, warmup: int, runner: str | None, json_path: str | None, keep: bool, timeout: float,
          tolerance: float) -> None:
    """Benchmark models on phones and boards over adb, checking the device's output against the host's.

    For each device and MODEL: push into a fresh folder under /data/local/tmp/rep-deploy/, run, read
    the results back, remove the folder (unless --keep). Models run in rep-deploy's self-contained
    aarch64 bundle, which brings its own loader and C/C++ runtime and so needs nothing from the
    device (Android or any aarch64 Linux): a .onnx in ONNX Runtime with rep-deploy's kernels, a
    .tflite (from `rep-deploy tflite`) in Google's stock LiteRT with rep-deploy's kernels for LCE's
    ops; on a fixed input whose output is compared with this machine's (ONNX Runtime, or LCE's
    interpreter). With --runner, a .tflite runs in your benchmark_model instead (its text output is
    parsed; no output to compare). With two models the table adds the first one's overhead over
    the second on each device (e.g. a Rep model over its base).

    \b
    With a phone (USB debugging on, `adb devices` lists it):
      rep-deploy export rep-resnet20-digits --pretrained -o out/demo
      rep-deploy bench out/demo/model.onnx --device R58M123ABC --threads 4 --runs 50 --json bench.json
      rep-deploy bench out/rep/model.onnx out/base/model.onnx --all-devices    # Rep overhead per device
      rep-deploy bench out/demo/model.tflite --device R58M123ABC           # stock LiteRT + rep-deploy's LCE ops
      rep-deploy bench out/demo/model.tflite --device R58M123ABC --runner ./lce_benchmark_model
    Without one: --emulated (aarch64 under qemu: real outputs, timings that mean nothing).

    \b
    The device bundle is built by `bash runtimes/bench/build_bundle.sh` (scripts/test.sh runs it).
    """
    from rep_deploy.device.adb import DeviceError, connect_server, list_devices, open_device
    from rep_deploy.device.bench import BenchError, BenchOptions

    if sum(map(bool, (serials, all_devices, emulated))) != 1:
        raise ReportedError("choose the devices: --device SERIAL (repeatable), --all-devices, or --emulated")
    for m in models:
        p = Path(m)
        if not p.is_file():
            raise ReportedError(f"{m}: no such file")
        if p.suffix.lower() not in (".onnx", ".tflite"):
            raise ReportedError(f"{m}: rep-deploy bench runs .onnx or .tflite files")
        if p.suffix.lower() == ".onnx" and runner is not None:
            raise ReportedError(f"--runner is for .tflite files; {m} runs in rep-deploy's ONNX Runtime bundle")
    if runner is not None and not Path(runner).is_file():
        raise ReportedError(f"--runner {runner}: no such file")
    bundle = None
    if runner is None:  # the bundle runs everything: check it once, before anything touches a device
        from rep_deploy.device.bundle import find_bundle

        try:
            bundle = find_bundle()
            if any(Path(m).suffix.lower() == ".tflite" for m in models):
                bundle.require_tflite()
        except FileNotFoundError as e:
            raise ReportedError(str(e)) from None
    try:
        options = BenchOptions(threads=threads, runs=runs, warmup=warmup, runner=runner, keep=keep, timeout=timeout,
                               tolerance=tolerance, bundle=bundle)
    except ValueError as e:
        raise ReportedError(str(e)) from None

    err = console()
    try:
        if emulated:
            from rep_deploy.emulator.daemon import EmulatorError, emulated_device

            try:
                with err.status("starting an emulated arm64 device"):
                    ctx = emulated_device()
                    emu = ctx.__enter__()
            except EmulatorError as e:
                raise ReportedError(f"cannot start the emulated device: {e}") from None
            try:
                client = connect_server(emu.adb_server_port)
                result = _run_all(client, [emu.serial], list(models), options, err)
            finally:
                ctx.__exit__(None, None, None)
        else:
            client = connect_server()
            if all_devices:
                online = [d.serial for d in list_devices(client, with_props=False) if d.state == "device"]
                if not online:
                    raise ReportedError("no online device on the adb server (`adb devices` lists none); "
                                        "attach one with USB debugging on, or use --emulated")
                serials = tuple(online)
            for s in serials:
                open_device(client, s)  # a wrong serial fails here, before any push
            result = _run_all(client, list(serials), list(models), options, err)
    except (DeviceError, BenchError) as e:
        raise ReportedError(str(e)) from None

    records, failures = result
    if failures:
        for line in failures[:-1]:
            click.secho(f"error: {line}", err=True, fg="red")
        raise ReportedError(failures[-1] + ("; no JSON written" if json_path else ""))
    doc = {"schema": 1, "records": records, "comparisons": _comparisons(records, list(models))}
    if json_path == "-":
        click.echo(json.dumps(doc, indent=2))
    else:
        if json_path:
            from rep_deploy.fileio import write_bytes_atomic

            write_bytes_atomic(json_path, (json.dumps(doc, indent=2) + "\n").encode())
        _print_table(console(stdout=True), doc)
        if json_path:
            err.print(f"wrote {json_path}")
    bad = [r for r in records if r["agreement"].get("checked") and not r["agreement"]["passed"]]
    if bad:
        raise ReportedError("; ".join(f"{r['device']['serial']}: {r['model']['name']}'s output disagrees with the "
                                      f"host ({_agree_text(r['agreement'])})" for r in bad))


@click.command("devices", context_settings={"max_content_width": 100})
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def devices(as_json: bool) -> None:
    """List the adb server's devices with their ABI, model, Android and kernel versions.

    The server is the one `adb` uses (ANDROID_ADB_SERVER_PORT or 5037). Devices not online
    (offline, unauthorized: accept the prompt on the phone) are listed with their state only.
    """
    from rep_deploy.device.adb import DeviceError, connect_server, list_devices

    try:
        found = list_devices(connect_server())
    except DeviceError as e:
        raise ReportedError(str(e)) from None
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in found], indent=2))
        return
    from rich.table import Table

    t = Table(title=f"{len(found)} device(s)", title_justify="left")
    for col in ("serial", "state", "abi", "model", "android", "kernel", "emulated"):
        t.add_column(col)
    for d in found:
        t.add_row(d.serial, d.state, d.abi or "", d.model or "", d.android_release or "", d.kernel or "",
                  "yes" if d.emulated else "")
    console(stdout=True).print(t)


def _run_all(client: Any, serials: list[str], models: list[str], options: Any, err: Any) -> tuple[list, list]:
    """Every model on every device; devices in parallel, models one after the other per device.
    Returns (records in device, model order; failure lines)."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from rep_deploy.device.adb import DeviceError, open_device
    from rep_deploy.device.bench import BenchError, bench_model

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err,
                  transient=True) as progress:
        tasks = {s: progress.add_task(f"{s}: connecting", total=None) for s in serials}

        def one_device(serial: str) -> tuple[list, list]:
            records, failures = [], []
            task = tasks[serial]
            try:
                dev = open_device(client, serial)
                info = dev.info()
            except DeviceError as e:
                return [], [str(e)]
            for model in models:
                name = Path(model).name

                def report(what: str, done: int, total: int, name: str = name) -> None:
                    if what == "run":
                        progress.update(task, description=f"{serial}: running {name}", total=None)
                    else:
                        progress.update(task, description=f"{serial}: {what}", completed=done, total=total)

                try:
                    records.append(bench_model(dev, model, options, info=info, progress=report))
                except (BenchError, DeviceError) as e:
                    failures.append(str(e))
                    break  # the device may be gone; the next model would fail the same way
            progress.update(task, description=f"{serial}: done")
            return records, failures

        with ThreadPoolExecutor(max_workers=len(serials)) as pool:
            results = list(pool.map(one_device, serials))
    return [r for rs, _ in results for r in rs], [f for _, fs in results for f in fs]


def _comparisons(records: list[dict], models: list[str]) -> list[dict]:
    """Per device, the first model's median time over the second's (the Rep overhead)."""
    if len(models) < 2:
        return []
    first, second = models[0], models[1]
    out = []
    for serial in dict.fromkeys(r["device"]["serial"] for r in records):
        by = {r["model"]["path"]: r for r in records if r["device"]["serial"] == serial}
        a, b = by.get(first), by.get(second)
        if a and b and a["timings_us"].get("median") and b["timings_us"].get("median"):
            out.append({"device": serial, "model": first, "base": second, "emulated": a["emulated"],
                        "median_ratio": a["timings_us"]["median"] / b["timings_us"]["median"]})
        elif a and b and a["timings_us"].get("mean") and b["timings_us"].get("mean"):
            out.append({"device": serial, "model": first, "base": second, "emulated": a["emulated"],
                        "mean_ratio": a["timings_us"]["mean"] / b["timings_us"]["mean"]})
    return out


def _agree_text(a: dict) -> str:
    if not a.get("checked"):
        return "not checked"
    if "failure" in a:
        return a["failure"]
    return (f"top-1 {a['top1_agreement']:.0%}, max |diff| {a['max_abs_diff']:.2g} "
            f"(rel {a['max_rel_diff']:.2g}, tolerance {a['tolerance_rel']:g})")


def _print_table(c: Any, doc: dict) -> None:
    from rich.table import Table

    ms = lambda us: "" if us is None else f"{us / 1e3:.3f}"  # noqa: E731
    t = Table(title="rep-deploy bench (times in ms)", title_justify="left")
    for col in ("device", "model", "thr", "median", "mean ± std", "min", "init", "peak MB", "vs host"):
        t.add_column(col, justify="left" if col in ("device", "model", "vs host") else "right",
                     no_wrap=col in ("device", "model", "mean ± std"))
    for r in doc["records"]:
        d, tm, a = r["device"], r["timings_us"], r["agreement"]
        agree = ("[green]agrees[/green]" if a.get("passed") else "[red]DIFFERS[/red]") if a.get("checked") else "-"
        t.add_row(d["serial"] + (" (emulated)" if r["emulated"] else ""), r["model"]["path"], str(r["threads"]),
                  ms(tm.get("median")), f"{ms(tm.get('mean'))} ± {ms(tm.get('std'))}", ms(tm.get("min")),
                  ms(r.get("init_us")), "" if r.get("peak_rss_kb") is None else f"{r['peak_rss_kb'] / 1024:.1f}",
                  agree)
    c.print(t)
    for d in {r["device"]["serial"]: r["device"] for r in doc["records"]}.values():
        c.print(f"{d['serial']}: {d.get('model') or '?'}, {d.get('abi') or '?'}, Android {d.get('android_release') or '-'}"
                f", kernel {d.get('kernel') or '?'}")
    for r in doc["records"]:
        run, a = r["runner"], r["agreement"]
        runtime = f", ONNX Runtime {run['onnxruntime_version']}" if run.get("onnxruntime_version") else ""
        if r.get("kernel_path"):
            runtime += f", rep-deploy kernels: {r['kernel_path']}"
        check = (f"vs {a['reference']}: {_agree_text(a)}" if a.get("checked") else f"output not compared: {a['reason']}")
        c.print(f"{r['model']['path']} on {r['device']['serial']}: {run['name']} {run.get('version') or ''}{runtime}; "
                f"{check}")
    for comp in doc["comparisons"]:
        ratio = comp.get("median_ratio", comp.get("mean_ratio"))
        c.print(f"{comp['device']}: {comp['model']} over {comp['base']}: {ratio - 1:+.1%} "
                f"({'median' if 'median_ratio' in comp else 'mean'} times)"
                + (" [emulated: not a hardware figure]" if comp["emulated"] else ""))
    for n in {r["note"] for r in doc["records"] if r.get("note")}:
        c.print(f"[yellow]note:[/yellow] {n}")
