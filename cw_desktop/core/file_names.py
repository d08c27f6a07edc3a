"""File names as the operating system gives them, made safe to show, store and compare.

On Linux a file name is bytes. Python hands over names that are not valid UTF-8 (a Latin-1 name
copied from an old disk: b"caf\\xe9.txt") as str with lone surrogates ("caf\\udce9.txt"); such a
str opens the file fine but cannot be encoded: print, json.dump, Qt and hashlib all fail on it.
So a name has two forms:

* the real one (a Path or surrogate-escaped str) to open the file, and `name_bytes` to hash or
  sort it deterministically;
* `display_name`, valid Unicode for messages, tables, JSON and reports: undecodable bytes are
  written as a backslash escape (\\xe9), which, unlike U+FFFD, keeps two different names different.
"""

from __future__ import annotations

import os
import stat

PathLike = str | bytes | os.PathLike


def name_bytes(name: PathLike) -> bytes:
    """The name's bytes exactly as on disk: the stable key for hashing and sorting."""
    return os.fsencode(name)


def display_name(name: PathLike) -> str:
    """A name that is always valid Unicode: undecodable bytes become "\\xe9"."""
    if isinstance(name, str) and name.isascii():
        return name  # the common case, no copy
    return name_bytes(name).decode("utf-8", "backslashreplace")


# What opening each kind of non-regular file would do; the reason the writer sees.
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO): opening it would wait for a writer forever"),
    (stat.S_ISSOCK, "a socket, not a file"),
    (stat.S_ISCHR, "a character device, not a file"),
    (stat.S_ISBLK, "a block device (a disk), not a file"),
    (stat.S_ISDIR, "a folder, not a file"),
)


def not_regular_reason(mode: int) -> str | None:
    """None for a regular file; otherwise why it must never be opened and read (st_mode from stat)."""
    if stat.S_ISREG(mode):
        return None
    for is_kind, reason in _SPECIAL_KINDS:
        if is_kind(mode):
            return reason
    return "not a regular file"
