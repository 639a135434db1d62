"""``rep-deploy emulator start | stop | status``: the emulated arm64 device from the command line.

The lead registers the group in rep_deploy/cli.py with ``main.add_command(emulator)``.
"""
from __future__ import annotations

import json
import time

import click

from rep_deploy.emulator import daemon

__all__ = ["emulator"]


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


@click.group("emulator", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def emulator() -> None:
    """An emulated arm64 Android-like device for tests and for users without a phone.

    \b
    A local daemon speaks adbd's side of the adb protocol on 127.0.0.1:PORT; the adb server joins it
    with `adb connect`, so `adb devices`, `adb shell/push/pull` and `rep-deploy bench` treat it as a
    phone (ABI arm64-v8a, model "rep-deploy emulated arm64 (qemu)"). Commands run in a sandbox with
    /data/local/tmp and no system glibc; aarch64 programs run under qemu-aarch64-static (Debian
    package qemu-user-static). Timings on it say nothing about real hardware.

    \b
      rep-deploy emulator start            # prints the serial, e.g. 127.0.0.1:40123
      adb -s 127.0.0.1:40123 shell getprop ro.product.cpu.abi
      rep-deploy emulator stop
    """


@emulator.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port on 127.0.0.1 for the device (0: any free port).")
@click.option("--adb", "adb_path", metavar="PATH", default=None,
              help="adb binary to connect with (default: adb on PATH, else the one bundled in adbutils).")
@click.option("--cores", type=click.IntRange(1, 256), default=4, show_default=True,
              help="CPU cores the fake /proc/cpuinfo and /sys/devices/system/cpu describe.")
@click.option("--no-connect", is_flag=True, help="Do not start an adb server or `adb connect` the device.")
@click.option("--quota", type=click.IntRange(0), metavar="BYTES", default=None,
              help="Fault injection for testing: a full device; pushes beyond BYTES in total under "
                   "/data/local/tmp fail with 'No space left on device' (the partial file is removed).")
@click.option("--die-after-push-bytes", type=click.IntRange(1), metavar="N", default=None,
              help="Fault injection for testing: the device vanishes (closes all sockets, exits) after "
                   "receiving N bytes of pushed file data, like a phone unplugged mid-push.")
@click.option("--die-during", metavar="CMD_SUBSTRING[:SECONDS]", default=None,
              help="Fault injection for testing: the device vanishes SECONDS (default 1) after a shell "
                   "command containing CMD_SUBSTRING started, if it still runs (killed mid-run).")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded state as JSON.")
def start_cmd(port: int, adb_path: str | None, cores: int, no_connect: bool, quota: int | None,
              die_after_push_bytes: int | None, die_during: str | None, as_json: bool) -> None:
    """Start an emulated device in the background and connect the adb server to it."""
    try:
        info = daemon.start(port=port, cores=cores, adb=adb_path, connect=not no_connect, quota=quota,
                            die_after_push_bytes=die_after_push_bytes, die_during=die_during)
    except daemon.EmulatorError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    click.echo(info.serial)
    where = f"adb server port {info.adb_server_port}" if info.connected else "not connected to adb"
    click.echo(f"emulated arm64 device running (pid {info.pid}, {where}); try: adb -s {info.serial} shell",
               err=True)


@emulator.command("stop")
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print what was stopped as JSON.")
def stop_cmd(target: str | None, as_json: bool) -> None:
    """Stop emulated devices: all recorded ones, or TARGET (serial, port or PID)."""
    try:
        stopped = daemon.stop(target)
    except daemon.EmulatorError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in stopped], indent=2))
        return
    if not stopped:
        click.echo("no emulated device is running")
    for info in stopped:
        click.echo(f"stopped {info.serial} (pid {info.pid})")


@emulator.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded devices as JSON.")
def status_cmd(as_json: bool) -> None:
    """Show the recorded emulated devices and whether they run."""
    infos = daemon.status()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    if not infos:
        click.echo("not running (no emulated device recorded)")
        return
    for info in infos:
        state = "running" if info.running else "not running (daemon gone; `rep-deploy emulator stop` cleans up)"
        age = time.time() - info.started_at
        click.echo(f"{info.serial}  pid {info.pid}  {state}  up {age:.0f}s  root {info.root}")
