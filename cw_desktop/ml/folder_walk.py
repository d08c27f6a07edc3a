"""List every file under a manuscripts folder, each either to be read or skipped with a reason.

The walk never opens a file: it only lists folders and stats names. It is iterative (an explicit
stack, so a folder nested 1,000 levels deep cannot exhaust Python's recursion limit), stops at
MAX_DEPTH levels, enters each real folder once (so symlink loops end), and by default does not
follow links that lead out of the chosen folder: the writer chose that folder, not what a link in
it points to (a link to / or to the home folder would otherwise scan the whole disk).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cw_desktop.core.file_names import display_name, name_bytes, not_regular_reason
from cw_desktop.ml import readers
from cw_desktop.ml.readers import SkipFile

# Deeper than any real manuscript folder (a novel in parts/chapters/drafts is ~5 levels).
MAX_DEPTH = 64


@dataclass
class Entry:
    path: Path       # the real path, to open the file (may hold surrogate-escaped bytes)
    relative: str    # POSIX path relative to the folder, always valid Unicode (display_name)
    skip: SkipFile | None = None
    format: str = ""


def _relative(path: Path, folder: Path) -> str:
    return display_name(path.relative_to(folder).as_posix())


def _folder_entry(path: Path, folder: Path, reason: str, detail: str) -> Entry:
    return Entry(path, _relative(path, folder) + "/", SkipFile(reason, detail), "folder")


def _is_inside(target: str, folder: str) -> bool:
    return target == folder or target.startswith(folder.rstrip(os.sep) + os.sep)


def _link_outside(child: os.DirEntry, folder: Path) -> str | None:
    """For a symlink that leads out of `folder`: where it leads (for the message); else None."""
    try:
        if not child.is_symlink():
            return None
    except OSError:
        return None
    target = os.path.realpath(child.path)
    return None if _is_inside(target, str(folder)) else display_name(target)


def _list(directory: Path) -> list[os.DirEntry]:
    with os.scandir(directory) as iterator:
        # Sorted by the names' bytes: the same order whatever the names' encoding or the locale.
        return sorted(iterator, key=lambda e: name_bytes(e.name))


def walk(folder: Path, *, follow_outside_links: bool = False, max_depth: int = MAX_DEPTH) -> list[Entry]:
    """Every file and every skipped folder under `folder` (an absolute, resolved path), in
    depth-first name order. Hidden folders, folders past `max_depth` and links out of the folder
    are not entered: each is reported as one skipped entry."""
    entries: list[Entry] = []
    visited: set[tuple[int, int]] = set()
    # One iterator over the sorted children of each open folder: entering a folder pushes it,
    # exhausting one pops it, so the order is the same as a recursive walk's.
    stack: list[tuple[Iterator[os.DirEntry], int]] = []

    def enter(directory: Path, depth: int) -> None:
        try:
            info = directory.stat()
            key = (info.st_dev, info.st_ino)
            if key in visited:
                return  # a symlink loop or a second link to a folder already scanned
            visited.add(key)
            children = _list(directory)
        except OSError as exc:
            entries.append(_folder_entry(directory, folder, "unreadable",
                                         f"cannot list the folder ({exc.strerror or exc})"))
            return
        stack.append((iter(children), depth))

    enter(folder, 0)
    while stack:
        iterator, depth = stack[-1]
        child = next(iterator, None)
        if child is None:
            stack.pop()
            continue
        path = Path(child.path)
        is_dir = _is_dir(child)
        outside = None if follow_outside_links else _link_outside(child, folder)
        if is_dir and readers.is_hidden_name(child.name):
            entries.append(_folder_entry(path, folder, "hidden", "hidden or system folder"))
        elif outside is not None and not readers.is_hidden_name(child.name):
            entries.append(_outside_entry(path, folder, outside, is_dir))
        elif not is_dir:
            entries.append(classify(path, _relative(path, folder), child))
        elif depth + 1 > max_depth:
            entries.append(_folder_entry(path, folder, "too deep",
                                         f"nested more than {max_depth} folders deep; not scanned"))
        else:
            enter(path, depth + 1)
    return entries


def _is_dir(child: os.DirEntry) -> bool:
    try:
        return child.is_dir(follow_symlinks=True)
    except OSError:  # a dangling link or a vanished entry: reported as a file that cannot be read
        return False


def _outside_entry(path: Path, folder: Path, target: str, is_dir: bool) -> Entry:
    relative = _relative(path, folder) + ("/" if is_dir else "")
    return Entry(path, relative, SkipFile("link outside", f"a link to {target}, outside the chosen folder; "
                                                          "links out of the folder are not followed"),
                 "folder" if is_dir else readers.format_of(path) or "link")


def classify(path: Path, relative: str, entry: os.DirEntry) -> Entry:
    """A non-folder entry: to be read (skip None, format set) or skipped with a reason."""
    suffix = readers.suffix_of(path.name)
    fmt = readers.format_of(path) or display_name(suffix.lstrip(".")) or "none"
    if readers.is_hidden_name(path.name):
        return Entry(path, relative, SkipFile("hidden", "hidden or system file"), fmt)
    try:
        info = entry.stat(follow_symlinks=True)
    except OSError as exc:  # a dangling symlink or a vanished file
        return Entry(path, relative, SkipFile("unreadable", exc.strerror or str(exc)), fmt)
    special = not_regular_reason(info.st_mode)
    if special is not None:  # never opened: a named pipe would block the scan forever
        return Entry(path, relative, SkipFile("not a regular file", special), fmt)
    if readers.format_of(path) is None:
        name = display_name(suffix or path.name)
        hint = readers.UNSUPPORTED_HINTS.get(suffix, f"'{name}' files are not manuscripts we can read")
        return Entry(path, relative, SkipFile("unsupported", hint), fmt)
    return Entry(path, relative, None, fmt)
