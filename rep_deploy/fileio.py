"""Atomic file output: a file appears complete, with normal permissions, or not at all."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_output", "write_bytes_atomic", "write_artifact_and_report"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    ``mkstemp`` creates files with mode 0600; the result gets the mode a plain ``open()`` would
    give (0666 less the umask), so exported models are readable like any other file. On an
    exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_artifact_and_report(artifact: Path, data: bytes, report: Path, summary: dict) -> None:
    """Write a result file and its JSON report, each atomically; if the report cannot be written,
    the result file goes too, so no result ever stands without its report."""
    import json

    write_bytes_atomic(artifact, data)
    try:
        write_bytes_atomic(report, (json.dumps(summary, indent=2, default=str) + "\n").encode())
    except BaseException:
        Path(artifact).unlink(missing_ok=True)
        raise
