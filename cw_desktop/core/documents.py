"""The writer's documents on disk: reading, atomic saving, crash recovery, per-document Memory.

Plain Python (no Qt) so the rules that protect the writer's text are testable on their own:
- a save is atomic (a crash mid-save leaves the old file intact), in the file's own encoding
  and line endings when possible;
- every open document with unsaved changes is copied to the recovery folder (never beside the
  writer's file), and copies left by a session that died are offered back at the next launch;
- the Memory notes of a document live in the data folder, keyed by the document's path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cw_desktop.core.atomic import atomic_write_bytes, atomic_write_text
from cw_desktop.core.disk_stamp import DiskStamp
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.processes import pid_alive
from cw_desktop.core.regular_files import FileTooLarge, NotRegularFile, read_regular_file, special_kind_of
from cw_desktop.core.text_encoding import UTF8, NotText, TextEncoding, UnencodableText, decode, encode

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
# QPlainTextEdit stays responsive up to a few MB; a bigger file is almost surely not a draft.
MAX_DOCUMENT_MB = 20
RECENT_LIMIT = 10


class DocumentError(Exception):
    """A document could not be read or written; the message names the file and the reason."""


class UnencodableDocument(DocumentError):
    """The text holds characters the file's encoding cannot store; nothing was written.

    The window asks the writer (save as UTF-8, or cancel): the encoding never changes silently.
    """

    def __init__(self, path: str | os.PathLike[str], error: UnencodableText) -> None:
        super().__init__(f"{path}: {error}; nothing was saved")
        self.characters = error.characters
        self.label = error.label


@dataclass
class TextFile:
    text: str  # always with "\n" line endings, as the editor holds it
    encoding: TextEncoding = UTF8  # codec, BOM and the line endings the file used, restored on save
    stamp: DiskStamp | None = None  # the file as read, to notice changes made by other programs

    @property
    def newline(self) -> str:
        return self.encoding.newline


# Characters Qt's text document cannot hold as they are: it turns each into a paragraph break
# (U+2029 is its own paragraph separator, U+FDD0/U+FDD1 its frame markers), so a file holding one
# would come back changed on save. Found by trying every code point through the editor.
EDITOR_UNSAFE = {"\u2029": "PARAGRAPH SEPARATOR", "\ufdd0": "U+FDD0", "\ufdd1": "U+FDD1"}


def editor_unsafe_characters(text: str) -> str:
    """"" if the editor keeps `text` exactly; else which characters it would change and where the
    first is, e.g. "2 characters (PARAGRAPH SEPARATOR), the first on line 3"."""
    found = [i for i, ch in enumerate(text) if ch in EDITOR_UNSAFE]
    if not found:
        return ""
    names = ", ".join(sorted({EDITOR_UNSAFE[text[i]] for i in found}))
    line = text.count("\n", 0, found[0]) + 1
    count = f"{len(found)} character{'s' if len(found) > 1 else ''}"
    return f"{count} ({names}), the first on line {line}"


# -- reading and saving --------------------------------------------------------------------------

def read_text_file(path: str | os.PathLike[str]) -> TextFile:
    file = Path(path)
    try:
        data = read_regular_file(file, MAX_DOCUMENT_MB * 1024 * 1024)
    except FileNotFoundError:
        raise DocumentError(f"{file}: the file does not exist") from None
    except NotRegularFile as exc:
        raise DocumentError(f"{file} is {exc.kind}; the editor opens only regular text files") from None
    except FileTooLarge as exc:
        raise DocumentError(f"{file} is {exc.size / 1024 / 1024:.0f} MB; documents over {MAX_DOCUMENT_MB} MB "
                            "are not supported (is it really a text file?)") from None
    except OSError as exc:
        raise DocumentError(f"{file}: cannot be opened ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL character in the name
        raise DocumentError(f"{file!r}: not a valid file name ({exc})") from None
    try:
        decoded = decode(data)
    except NotText as exc:
        raise DocumentError(f"{file} looks like a binary file ({exc}), not plain text") from None
    return TextFile(text=to_editor_newlines(decoded.text), encoding=decoded.encoding,
                    stamp=DiskStamp.of_bytes(file, data))


def to_editor_newlines(text: str) -> str:
    """The editor holds "\n" only; the file's own style is restored from its TextEncoding on save."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def save_text_file(path: str | os.PathLike[str], text: str, encoding: TextEncoding = UTF8) -> DiskStamp:
    """Write atomically in `encoding` (BOM and line endings included); returns the new disk stamp.

    Raises UnencodableDocument, before touching the disk, when a character does not fit.
    """
    kind = special_kind_of(path)
    if kind is not None:
        raise DocumentError(f"{path} is {kind}; choose another name to save to")
    payload = text.replace("\n", encoding.newline) if encoding.newline != "\n" else text
    try:
        data = encode(payload, encoding)
    except UnencodableText as exc:
        raise UnencodableDocument(path, exc) from None
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise DocumentError(f"{path}: could not be saved ({exc.strerror or exc}); the previous "
                            "version on disk is unchanged") from None
    return DiskStamp.of_bytes(path, data)


def count_words(text: str) -> int:
    return len(text.split())


def update_recent(recent: list[str], path: str | os.PathLike[str], limit: int = RECENT_LIMIT) -> list[str]:
    """Most recent first, no duplicates."""
    entry = str(Path(path).resolve())
    return ([entry] + [item for item in recent if item != entry])[:limit]


# -- crash recovery ------------------------------------------------------------------------------

@dataclass
class RecoveryEntry:
    doc_id: str  # stable for one open document for the life of a session
    title: str
    text: str
    path: str | None = None  # None for a document never saved
    memory: str = ""
    pid: int = field(default_factory=os.getpid)
    saved_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    # The file on disk as this session last read or saved it: after a restore, a change made by
    # another program meanwhile is still noticed before saving over it.
    disk_stamp: DiskStamp | None = None
    story: dict[str, Any] | None = None  # StoryContext.to_dict(): the lorebook and author's note beside `memory`

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["disk_stamp"] = self.disk_stamp.to_dict() if self.disk_stamp else None
        return data


@dataclass
class BrokenRecoveryFile:
    path: Path
    reason: str


_DOC_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_MAX_PID = 2**31 - 1  # os.kill overflows beyond this


def parse_recovery_entry(raw: Any, file_stem: str) -> RecoveryEntry:
    """A RecoveryEntry from decoded JSON, every field checked; raises ValueError naming the bad field.

    Unknown extra fields are ignored (a newer version may add some); missing optional ones get
    their defaults. The doc_id must match the file name: it names the file that is later removed.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")

    def need(name: str, kinds: tuple[type, ...], default: Any = ...) -> Any:
        if name not in raw:
            if default is ...:
                raise ValueError(f"the field {name!r} is missing")
            return default
        value = raw[name]
        if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
            raise ValueError(f"the field {name!r} should be {' or '.join(k.__name__ for k in kinds)}, "
                             f"not {value!r:.60}")
        return value

    doc_id = need("doc_id", (str,))
    if not _DOC_ID.fullmatch(doc_id) or doc_id != file_stem:
        raise ValueError(f"the field 'doc_id' ({doc_id!r:.60}) does not match the file name")
    path = need("path", (str, type(None)), None)
    if path is not None and (not path or "\x00" in path):
        raise ValueError("the field 'path' is not a file path")
    pid = need("pid", (int,))
    if not 0 < pid <= _MAX_PID:
        raise ValueError(f"the field 'pid' ({pid}) is not a process id")
    stamp_raw = raw.get("disk_stamp")
    stamp = DiskStamp.from_dict(stamp_raw)
    if stamp_raw is not None and stamp is None:
        raise ValueError("the field 'disk_stamp' is malformed")
    return RecoveryEntry(doc_id=doc_id, title=need("title", (str,)), text=need("text", (str,)),
                         path=path, memory=need("memory", (str,), ""),
                         pid=pid, saved_at=need("saved_at", (str,), ""), disk_stamp=stamp,
                         story=need("story", (dict, type(None)), None))


class RecoveryStore:
    """Recovery copies of open documents: one JSON file per document in paths.recovery_dir."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _file(self, doc_id: str) -> Path:
        return self.folder / f"{doc_id}.json"

    @property
    def broken_folder(self) -> Path:
        return self.folder / "broken"

    def write(self, entry: RecoveryEntry) -> None:
        entry.pid = os.getpid()
        entry.saved_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write_text(self._file(entry.doc_id), json.dumps(entry.to_dict(), ensure_ascii=False))

    def remove(self, doc_id: str) -> None:
        self._file(doc_id).unlink(missing_ok=True)

    def scan(self) -> tuple[list[RecoveryEntry], list[BrokenRecoveryFile]]:
        """Every copy in the folder: the valid entries, and the files that cannot be used (with why)."""
        if not self.folder.is_dir():
            return [], []
        entries: list[RecoveryEntry] = []
        broken: list[BrokenRecoveryFile] = []
        for file in sorted(self.folder.glob("*.json")):
            try:
                raw = json.loads(read_regular_file(file, MAX_DOCUMENT_MB * 4 * 1024 * 1024).decode("utf-8"))
                entries.append(parse_recovery_entry(raw, file.stem))
            except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
                broken.append(BrokenRecoveryFile(file, str(exc) or type(exc).__name__))
        return entries, broken

    def entries(self) -> list[RecoveryEntry]:
        return self.scan()[0]

    def orphaned(self, is_alive: Callable[[int], bool] = pid_alive) -> list[RecoveryEntry]:
        """Copies left by sessions that are no longer running (crashed or killed)."""
        return [entry for entry in self.entries() if not _alive(is_alive, entry.pid)]

    def set_aside_broken(self) -> list[BrokenRecoveryFile]:
        """Move unusable copies into broken/ (never deleted: they may still hold words); returns
        them with their new paths."""
        moved = []
        for item in self.scan()[1]:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            target = self.broken_folder / f"{item.path.stem}.{stamp}{item.path.suffix}"
            try:
                self.broken_folder.mkdir(parents=True, exist_ok=True)
                os.replace(item.path, target)
            except OSError:
                target = item.path  # cannot move it: it stays where it is, still never deleted
            moved.append(BrokenRecoveryFile(target, item.reason))
        return moved


def _alive(is_alive: Callable[[int], bool], pid: int) -> bool:
    try:
        return is_alive(pid)
    except (OSError, ValueError, OverflowError):
        return False  # cannot tell: offering the copy is safer than hiding it


# -- per-document Memory -------------------------------------------------------------------------

def memory_dir(paths: AppPaths) -> Path:
    return paths.data_dir / "memory"


class MemoryStore:
    """The Memory box of each document, kept in the data folder (never beside the document)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _file(self, document: str | os.PathLike[str]) -> Path:
        key = hashlib.sha1(str(Path(document).resolve()).encode("utf-8")).hexdigest()[:20]
        return self.folder / f"{key}.json"

    def load(self, document: str | os.PathLike[str]) -> str:
        file = self._file(document)
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        return str(raw.get("memory", "")) if isinstance(raw, dict) else ""

    def save(self, document: str | os.PathLike[str], memory: str) -> None:
        file = self._file(document)
        if not memory.strip():
            file.unlink(missing_ok=True)
            return
        atomic_write_text(file, json.dumps({"path": str(Path(document).resolve()), "memory": memory},
                                           ensure_ascii=False))
