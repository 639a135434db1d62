"""``python -m rep_deploy.emulator serve ...``: the daemon process itself (foreground).

daemon.start() runs this in the background; it can also be run by hand for debugging. It writes its
listening port to ``--ready-file`` once it accepts connections, logs to ``--log`` (stderr when
omitted) and exits 0 on SIGTERM or SIGINT after closing its connections and killing its commands.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from rep_deploy.emulator.adbd import AdbDaemon
from rep_deploy.emulator.faults import FaultOptions, kill_children, parse_die_during
from rep_deploy.emulator.sandbox import Sandbox, SandboxError
from rep_deploy.emulator.services import FEATURES, EmulatedDevice


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rep_deploy.emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the emulated adb device in the foreground")
    serve.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    serve.add_argument("--base", required=True, help="sandbox directory (created if missing)")
    serve.add_argument("--cores", type=int, default=4)
    serve.add_argument("--ready-file", help="written with the port once listening")
    serve.add_argument("--log", help="log file (default: stderr)")
    serve.add_argument("--features", default=",".join(FEATURES),
                       help="comma-separated adbd features to advertise ('' for a device without shell_v2)")
    serve.add_argument("--quota", type=int, help="fault: bytes allowed under /data/local/tmp")
    serve.add_argument("--die-after-push-bytes", type=int, help="fault: exit abruptly after N pushed bytes")
    serve.add_argument("--die-during", help="fault: CMD_SUBSTRING[:SECONDS], exit abruptly mid-command")
    return parser


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        filename=args.log, level=logging.INFO,
        format="%(asctime)s %(process)d %(threadName)s %(levelname)s %(message)s",
    )
    log = logging.getLogger("rep_deploy.emulator")
    needle, seconds = parse_die_during(args.die_during) if args.die_during else (None, 1.0)
    faults = FaultOptions(quota=args.quota, die_after_push_bytes=args.die_after_push_bytes,
                          die_during=needle, die_during_seconds=seconds)
    try:
        sandbox = Sandbox.create(args.base, cores=args.cores)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    features = tuple(f for f in args.features.split(",") if f)
    device = EmulatedDevice(sandbox, faults, features=features)
    daemon = AdbDaemon(device.banner(), device.resolve, port=args.port)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=daemon.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready_file:
        tmp = Path(args.ready_file + ".tmp")
        tmp.write_text(f"{daemon.port}\n")
        os.replace(tmp, args.ready_file)
    log.info("emulated device up: pid %d, port %d, root %s, faults %s",
             os.getpid(), daemon.port, sandbox.root, faults.to_dict())
    try:
        daemon.serve_forever()
    finally:
        kill_children()
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
