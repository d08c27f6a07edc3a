"""Turn "the disk is full" into one clear message, whichever library hit it.

A full disk surfaces as OSError(ENOSPC) from Python, as "enforce fail at inline_container.cc ...
file write failed" from torch.save, as SafetensorError "... code: 28 ... StorageFull" from
safetensors: all are mapped to DiskFullError naming the folder, the size needed and the space free.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_MARKERS = ("No space left", "os error 28", "code: 28", "StorageFull", "Disk quota exceeded")
# Write failures that do not say why (torch's zip writer): a full disk when the space is gone.
_WRITE_FAILURE_MARKERS = ("inline_container", "PytorchStreamWriter", "file write failed", "unexpected pos",
                          "SafetensorError", "Error while serializing")


class DiskFullError(OSError):
    """There is not enough free space to write a file; the message says where and how much."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC  # str() stays the plain message (no "[Errno 28]" prefix)


def free_bytes(path: Path) -> int | None:
    """Free space on the file system holding `path` (or its nearest existing parent)."""
    for candidate in (Path(path), *Path(path).parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _mentions(exc: BaseException, markers: tuple[str, ...]) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in markers)


def looks_like_disk_full(exc: BaseException, directory: Path, needed_bytes: int) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if _mentions(exc, _FULL_MARKERS):
        return True
    free = free_bytes(directory)
    return _mentions(exc, _WRITE_FAILURE_MARKERS) and free is not None and free < max(needed_bytes, MB)


def disk_full_message(directory: Path, needed_bytes: int, what: str) -> str:
    free = free_bytes(directory)
    free_text = f", {free / MB:,.0f} MB free" if free is not None else ""
    return (f"No space left on {directory} (needed about {max(1, round(needed_bytes / MB)):,} MB{free_text}) "
            f"while saving {what}.")


@contextlib.contextmanager
def reporting_disk_full(directory: Path, needed_bytes: int, what: str, hint: str = "") -> Iterator[None]:
    """Re-raise a full disk inside the block as DiskFullError, and any other failed write of
    torch/safetensors as a plain OSError naming `directory` (no raw library traceback)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        if looks_like_disk_full(exc, directory, needed_bytes):
            message = disk_full_message(directory, needed_bytes, what)
            raise DiskFullError(f"{message} {hint}".strip()) from None
        if isinstance(exc, OSError) or not _mentions(exc, _WRITE_FAILURE_MARKERS):
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise OSError(f"Could not write {what} in {directory}: {first_line}") from exc
