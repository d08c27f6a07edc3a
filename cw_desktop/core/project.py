"""A folder opened as a project: its chapters in the writer's order, a session target, the story context.

The project file is `<folder>/.cw_project/project.json`:
- in a hidden folder, because the chapter listing and the fine-tune scan (ml/folder_walk) skip
  hidden folders, so the project's own data never becomes a "manuscript"; the chapters deleted
  from the project are kept beside it, in `.cw_project/deleted/`;
- JSON rather than TOML: the story context is nested (a lorebook is a list of entries) and TOML
  has no null, so not every dict round-trips; indented, it is still readable and diffable;
- chapter paths are relative POSIX paths, so the folder can be moved or synced elsewhere.

Nothing here ever loses text: chapters are created exclusively (never over a file), renamed
without replacing anything, "deleted" by moving into `.cw_project/deleted/`; a project file that
cannot be used is copied aside before it is rewritten, and the problem names the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.documents import TEXT_SUFFIXES, DocumentError, count_words, read_text_file
from cw_desktop.core.project_files import (inside, is_hidden, list_chapters, natural_key, safe_relative)
from cw_desktop.core.regular_files import NotRegularFile, read_regular_file
from cw_desktop.core.settings import keep_copy
from cw_desktop.core.story_context import StoryContext

PROJECT_DIR = ".cw_project"
PROJECT_FILE = "project.json"
DELETED_DIR = "deleted"
FORMAT_VERSION = 1
MAX_PROJECT_FILE_BYTES = 16 * 1024 * 1024  # a big lorebook is a few hundred kB
MAX_SESSION_TARGET = 1_000_000
DEFAULT_SUFFIX = ".md"


class ProjectError(Exception):
    """An action on the project could not be done; the message names the file and the reason.
    A chapter's file is never half-changed: either it was not touched, or the action on it was
    done and only the project file could not record it (the message says "not saved"; the
    next opening finds the file again)."""


@dataclass
class Project:
    folder: Path  # absolute and resolved
    chapters: list[str] = field(default_factory=list)  # relative POSIX paths, in reading order
    title: str = ""
    session_target: int = 0  # words to write in one session; 0 = no target
    story: dict[str, Any] = field(default_factory=dict)  # StoryContext.to_dict() (core/story_context.py)
    missing: dict[str, str] = field(default_factory=dict)  # listed chapters that cannot be opened: why
    problems: list[str] = field(default_factory=list)  # for the writer, each naming the file
    kept_copy: Path | None = None  # where an unusable project file was copied before being rewritten
    # Why the project file on disk must not be overwritten: it holds something unusable that
    # could not be copied aside ("" when saving is safe).
    keep_file_reason: str = ""

    @property
    def data_dir(self) -> Path:
        return self.folder / PROJECT_DIR

    @property
    def file(self) -> Path:
        return self.data_dir / PROJECT_FILE

    @property
    def deleted_dir(self) -> Path:
        return self.data_dir / DELETED_DIR

    # -- opening and saving ----------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, create: bool = False) -> "Project":
        """The project in `folder` (made a project if it is not one yet; with `create`, the folder
        is made too). Problems with the file or the chapters are in `problems`, never raised;
        ProjectError only when the folder itself cannot be used."""
        path = Path(folder).expanduser()
        if create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectError(f"{path}: the folder could not be made ({exc.strerror or exc})") from None
        if not path.exists():
            raise ProjectError(f"{path}: the folder does not exist")
        if not path.is_dir():
            raise ProjectError(f"{path} is a file, not a folder: choose the folder that holds your chapters")
        project = cls(path.resolve())
        project.title = project.folder.name
        project._check_data_dir()
        listed = project._read_file()
        on_disk = list_chapters(project.folder)
        project._merge(listed, on_disk.chapters, on_disk.refused)
        return project

    def _check_data_dir(self) -> None:
        # A `.cw_project` that is a link could make every save write outside the project.
        if self.data_dir.is_symlink() or (self.data_dir.exists() and not self.data_dir.is_dir()):
            raise ProjectError(f"{self.data_dir} is a link or a file, not the project's folder; move it away "
                               "to open this folder as a project")

    def _read_file(self) -> list[str] | None:
        """The chapters the project file lists (None when there is no usable file); the other
        fields are set on self. Bad values are reported and replaced by defaults one by one."""
        if not os.path.lexists(self.file):
            return None
        try:
            if self.file.is_symlink():
                raise OSError("it is a link; the project file is never read through a link")
            data = read_regular_file(self.file, MAX_PROJECT_FILE_BYTES)
        except OSError as exc:
            self.problems.append(f"{self.file}: could not be read ({exc}); the chapters on disk are listed "
                                 "in name order")
            if not isinstance(exc, NotRegularFile) and not self.file.is_symlink():
                # Unreadable (permissions, say): it cannot be copied aside, so it is not replaced either.
                self.keep_file_reason = f"it could not be read ({exc}), so it is not replaced"
            return None
        try:
            raw = json.loads(data.decode("utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("it is not a JSON object")
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            self._keep_aside(data)
            kept = f"; your file was copied to {self.kept_copy.name}" if self.kept_copy else ""
            self.problems.append(f"{self.file}: not a valid project file ({exc}){kept}; the chapters on disk "
                                 "are listed in name order")
            return None
        problems_before = len(self.problems)
        listed = self._apply(raw)
        if len(self.problems) > problems_before:
            self._keep_aside(data)
        return listed

    def _keep_aside(self, data: bytes) -> None:
        self.kept_copy = keep_copy(self.file, data)
        if self.kept_copy is None:
            self.keep_file_reason = "it has problems and could not be copied aside, so it is not replaced"

    def _apply(self, raw: dict[str, Any]) -> list[str]:
        where = str(self.file)
        title = raw.get("title", self.title)
        if isinstance(title, str) and title.strip():
            self.title = title.strip()
        elif "title" in raw:
            self.problems.append(f"{where}: title is not text; using the folder's name")
        target = raw.get("session_target", 0)
        if isinstance(target, int) and not isinstance(target, bool) and 0 <= target <= MAX_SESSION_TARGET:
            self.session_target = target
        else:
            self.problems.append(f"{where}: session_target {target!r:.40} is not a number of words "
                                 f"(0…{MAX_SESSION_TARGET:,}); no target")
        story = raw.get("story", {})
        if isinstance(story, dict):
            self.story = story
            self.problems += [f"{where}: story: {problem}" for problem in StoryContext.from_dict(story)[1]]
        else:
            self.problems.append(f"{where}: story is not a table of settings; the story context starts empty")
        chapters = raw.get("chapters", [])
        if not isinstance(chapters, list):
            self.problems.append(f"{where}: chapters is not a list; the chapters on disk are listed in name order")
            return []
        listed: list[str] = []
        for item in chapters:
            relative = safe_relative(item) if isinstance(item, str) else None
            if relative is None or PurePosixPath(relative).suffix.lower() not in TEXT_SUFFIXES:
                self.problems.append(f"{where}: chapter {item!r:.80} is not a .txt/.md file inside the project; "
                                     "ignored")
            elif relative not in listed:
                listed.append(relative)
        return listed

    def _merge(self, listed: list[str] | None, on_disk: list[str], refused: dict[str, str]) -> None:
        found = set(on_disk)
        order = list(listed or [])
        for relative in order:
            if relative in found:
                continue
            reason = refused.get(relative, "the file is not in the project folder (moved, renamed or deleted "
                                           "by another program)")
            self.missing[relative] = reason
            self.problems.append(f"{self.folder / relative}: listed as a chapter but cannot be opened: {reason}. "
                                 "It stays in the list until you remove it.")
        known = set(order)
        new = sorted((relative for relative in on_disk if relative not in known), key=natural_key)
        self.chapters = order + new
        for relative, reason in refused.items():
            if relative not in known:
                self.problems.append(f"{self.folder / relative}: not listed as a chapter: {reason}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "title": self.title, "chapters": list(self.chapters),
                "session_target": self.session_target, "story": self.story}

    def save(self) -> None:
        """Write the project file atomically. Raises ProjectError (the old file is then intact)."""
        if self.keep_file_reason:
            raise ProjectError(f"{self.file}: not saved: {self.keep_file_reason}; fix or move the file, "
                               "then open the project again")
        self._check_data_dir()
        try:
            atomic_write_text(self.file, json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n")
        except (OSError, ValueError) as exc:
            raise ProjectError(f"{self.file}: could not be saved ({exc}); the previous version is unchanged") from None

    # -- the story context (Memory, lorebook, author's note) of every chapter ---------------------
    def load_story(self) -> StoryContext:
        """What the project file holds (its problems were reported when the project opened)."""
        return StoryContext.from_dict(self.story)[0]

    def save_story(self, story: StoryContext) -> None:
        """Store the story in the project file. Raises ProjectError (the old file is then intact)."""
        self.story = story.to_dict()
        self.save()

    # -- chapters ----------------------------------------------------------------------------------
    def path_of(self, relative: str) -> Path:
        return self.folder / relative

    def chapter_of(self, path: str | os.PathLike[str]) -> str | None:
        """The chapter (relative path) that `path` is, or None when it is not one of this project's."""
        try:
            relative = Path(os.path.abspath(path)).relative_to(self.folder).as_posix()
        except ValueError:
            try:
                relative = Path(path).resolve().relative_to(self.folder).as_posix()
            except (ValueError, OSError):
                return None
        return relative if relative in self.chapters else None

    def _checked_name(self, name: str, folder: PurePosixPath, suffix: str) -> str:
        name = name.strip()
        if not name or "/" in name or "\\" in name or "\x00" in name or is_hidden(name) or name in (".", ".."):
            raise ProjectError(f"“{name}” cannot be a chapter's file name: use letters, digits and spaces, "
                               "without / or a leading dot")
        if Path(name).suffix.lower() not in TEXT_SUFFIXES:
            name += suffix
        relative = (folder / name).as_posix()
        if not inside(os.path.realpath(self.path_of(relative).parent), str(self.folder)):
            raise ProjectError(f"{self.path_of(relative).parent} leads outside the project (a link); "
                               "chapters are only written inside the project")
        return relative

    def _default_suffix(self) -> str:
        suffixes = [PurePosixPath(c).suffix.lower() for c in self.chapters]
        return max(set(suffixes), key=suffixes.count) if suffixes else DEFAULT_SUFFIX

    def new_chapter(self, name: str, after: str | None = None, text: str = "") -> str:
        """Create an (empty) chapter file after `after` (at the end when None); never over a file."""
        relative = self._checked_name(name, PurePosixPath(after).parent if after else PurePosixPath(),
                                      self._default_suffix())
        path = self.path_of(relative)
        try:
            with open(path, "x", encoding="utf-8") as handle:  # "x": fails if anything is there
                handle.write(text)
        except FileExistsError:
            raise ProjectError(f"{path} already exists; choose another name") from None
        except OSError as exc:
            raise ProjectError(f"{path}: could not be created ({exc.strerror or exc})") from None
        index = self.chapters.index(after) + 1 if after in self.chapters else len(self.chapters)
        self.chapters.insert(index, relative)
        self.save()
        return relative

    def rename_chapter(self, relative: str, new_name: str) -> str:
        """Rename a chapter's file in its folder; never replaces another file. Returns the new path."""
        self._require(relative)
        new_relative = self._checked_name(new_name, PurePosixPath(relative).parent,
                                          PurePosixPath(relative).suffix or DEFAULT_SUFFIX)
        if new_relative == relative:
            return relative
        source, target = self.path_of(relative), self.path_of(new_relative)
        if relative not in self.missing:
            _move_without_replacing(source, target)
        self.chapters[self.chapters.index(relative)] = new_relative
        self.missing.pop(relative, None)
        self.save()
        return new_relative

    def move_chapter(self, relative: str, delta: int) -> int:
        """Move a chapter `delta` places up (negative) or down; returns its new index."""
        self._require(relative)
        index = self.chapters.index(relative)
        new_index = max(0, min(len(self.chapters) - 1, index + delta))
        if new_index != index:
            self.chapters.insert(new_index, self.chapters.pop(index))
            self.save()
        return new_index

    def set_order(self, order: list[str]) -> None:
        """A new reading order: the same chapters, rearranged (a drag in the tree)."""
        if sorted(order) != sorted(self.chapters):
            raise ProjectError("the new order does not hold exactly the project's chapters; nothing changed")
        if order != self.chapters:
            self.chapters = list(order)
            self.save()

    def delete_chapter(self, relative: str) -> Path | None:
        """Take a chapter out of the project: its file moves to `.cw_project/deleted/` (returned;
        None for a chapter missing on disk, which only leaves the list)."""
        self._require(relative)
        moved_to: Path | None = None
        if relative not in self.missing:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            source = PurePosixPath(relative)
            target = self.deleted_dir / f"{source.stem} (deleted {stamp}){source.suffix}"
            number = 1
            while os.path.lexists(target):
                number += 1
                target = self.deleted_dir / f"{source.stem} (deleted {stamp} {number}){source.suffix}"
            self._check_data_dir()
            if self.deleted_dir.is_symlink():
                raise ProjectError(f"{self.deleted_dir} is a link; deleted chapters are only kept inside the "
                                   "project, so the chapter was not touched")
            try:
                self.deleted_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectError(f"{self.deleted_dir}: could not be made ({exc.strerror or exc}); "
                                   "the chapter was not touched") from None
            _move_without_replacing(self.path_of(relative), target)
            moved_to = target
        self.chapters.remove(relative)
        self.missing.pop(relative, None)
        self.save()
        return moved_to

    def _require(self, relative: str) -> None:
        if relative not in self.chapters:
            raise ProjectError(f"{self.path_of(relative)} is not a chapter of this project")

    # -- reading ------------------------------------------------------------------------------------
    def read_chapter(self, relative: str) -> str:
        """The chapter's text as the editor shows it. Raises DocumentError (the message names the file)."""
        path = self.path_of(relative)
        if not inside(os.path.realpath(path), str(self.folder)):
            raise DocumentError(f"{path} now leads outside the project; it is not read")
        return read_text_file(path).text

    def word_count(self, relative: str) -> int | None:
        """Words in the chapter on disk; None when it cannot be read."""
        try:
            return count_words(self.read_chapter(relative))
        except DocumentError:
            return None


def _move_without_replacing(source: Path, target: Path) -> None:
    """Rename `source` to `target`, failing rather than replacing a file already at `target`."""
    if os.path.lexists(target):
        raise ProjectError(f"{target} already exists; choose another name")
    try:
        try:
            os.link(source, target, follow_symlinks=False)  # atomic "create only if absent"
        except FileExistsError:
            raise
        except OSError:
            os.rename(source, target)  # a file system without hard links: checked just above
            return
        os.unlink(source)
    except FileExistsError:
        raise ProjectError(f"{target} already exists; choose another name") from None
    except OSError as exc:
        raise ProjectError(f"{source} could not be moved to {target} ({exc.strerror or exc}); "
                           "nothing was changed") from None
