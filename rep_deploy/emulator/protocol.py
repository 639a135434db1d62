"""The adb transport framing as adbd speaks it (AOSP ``protocol.txt``, checked against adb 29 and 36).

Every message is a 24-byte header of six little-endian u32 values
``command, arg0, arg1, data_length, data_check, magic`` followed by ``data_length`` payload bytes.
``magic`` is ``command ^ 0xffffffff``; ``data_check`` is the unsigned byte sum of the payload (not a
CRC). Peers at version ``A_VERSION_SKIP_CHECKSUM`` or later write 0 there and never check it, but a
host's first CNXN still carries it, so the sum is only computed when the peer is older.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = [
    "A_CLSE", "A_CNXN", "A_OKAY", "A_OPEN", "A_WRTE", "A_AUTH", "A_STLS",
    "A_VERSION", "A_VERSION_MIN", "A_VERSION_SKIP_CHECKSUM", "MAX_PAYLOAD", "MAX_PAYLOAD_V1",
    "Message", "ProtocolError", "pack", "read_message", "command_name",
]


def _fourcc(name: str) -> int:
    return struct.unpack("<I", name.encode("ascii"))[0]


A_CNXN = _fourcc("CNXN")
A_AUTH = _fourcc("AUTH")
A_OPEN = _fourcc("OPEN")
A_OKAY = _fourcc("OKAY")
A_WRTE = _fourcc("WRTE")
A_CLSE = _fourcc("CLSE")
A_STLS = _fourcc("STLS")

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = A_VERSION_SKIP_CHECKSUM
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4 * 1024  # CNXN / AUTH payloads: sent before the peer's maxdata is known

_HEADER = struct.Struct("<6I")
HEADER_SIZE = _HEADER.size


class ProtocolError(Exception):
    """The peer sent something that is not an adb message (bad magic, oversize payload)."""


@dataclass(frozen=True)
class Message:
    """One adb message: a command, its two arguments and the payload."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return command_name(self.command)


def command_name(command: int) -> str:
    """``CNXN`` etc. for logs; the hex value for unknown commands."""
    try:
        text = struct.pack("<I", command).decode("ascii")
    except (UnicodeDecodeError, struct.error):
        return hex(command)
    return text if text.isalpha() else hex(command)


def pack(msg: Message, *, checksum: bool) -> bytes:
    """Header plus payload; ``checksum`` writes the byte sum (for peers older than SKIP_CHECKSUM)."""
    check = sum(msg.data) & 0xFFFFFFFF if checksum else 0
    header = _HEADER.pack(msg.command, msg.arg0, msg.arg1, len(msg.data), check, msg.command ^ 0xFFFFFFFF)
    return header + msg.data


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """``n`` bytes, or None when the peer closed before sending any of them."""
    chunks = bytearray()
    while len(chunks) < n:
        part = sock.recv(n - len(chunks))
        if not part:
            if chunks:
                raise ProtocolError(f"connection closed inside a message ({len(chunks)} of {n} bytes)")
            return None
        chunks += part
    return bytes(chunks)


def read_message(sock: socket.socket, max_payload: int = MAX_PAYLOAD) -> Message | None:
    """The next message from ``sock``; None on a clean end of stream between messages.

    Like adbd's ``check_header`` only the magic and the payload size are checked, not the sum.
    """
    header = _recv_exact(sock, HEADER_SIZE)
    if header is None:
        return None
    command, arg0, arg1, length, _check, magic = _HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic {magic:#010x} for command {command:#010x}")
    if length > max_payload:
        raise ProtocolError(f"payload of {length} bytes exceeds the limit of {max_payload}")
    data = b""
    if length:
        got = _recv_exact(sock, length)
        if got is None:
            raise ProtocolError("connection closed before the payload")
        data = got
    return Message(command, arg0, arg1, data)
