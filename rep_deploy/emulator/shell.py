"""The ``shell:`` (v1), ``shell,v2,...:`` and ``exec:`` services: device commands run in the sandbox.

v1 and ``exec:`` are raw byte pipes: host data goes to stdin, stdout and stderr come back merged,
and the stream closes when the command ends (no exit code, as on a real device without shell_v2).
shell v2 frames everything as packets ``u8 id, u32 LE length, data`` (0 stdin, 1 stdout, 2 stderr,
3 exit with one status byte, 4 close stdin, 5 window size) so the host gets separate streams and the
exit status. A command killed by signal N reports 128+N like a shell. There is no pty: a ``pty``
request is served raw. Closing the stream from the host (Ctrl-C on ``adb shell``) hangs up the
command's process group.
"""
from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import threading
from collections.abc import Callable

from rep_deploy.emulator import faults as fault_mod
from rep_deploy.emulator.adbd import Handler, Stream, StreamClosed
from rep_deploy.emulator.faults import FaultOptions
from rep_deploy.emulator.sandbox import Sandbox

__all__ = ["shell_handler", "parse_shell_service", "exit_status"]

log = logging.getLogger("rep_deploy.emulator")

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW_SIZE = range(6)
_PACKET = struct.Struct("<BI")
_READ_SIZE = 32 * 1024
_HANGUP_GRACE = 2.0


def exit_status(returncode: int) -> int:
    """A Popen return code as a shell reports it: 128+N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def parse_shell_service(service: str) -> tuple[list[str], str] | None:
    """``"shell,v2,TERM=xterm,raw:ls"`` -> ``(["v2", "TERM=xterm", "raw"], "ls")``; None if not a shell."""
    if service.startswith("exec:"):
        return ["exec"], service[len("exec:"):]
    if not service.startswith("shell"):
        return None
    head, sep, command = service.partition(":")
    if not sep or (head != "shell" and not head.startswith("shell,")):
        return None
    return [a for a in head.split(",")[1:] if a], command


def shell_handler(service: str, sandbox: Sandbox, faults: FaultOptions) -> Handler | None:
    """The handler for a shell/exec OPEN, or None when ``service`` is not one."""
    parsed = parse_shell_service(service)
    if parsed is None:
        return None
    args, command = parsed
    term = next((a.split("=", 1)[1] for a in args if a.startswith("TERM=")), None)
    run = _Command(sandbox, faults, command, term=term)
    return run.serve_v2 if "v2" in args else run.serve_raw


class _Command:
    """One command invocation on the device."""

    def __init__(self, sandbox: Sandbox, faults: FaultOptions, command: str, *, term: str | None) -> None:
        self.sandbox = sandbox
        self.faults = faults
        self.command = command
        self.term = term

    @property
    def interactive(self) -> bool:
        """No command: a shell reading its commands from the host (``adb shell`` with no arguments)."""
        return not self.command.strip()

    def _stdin_writer(self, pipe) -> Callable[[bytes | None], None]:  # noqa: ANN001 - a file object
        """A writer for host data to the command's stdin; None flushes at end of input.

        An interactive shell gets each complete line translated like a command (device paths,
        aarch64 programs); a command's stdin is passed through untouched.
        """
        if not self.interactive:
            return lambda data: pipe.write(data) if data else None
        pending = bytearray()

        def write(data: bytes | None) -> None:
            if data is not None:
                pending.extend(data)
                cut = pending.rfind(b"\n") + 1
            else:
                cut = len(pending)
            if cut:
                text = bytes(pending[:cut]).decode("utf-8", "surrogateescape")
                del pending[:cut]
                pipe.write(self.sandbox.shell_command(text).encode("utf-8", "surrogateescape"))

        return write

    def _start(self, *, merge_stderr: bool) -> subprocess.Popen[bytes]:
        text = "exec /bin/sh -i" if self.interactive else self.sandbox.shell_command(self.command)
        proc = subprocess.Popen(
            ["/bin/sh", "-c", text], cwd=self.sandbox.root, env=self.sandbox.env(self.term),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True, bufsize=0,
        )
        fault_mod.register_child(proc.pid)
        log.info("pid %d runs %r", proc.pid, self.command[:300])
        self._arm_die_during(proc)
        return proc

    def _arm_die_during(self, proc: subprocess.Popen[bytes]) -> None:
        needle = self.faults.die_during
        if not needle or needle not in self.command:
            return

        def fire() -> None:
            if proc.poll() is None:
                fault_mod.die(f"command {self.command[:80]!r} still running after "
                              f"{self.faults.die_during_seconds}s")

        timer = threading.Timer(self.faults.die_during_seconds, fire)
        timer.daemon = True
        timer.start()

    @staticmethod
    def _hang_up(proc: subprocess.Popen[bytes]) -> None:
        """The host went away: SIGHUP the command's group, SIGKILL it if it lingers."""
        if proc.poll() is not None:
            return
        for sig in (signal.SIGHUP, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            try:
                proc.wait(_HANGUP_GRACE)
                return
            except subprocess.TimeoutExpired:
                continue

    def _watch_close(self, stream: Stream, proc: subprocess.Popen[bytes]) -> None:
        def watch() -> None:
            stream.closed_event.wait()
            self._hang_up(proc)

        threading.Thread(target=watch, daemon=True).start()

    @staticmethod
    def _pump_out(fd: int, emit: Callable[[bytes], None]) -> threading.Thread:
        """Copy a pipe to ``emit`` until EOF; keep draining (discarding) once the stream is gone."""

        def pump() -> None:
            alive = True
            while True:
                try:
                    data = os.read(fd, _READ_SIZE)
                except OSError:
                    break
                if not data:
                    break
                if alive:
                    try:
                        emit(data)
                    except (StreamClosed, OSError):
                        alive = False

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        return thread

    def _finish(self, proc: subprocess.Popen[bytes], pumps: list[threading.Thread]) -> int:
        returncode = proc.wait()
        for pump in pumps:
            pump.join()
        fault_mod.unregister_child(proc.pid)
        status = exit_status(returncode)
        log.info("pid %d exited with status %d", proc.pid, status)
        return status

    # --- raw: shell v1 and exec ------------------------------------------------------------------
    def serve_raw(self, stream: Stream) -> None:
        proc = self._start(merge_stderr=True)
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin
        write = self._stdin_writer(stdin)

        def feed() -> None:
            try:
                while data := stream.read():
                    write(data)
                write(None)
            except (OSError, ValueError):
                pass
            finally:
                _close_quietly(stdin)

        threading.Thread(target=feed, daemon=True).start()
        self._watch_close(stream, proc)
        pump = self._pump_out(proc.stdout.fileno(), stream.write)
        self._finish(proc, [pump])
        proc.stdout.close()

    # --- shell v2 ----------------------------------------------------------------------------------
    def serve_v2(self, stream: Stream) -> None:
        proc = self._start(merge_stderr=False)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        write_lock = threading.Lock()

        def packet(kind: int, data: bytes) -> None:
            with write_lock:
                stream.write(_PACKET.pack(kind, len(data)) + data)

        stdin = proc.stdin
        write = self._stdin_writer(stdin)

        def feed() -> None:
            try:
                while True:
                    kind, length = _PACKET.unpack(stream.read_exact(_PACKET.size))
                    data = stream.read_exact(length) if length else b""
                    if kind == ID_STDIN and data:
                        write(data)
                    elif kind == ID_CLOSE_STDIN:
                        write(None)
                        break
            except (StreamClosed, OSError, ValueError, struct.error):
                pass
            finally:
                _close_quietly(stdin)

        threading.Thread(target=feed, daemon=True).start()
        self._watch_close(stream, proc)
        pumps = [
            self._pump_out(proc.stdout.fileno(), lambda d: packet(ID_STDOUT, d)),
            self._pump_out(proc.stderr.fileno(), lambda d: packet(ID_STDERR, d)),
        ]
        status = self._finish(proc, pumps)
        proc.stdout.close()
        proc.stderr.close()
        packet(ID_EXIT, bytes([status & 0xFF]))


def _close_quietly(pipe) -> None:  # noqa: ANN001 - a file object
    try:
        pipe.close()
    except OSError:
        pass
