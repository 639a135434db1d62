"""The ``sync:`` service (push, pull, ls, stat) in both the v1 and the v2 message sets.

Requests are ``id[4] u32-LE length`` followed by ``length`` bytes (a path, or ``path,mode`` for SEND).
Replies follow AOSP's ``file_sync_protocol.h``; the terminating DONE of LIST and LIS2 is a full-size
record (20 and 76 bytes: a short one makes ``adb ls`` hang). SEND creates missing parent directories
(the ``fixed_push_mkdir`` feature). On a failed SEND the partial file is removed, as adbd does, and
the session ends after the FAIL reply. SND2/RCV2 are served without compression (this device does not
advertise ``sendrecv_v2_*`` compression, so a conforming host never asks for it).

Fault hooks: the quota on ``/data/local/tmp`` and dying after N pushed bytes (see faults.py).
"""
from __future__ import annotations

import errno
import logging
import os
import stat as stat_mod
import struct
import threading
from pathlib import Path

from rep_deploy.emulator import faults as fault_mod
from rep_deploy.emulator.adbd import Stream
from rep_deploy.emulator.faults import FaultOptions
from rep_deploy.emulator.sandbox import Sandbox

__all__ = ["SyncService", "PushCounter"]

log = logging.getLogger("rep_deploy.emulator")

SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024
_REQ = struct.Struct("<4sI")
_STAT_V1 = struct.Struct("<4sIII")  # STAT mode size mtime
_DENT_V1 = struct.Struct("<4sIIII")  # DENT mode size mtime namelen
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")  # STA2/LST2: 72 bytes
_DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")  # DNT2: 76 bytes + name
_SND2_SETUP = struct.Struct("<4sII")  # id mode flags
_RCV2_SETUP = struct.Struct("<4sI")  # id flags
_DRY_RUN = 0x80000000
assert _STAT_V2.size == 72 and _DENT_V2.size == 76 and _DENT_V1.size == 20


MAX_CHUNK_ACCEPTED = 1024 * 1024  # adb sends <= 64 KiB; be lenient with other clients


class SyncFailure(Exception):
    """Answered with FAIL; the session ends."""


class _SessionOver(SyncFailure):
    """FAIL was already sent; end the session quietly."""


class PushCounter:
    """Bytes of file data pushed since the daemon started (all connections), for die_after_push_bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0

    def add(self, n: int) -> int:
        with self._lock:
            self.total += n
            return self.total


def _errno_text(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


class SyncService:
    """One ``sync:`` session on a stream."""

    def __init__(self, sandbox: Sandbox, faults: FaultOptions, pushed: PushCounter) -> None:
        self.sandbox = sandbox
        self.faults = faults
        self.pushed = pushed

    def __call__(self, stream: Stream) -> None:
        self.stream = stream
        try:
            while True:
                ident, length = _REQ.unpack(stream.read_exact(_REQ.size))
                if ident == b"QUIT":
                    return
                if length > MAX_PATH:
                    raise SyncFailure(f"path too long: {length} bytes")
                path = stream.read_exact(length).decode("utf-8", "surrogateescape")
                log.info("sync %s %r", ident.decode("ascii", "replace"), path)
                self._dispatch(ident, path)
        except _SessionOver:
            return
        except SyncFailure as exc:
            log.info("sync FAIL: %s", exc)
            self._fail(str(exc))

    def _dispatch(self, ident: bytes, path: str) -> None:
        if ident == b"STAT":
            self._stat_v1(path)
        elif ident in (b"STA2", b"LST2"):
            self._stat_v2(ident, path)
        elif ident == b"LIST":
            self._list(path, v2=False)
        elif ident == b"LIS2":
            self._list(path, v2=True)
        elif ident == b"SEND":
            spec, sep, mode_text = path.rpartition(",")
            if not sep:
                spec, mode_text = path, "33188"  # 0100644
            try:
                mode = int(mode_text)
            except ValueError:
                raise SyncFailure(f"bad SEND mode {mode_text!r}") from None
            self._send(spec, mode, dry_run=False)
        elif ident == b"SND2":
            setup_id, mode, flags = _SND2_SETUP.unpack(self.stream.read_exact(_SND2_SETUP.size))
            if setup_id != b"SND2":
                raise SyncFailure("SND2 setup message missing")
            if flags & ~_DRY_RUN:
                raise SyncFailure(f"unsupported SND2 compression flags {flags:#x}")
            self._send(path, mode, dry_run=bool(flags & _DRY_RUN))
        elif ident == b"RECV":
            self._recv(path)
        elif ident == b"RCV2":
            setup_id, flags = _RCV2_SETUP.unpack(self.stream.read_exact(_RCV2_SETUP.size))
            if setup_id != b"RCV2":
                raise SyncFailure("RCV2 setup message missing")
            if flags:
                raise SyncFailure(f"unsupported RCV2 compression flags {flags:#x}")
            self._recv(path)
        else:
            raise SyncFailure(f"unknown sync command {ident!r}")

    # --- replies --------------------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        data = message.encode("utf-8", "replace")
        self.stream.write(_REQ.pack(b"FAIL", len(data)) + data)

    def _stat_v1(self, path: str) -> None:
        try:
            st = os.stat(self.sandbox.host_path(path))
            reply = _STAT_V1.pack(b"STAT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime) & 0xFFFFFFFF)
        except OSError:
            reply = _STAT_V1.pack(b"STAT", 0, 0, 0)
        self.stream.write(reply)

    @staticmethod
    def _v2_fields(st: os.stat_result) -> tuple:
        return (st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                int(st.st_atime), int(st.st_mtime), int(st.st_ctime))

    def _stat_v2(self, ident: bytes, path: str) -> None:
        host = self.sandbox.host_path(path)
        try:
            st = os.lstat(host) if ident == b"LST2" else os.stat(host)
            reply = _STAT_V2.pack(ident, 0, *self._v2_fields(st))
        except OSError as exc:
            reply = _STAT_V2.pack(ident, exc.errno or errno.EIO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        self.stream.write(reply)

    def _list(self, path: str, *, v2: bool) -> None:
        host = self.sandbox.host_path(path)
        try:
            names = sorted(os.listdir(host))
            entries = [".", ".."] + names
        except OSError:
            entries = []
        out = bytearray()
        for name in entries:
            try:
                st = os.lstat(host / name)
            except OSError:
                continue
            raw = name.encode("utf-8", "surrogateescape")
            if v2:
                out += _DENT_V2.pack(b"DNT2", 0, *self._v2_fields(st), len(raw)) + raw
            else:
                out += _DENT_V1.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF,
                                     int(st.st_mtime) & 0xFFFFFFFF, len(raw)) + raw
            if len(out) >= SYNC_DATA_MAX:
                self.stream.write(bytes(out))
                out.clear()
        if v2:
            out += _DENT_V2.pack(b"DONE", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        else:
            out += _DENT_V1.pack(b"DONE", 0, 0, 0, 0)
        self.stream.write(bytes(out))

    def _recv(self, path: str) -> None:
        host = self.sandbox.host_path(path)
        try:
            f = open(host, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SyncFailure(f"open failed: {_errno_text(exc)}") from None
        with f:
            while True:
                try:
                    data = f.read(SYNC_DATA_MAX)
                except OSError as exc:
                    raise SyncFailure(f"read failed: {_errno_text(exc)}") from None
                if not data:
                    break
                self.stream.write(_REQ.pack(b"DATA", len(data)) + data)
        self.stream.write(_REQ.pack(b"DONE", 0))

    # --- SEND -------------------------------------------------------------------------------------
    def _quota_base(self, host: Path) -> int | None:
        """Bytes already used under /data/local/tmp, not counting ``host`` (about to be replaced)."""
        if self.faults.quota is None:
            return None
        tmp = self.sandbox.data_tmp
        try:
            host.resolve().relative_to(tmp.resolve())
        except ValueError:
            return None  # the quota only covers /data/local/tmp
        used = 0
        for dirpath, _dirs, files in os.walk(tmp):
            for name in files:
                p = Path(dirpath) / name
                if p == host:
                    continue
                try:
                    used += os.lstat(p).st_size
                except OSError:
                    pass
        return used

    def _next_chunk(self) -> tuple[bytes, int, bytes]:
        ident, length = _REQ.unpack(self.stream.read_exact(_REQ.size))
        if ident == b"DATA":
            if length > MAX_CHUNK_ACCEPTED:
                raise SyncFailure(f"DATA chunk of {length} bytes is too large")
            return ident, length, self.stream.read_exact(length)
        if ident == b"DONE":
            return ident, length, b""
        raise SyncFailure(f"invalid data message {ident!r}")

    def _drain_until_done(self) -> None:
        while True:
            ident, _length, _data = self._next_chunk()
            if ident == b"DONE":
                return

    def _send(self, path: str, mode: int, *, dry_run: bool) -> None:
        host = self.sandbox.host_path(path)
        if stat_mod.S_ISLNK(mode):
            target = bytearray()
            while True:
                ident, mtime, data = self._next_chunk()
                if ident == b"DONE":
                    break
                target += data
            if not dry_run:
                try:
                    host.parent.mkdir(parents=True, exist_ok=True)
                    if host.is_symlink() or host.exists():
                        host.unlink()
                    os.symlink(target.decode("utf-8", "surrogateescape"), host)
                except OSError as exc:
                    raise SyncFailure(f"symlink failed: {_errno_text(exc)}") from None
            self.stream.write(_REQ.pack(b"OKAY", 0))
            return
        if dry_run:
            self._drain_until_done()
            self.stream.write(_REQ.pack(b"OKAY", 0))
            return
        try:
            host.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o777)
        except OSError as exc:
            self._fail(f"couldn't create file: {_errno_text(exc)}")
            self._drain_until_done()
            raise _SessionOver from None
        used = self._quota_base(host)
        written = 0
        failure: str | None = None
        try:
            while True:
                ident, mtime, data = self._next_chunk()
                if ident == b"DONE":
                    break
                if used is not None and self.faults.quota is not None and used + written + len(data) > self.faults.quota:
                    failure = "write failed: No space left on device"
                    break
                try:
                    os.write(fd, data)
                except OSError as exc:
                    failure = f"write failed: {_errno_text(exc)}"
                    break
                written += len(data)
                limit = self.faults.die_after_push_bytes
                if limit is not None and self.pushed.add(len(data)) >= limit:
                    os.close(fd)
                    fd = -1
                    fault_mod.die(f"{limit} bytes of file data pushed")
            if failure is None:
                os.fchmod(fd, mode & 0o777)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            _unlink_quietly(host)
            raise
        os.close(fd)
        if failure is not None:
            _unlink_quietly(host)
            log.info("SEND %r failed: %s (partial file removed)", path, failure)
            self._fail(failure)
            self._drain_until_done()
            raise _SessionOver
        try:
            os.utime(host, (mtime, mtime))
        except OSError:
            pass
        self.stream.write(_REQ.pack(b"OKAY", 0))


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
