"""adbd's side of the adb transport over TCP: the CNXN exchange, streams and service dispatch.

The real adb server connects (``adb connect 127.0.0.1:PORT``) and sends CNXN; we answer with our own
CNXN at once and never ask for AUTH, which the host accepts (it is the device's choice). Each OPEN
becomes a :class:`Stream` served by its own thread. Flow control is adb's: at most one WRTE of ours
is in flight per stream until the host's OKAY, and we acknowledge the host's WRTEs as the service
consumes them, so a fast push cannot fill memory. A CLSE from the host is echoed with our own CLSE,
as real adbd does (clients such as adb_shell wait for it).
"""
from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Callable

from rep_deploy.emulator.protocol import (
    A_AUTH, A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_STLS, A_VERSION, A_VERSION_SKIP_CHECKSUM, A_WRTE,
    MAX_PAYLOAD, MAX_PAYLOAD_V1, Message, ProtocolError, pack, read_message,
)

__all__ = ["AdbDaemon", "Connection", "Stream", "StreamClosed", "Handler", "Resolver"]

log = logging.getLogger("rep_deploy.emulator")

# Bytes of host data a stream may hold unread before we stop acknowledging (back-pressure).
_ACK_LIMIT = 256 * 1024


class StreamClosed(Exception):
    """The host closed the stream (or the connection went away)."""


class Stream:
    """One adb stream (a service instance) on a connection: a byte pipe with adb flow control."""

    def __init__(self, conn: Connection, local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self._cond = threading.Condition()
        self._buffer = bytearray()
        self._ack_pending = False
        self._can_send = True
        self._remote_closed = False
        self._sent_close = False
        self.closed_event = threading.Event()  # set when the host closed the stream

    # --- called by the connection's reader thread -------------------------------------------
    def _deliver(self, data: bytes) -> None:
        with self._cond:
            self._buffer += data
            ack_now = len(self._buffer) <= _ACK_LIMIT
            self._ack_pending = not ack_now
            self._cond.notify_all()
        if ack_now:
            self.conn.send(A_OKAY, self.local_id, self.remote_id)

    def _acked(self) -> None:
        with self._cond:
            self._can_send = True
            self._cond.notify_all()

    def _remote_close(self) -> None:
        with self._cond:
            self._remote_closed = True
            self._cond.notify_all()
        self.closed_event.set()

    # --- used by services ---------------------------------------------------------------------
    @property
    def remote_closed(self) -> bool:
        return self._remote_closed

    def read(self, max_bytes: int = 1 << 20) -> bytes:
        """Up to ``max_bytes`` of host data, waiting for some; b"" once the host closed and all was read."""
        with self._cond:
            while not self._buffer and not self._remote_closed:
                self._cond.wait()
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            ack = self._ack_pending and len(self._buffer) <= _ACK_LIMIT
            if ack:
                self._ack_pending = False
        if ack and not self._remote_closed:
            self.conn.send(A_OKAY, self.local_id, self.remote_id)
        return data

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes; StreamClosed if the host closes first."""
        parts = bytearray()
        while len(parts) < n:
            chunk = self.read(n - len(parts))
            if not chunk:
                raise StreamClosed(f"stream closed after {len(parts)} of {n} bytes")
            parts += chunk
        return bytes(parts)

    def write(self, data: bytes) -> None:
        """Send ``data`` as WRTEs of at most the negotiated payload size, one in flight at a time."""
        view = memoryview(data)
        step = self.conn.max_payload
        for off in range(0, len(view), step):
            with self._cond:
                while not self._can_send and not self._remote_closed:
                    self._cond.wait()
                if self._remote_closed:
                    raise StreamClosed("host closed the stream")
                self._can_send = False
            self.conn.send(A_WRTE, self.local_id, self.remote_id, bytes(view[off:off + step]))

    def close(self) -> None:
        """Send our CLSE (once) and forget the stream."""
        with self._cond:
            if self._sent_close:
                return
            self._sent_close = True
            self._remote_closed = True
            self._cond.notify_all()
        self.closed_event.set()
        self.conn.forget(self.local_id)
        try:
            self.conn.send(A_CLSE, self.local_id, self.remote_id)
        except OSError:
            pass


Handler = Callable[[Stream], None]
Resolver = Callable[[str], "Handler | None"]


class Connection:
    """One host connection: reads messages, keeps the streams, serialises writes to the socket."""

    _ids = itertools.count(1)

    def __init__(self, sock: socket.socket, banner: bytes, resolve: Resolver) -> None:
        self.sock = sock
        self.banner = banner
        self.resolve = resolve
        self.version = A_VERSION
        self.max_payload = MAX_PAYLOAD_V1
        self.online = False
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        raw = pack(Message(command, arg0, arg1, data), checksum=self.version < A_VERSION_SKIP_CHECKSUM)
        with self._send_lock:
            self.sock.sendall(raw)

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(local_id, None)

    def _stream(self, local_id: int) -> Stream | None:
        with self._streams_lock:
            return self._streams.get(local_id)

    def serve(self) -> None:
        """Handle messages until the host disconnects; then close every stream."""
        try:
            while True:
                msg = read_message(self.sock, MAX_PAYLOAD)
                if msg is None:
                    break
                self._handle(msg)
        except (OSError, ProtocolError) as exc:
            log.info("connection ended: %s", exc)
        finally:
            with self._streams_lock:
                streams = list(self._streams.values())
                self._streams.clear()
            for stream in streams:
                stream._remote_close()
            try:
                self.sock.close()
            except OSError:
                pass

    def _handle(self, msg: Message) -> None:
        if msg.command == A_CNXN:
            self.version = min(msg.arg0, A_VERSION)
            self.max_payload = max(MAX_PAYLOAD_V1, min(msg.arg1, MAX_PAYLOAD))
            log.info("CNXN from host: version %#x, maxdata %d, %r", msg.arg0, msg.arg1, msg.data[:200])
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.banner)
            self.online = True
        elif msg.command == A_OPEN:
            self._open(msg.arg0, msg.data.rstrip(b"\0").decode("utf-8", "replace"))
        elif msg.command == A_OKAY:
            stream = self._stream(msg.arg1)
            if stream is not None:
                stream._acked()
        elif msg.command == A_WRTE:
            stream = self._stream(msg.arg1)
            if stream is not None:
                stream._deliver(msg.data)
        elif msg.command == A_CLSE:
            stream = self._stream(msg.arg1)
            if stream is not None:
                stream._remote_close()
                stream.close()  # echo, as real adbd does
        elif msg.command in (A_AUTH, A_STLS):
            log.info("ignoring %s (this device never asks for AUTH or TLS)", msg.name)
        else:
            log.warning("ignoring unknown message %s", msg.name)

    def _open(self, remote_id: int, service: str) -> None:
        handler = self.resolve(service)
        if handler is None:
            log.info("OPEN %r: no such service", service)
            self.send(A_CLSE, 0, remote_id)
            return
        local_id = next(self._ids)
        stream = Stream(self, local_id, remote_id)
        with self._streams_lock:
            self._streams[local_id] = stream
        log.info("OPEN %r as stream %d", service[:200], local_id)
        self.send(A_OKAY, local_id, remote_id)
        threading.Thread(target=self._run, args=(handler, stream, service), daemon=True,
                         name=f"stream-{local_id}").start()

    @staticmethod
    def _run(handler: Handler, stream: Stream, service: str) -> None:
        try:
            handler(stream)
        except StreamClosed:
            log.info("stream %d (%s): host closed it", stream.local_id, service[:60])
        except OSError as exc:
            log.info("stream %d (%s): %s", stream.local_id, service[:60], exc)
        except Exception:  # noqa: BLE001 - one broken service must not take the device down
            log.exception("stream %d (%s) failed", stream.local_id, service[:60])
        finally:
            stream.close()


class AdbDaemon:
    """The TCP listener: one :class:`Connection` thread per host connection."""

    def __init__(self, banner: str, resolve: Resolver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.banner = banner.encode("utf-8")
        if len(self.banner) > MAX_PAYLOAD_V1:
            raise ValueError(f"CNXN banner is {len(self.banner)} bytes, more than {MAX_PAYLOAD_V1}")
        self.resolve = resolve
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown`."""
        log.info("listening on 127.0.0.1:%d", self.port)
        try:
            while not self._stop.is_set():
                try:
                    sock, addr = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                log.info("connection from %s:%d", *addr[:2])
                conn = Connection(sock, self.banner, self.resolve)
                with self._lock:
                    self._connections.append(conn)
                threading.Thread(target=conn.serve, daemon=True, name=f"conn-{addr[1]}").start()
        finally:
            self._listener.close()

    def shutdown(self) -> None:
        """Stop accepting and close every connection (their streams see the host gone)."""
        self._stop.set()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
