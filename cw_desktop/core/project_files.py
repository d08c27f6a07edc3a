"""Which files of a project folder are chapters, found without ever opening one.

The same rules as the fine-tune scan's folder walk (ml/folder_walk.py), for plain text only:
iterative, sorted by the names' bytes, each real folder entered once, hidden folders (the
project's own `.cw_project/` among them) skipped, and a symlink that leads out of the project is
never followed: the writer chose this folder, not what a link in it points to. Named pipes,
devices and files too large to be drafts are reported, never listed (opening a FIFO blocks).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cw_desktop.core.documents import MAX_DOCUMENT_MB, TEXT_SUFFIXES
from cw_desktop.core.file_names import display_name, name_bytes, not_regular_reason

# A novel in parts/chapters is ~3 levels; deeper than this is not a manuscript layout.
MAX_DEPTH = 8


@dataclass
class FolderListing:
    chapters: list[str] = field(default_factory=list)  # POSIX paths relative to the folder, in name order
    refused: dict[str, str] = field(default_factory=dict)  # relative path -> why it is not a chapter


def is_hidden(name: str) -> bool:
    """Dotfiles (.cw_project, .git), office lock files (~$x) and editor backups (x~)."""
    return name.startswith((".", "~$")) or name.endswith("~")


def is_chapter_name(name: str) -> bool:
    return not is_hidden(name) and Path(name).suffix.lower() in TEXT_SUFFIXES


def inside(target: str, folder: str) -> bool:
    return target == folder or target.startswith(folder.rstrip(os.sep) + os.sep)


def safe_relative(relative: str) -> str | None:
    """`relative` as a clean POSIX path inside the folder, or None when it could leave it
    (absolute, '..', empty parts) or names a hidden file: the project file is untrusted input."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    path = PurePosixPath(relative)
    if path.is_absolute() or any(part in ("", ".", "..") or is_hidden(part) for part in path.parts):
        return None
    return path.as_posix()


def natural_key(relative: str) -> list[object]:
    """'Chapter 2' before 'Chapter 10', as a writer numbers files."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", relative)]


def list_chapters(folder: Path, max_depth: int = MAX_DEPTH) -> FolderListing:
    """Every .txt/.md file under `folder` (absolute, resolved) that can be opened as a chapter."""
    listing = FolderListing()
    root = str(folder)
    seen_folders: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    pending: list[tuple[Path, int]] = [(folder, 0)]
    max_bytes = MAX_DOCUMENT_MB * 1024 * 1024
    while pending:
        directory, depth = pending.pop()
        try:
            info = directory.stat()
            if (info.st_dev, info.st_ino) in seen_folders:
                continue  # a link loop, or a second link to a folder already listed
            seen_folders.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as iterator:
                children = sorted(iterator, key=lambda e: name_bytes(e.name))
        except OSError as exc:
            listing.refused[_relative(directory, folder) + "/"] = f"cannot list the folder ({exc.strerror or exc})"
            continue
        subfolders: list[Path] = []
        for child in children:
            if is_hidden(child.name):
                continue
            relative = _relative(Path(child.path), folder)
            real = os.path.realpath(child.path)
            if not inside(real, root):
                if _is_dir(child) or is_chapter_name(child.name):
                    listing.refused[relative] = (f"a link to {display_name(real)}, outside the project; "
                                                 "links out of the project are not followed")
                continue
            if _is_dir(child):
                if depth + 1 <= max_depth:
                    subfolders.append(Path(child.path))
                continue
            if not is_chapter_name(child.name):
                continue
            if relative != Path(child.path).relative_to(folder).as_posix():
                # Stored in the project file and shown in the tree, the name must be real Unicode.
                listing.refused[relative] = "the file name is not valid UTF-8; rename the file to use it"
                continue
            try:
                stat = os.stat(child.path)
            except OSError as exc:
                listing.refused[relative] = exc.strerror or str(exc)
                continue
            special = not_regular_reason(stat.st_mode)
            if special is not None:
                listing.refused[relative] = special
            elif stat.st_size > max_bytes:
                listing.refused[relative] = (f"{stat.st_size / 1024 / 1024:.0f} MB, larger than a draft can be "
                                             f"({MAX_DOCUMENT_MB} MB)")
            elif real not in seen_files:  # two links to one file would be two chapters sharing text
                seen_files.add(real)
                listing.chapters.append(relative)
        # Reversed onto the stack so the folders are listed in name order.
        pending.extend((sub, depth + 1) for sub in reversed(subfolders))
    listing.chapters.sort(key=name_bytes)
    return listing


def _relative(path: Path, folder: Path) -> str:
    return display_name(path.relative_to(folder).as_posix())


def _is_dir(child: os.DirEntry) -> bool:
    try:
        return child.is_dir(follow_symlinks=True)
    except OSError:
        return False
