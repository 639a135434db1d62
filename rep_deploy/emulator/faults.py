"""Fault injection for tests of the tools that drive a device: a full disk, an unplug mid-push, a crash mid-run.

The daemon process is the "device", so dying means what an unplugged phone does to the adb server:
every socket closes at once and every program the device was running is gone. ``die()`` kills the
process groups of the commands still running (each runs in its own session) and leaves with
``os._exit`` so no cleanup handler writes anything more to the wire.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import asdict, dataclass

__all__ = ["FaultOptions", "parse_die_during", "die", "register_child", "unregister_child", "kill_children"]

log = logging.getLogger("rep_deploy.emulator")

DEFAULT_DIE_DURING_SECONDS = 1.0
DIE_EXIT_CODE = 137


@dataclass(frozen=True)
class FaultOptions:
    """What the emulated device should get wrong; all None means a healthy device.

    quota: bytes that files under ``/data/local/tmp`` may take in total; a push beyond it answers
        FAIL "No space left on device" and removes the partial file, as adbd does on a full disk.
    die_after_push_bytes: the daemon exits abruptly once this many bytes of file data have been
        pushed (counted over all pushes since start), like a device unplugged mid-push.
    die_during: the daemon exits abruptly ``die_during_seconds`` after a shell command whose text
        contains this substring started, if it is still running then (killed mid-run).
    """

    quota: int | None = None
    die_after_push_bytes: int | None = None
    die_during: str | None = None
    die_during_seconds: float = DEFAULT_DIE_DURING_SECONDS

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def any(self) -> bool:
        return self.quota is not None or self.die_after_push_bytes is not None or self.die_during is not None


def parse_die_during(spec: str) -> tuple[str, float]:
    """``"ort_bench:2.5"`` -> ``("ort_bench", 2.5)``; without a numeric ``:SECONDS`` tail the default delay.

    The split is at the last colon followed by a number, so substrings may contain colons themselves.
    """
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            seconds = float(tail)
        except ValueError:
            return spec, DEFAULT_DIE_DURING_SECONDS
        if seconds < 0:
            raise ValueError(f"--die-during seconds must be >= 0, got {tail!r}")
        return head, seconds
    if not spec:
        raise ValueError("--die-during needs a command substring")
    return spec, DEFAULT_DIE_DURING_SECONDS


_children: set[int] = set()
_children_lock = threading.Lock()


def register_child(pid: int) -> None:
    """Remember a command's process group (its pid: commands start a new session) for kill_children."""
    with _children_lock:
        _children.add(pid)


def unregister_child(pid: int) -> None:
    with _children_lock:
        _children.discard(pid)


def kill_children(sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group of every command still running."""
    with _children_lock:
        pids = list(_children)
    for pid in pids:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def die(reason: str) -> None:
    """Vanish like an unplugged device: kill running commands, close every socket by exiting now."""
    log.warning("fault injection: dying abruptly (%s)", reason)
    for handler in logging.getLogger().handlers + log.handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - nothing may stop the exit
            pass
    kill_children()
    os._exit(DIE_EXIT_CODE)
