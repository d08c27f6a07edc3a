"""Reading a file only when it is a regular file: a FIFO, socket or device is never opened for reading.

Opening a named pipe for reading blocks until a writer appears (forever, usually), and a device
such as /dev/zero never ends. The check is made on the opened descriptor (O_NONBLOCK makes the
open itself return at once even for a FIFO), so a file swapped after a stat() cannot slip through.
"""

from __future__ import annotations

import os
from pathlib import Path

from cw_desktop.core.file_names import not_regular_reason


class NotRegularFile(OSError):
    """`kind` says what the path is instead and why it is not read ("a named pipe (FIFO): ...")."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        super().__init__(f"{path} is {kind}")
        self.kind = kind


class FileTooLarge(OSError):
    def __init__(self, path: str | os.PathLike[str], size: int, max_bytes: int) -> None:
        super().__init__(f"{path} is larger than {max_bytes} bytes")
        self.size = size
        self.max_bytes = max_bytes


def special_kind(mode: int) -> str | None:
    """What a file of this st_mode is when it is not a regular file; None for a regular file."""
    return not_regular_reason(mode)


def special_kind_of(path: str | os.PathLike[str]) -> str | None:
    """As `special_kind`, for a path (symlinks followed); None also when the path does not exist."""
    try:
        return special_kind(os.stat(path).st_mode)
    except OSError:
        return None


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole file, read-only, without blocking on special files.

    Raises NotRegularFile, FileTooLarge (checked while reading: a file may grow), or OSError.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(Path(path), flags)
    try:
        info = os.fstat(fd)
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        if info.st_size > max_bytes:
            raise FileTooLarge(path, info.st_size, max_bytes)
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise FileTooLarge(path, len(data), max_bytes)
    return data
