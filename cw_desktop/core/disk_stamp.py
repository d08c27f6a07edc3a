"""What a file on disk looked like when the editor last read or wrote it, to notice other programs' changes.

mtime and size answer quickly; the content hash settles the doubtful cases both ways: a `touch`
or a sync tool rewriting identical bytes is not a change, and a same-size rewrite within the
file system's timestamp granularity still is.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from typing import Any

from cw_desktop.core.regular_files import NotRegularFile, special_kind

# Above this size an unchanged mtime+size is trusted without re-reading the file.
HASH_ALWAYS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class DiskStamp:
    mtime_ns: int
    size: int
    sha256: str

    @classmethod
    def of_bytes(cls, path: str | os.PathLike[str], data: bytes) -> "DiskStamp":
        """The stamp of `path` whose content is known to be `data` (just read or just written)."""
        info = os.stat(path)
        return cls(info.st_mtime_ns, info.st_size, hashlib.sha256(data).hexdigest())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> "DiskStamp | None":
        """None unless `raw` is a well-formed stamp (recovery files are validated field by field)."""
        if not isinstance(raw, dict):
            return None
        mtime, size, digest = raw.get("mtime_ns"), raw.get("size"), raw.get("sha256")
        if not (_is_int(mtime) and _is_int(size) and isinstance(digest, str) and len(digest) == 64):
            return None
        return cls(mtime, size, digest)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hash of a regular file's content; raises NotRegularFile (never blocks on a FIFO swapped in)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        kind = special_kind(os.fstat(handle.fileno()).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_stamp(path: str | os.PathLike[str]) -> DiskStamp | None:
    """The stamp of the file as it is now; None when it is missing, unreadable or not a regular file."""
    try:
        info = os.stat(path)
        return DiskStamp(info.st_mtime_ns, info.st_size, file_sha256(path))
    except OSError:
        return None


def disk_change(path: str | os.PathLike[str], stamp: DiskStamp | None) -> str | None:
    """How the file differs from `stamp`: None (unchanged, or nothing to compare), "changed" or "deleted"."""
    if stamp is None:
        return None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "deleted"
    except OSError:
        return None  # unreadable right now: saving will report the real error
    if info.st_size != stamp.size:
        return "changed"
    if info.st_mtime_ns == stamp.mtime_ns and info.st_size > HASH_ALWAYS_BYTES:
        return None
    try:
        return None if file_sha256(path) == stamp.sha256 else "changed"
    except NotRegularFile:
        return "changed"
    except OSError:
        return None
