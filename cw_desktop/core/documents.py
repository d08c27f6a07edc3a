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
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.paths import AppPaths

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
# QPlainTextEdit stays responsive up to a few MB; a bigger file is almost surely not a draft.
MAX_DOCUMENT_MB = 20
RECENT_LIMIT = 10
SHORT_SAMPLE_BYTES = 2048


class DocumentError(Exception):
    """A document could not be read or written; the message names the file and the reason."""


@dataclass
class TextFile:
    text: str  # always with "\n" line endings, as the editor holds it
    encoding: str = "utf-8"
    newline: str = "\n"  # what the file on disk used, restored on save


# -- reading and saving --------------------------------------------------------------------------

def read_text_file(path: str | os.PathLike[str]) -> TextFile:
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise DocumentError(f"{file}: the file does not exist") from None
    except OSError as exc:
        raise DocumentError(f"{file}: cannot be opened ({exc.strerror or exc})") from None
    if file.is_dir():
        raise DocumentError(f"{file} is a folder, not a text file")
    if size > MAX_DOCUMENT_MB * 1024 * 1024:
        raise DocumentError(f"{file} is {size / 1024 / 1024:.0f} MB; documents over {MAX_DOCUMENT_MB} MB "
                            "are not supported (is it really a text file?)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    text, encoding = _decode(file, data)
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return TextFile(text=text, encoding=encoding, newline=newline)


def _decode(file: Path, data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{file} looks like a binary file (it contains NUL bytes), not plain text")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if len(data) < SHORT_SAMPLE_BYTES:
        # Too little text for statistics (charset-normalizer reads "Café" as Asian double-byte);
        # a short non-UTF-8 draft is by far most likely Windows-1252 / Latin-1.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DocumentError(f"{file}: the text encoding could not be recognised (not UTF-8, not a "
                            "common legacy encoding)")
    return str(best), best.encoding


def save_text_file(path: str | os.PathLike[str], text: str, encoding: str = "utf-8",
                   newline: str = "\n") -> str:
    """Write atomically; returns the encoding used.

    Characters the file's old encoding cannot hold (a curly quote in a Latin-1 file) switch the
    file to UTF-8 rather than failing the save or silently losing them.
    """
    payload = text.replace("\n", newline) if newline != "\n" else text
    try:
        payload.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        encoding = "utf-8"
    try:
        atomic_write_text(path, payload, encoding=encoding)
    except OSError as exc:
        raise DocumentError(f"{path}: could not be saved ({exc.strerror or exc}); the previous "
                            "version on disk is unchanged") from None
    return encoding


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

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running (the session owning a recovery copy)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
            return True
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process stays in the table as a zombie until its parent reaps it (seconds, or for
    good under a parent that never does); it still answers kill(pid, 0) but its session is over."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): trust kill()
    # Field 3, after the parenthesised command name (which may itself contain spaces or ')').
    return stat[stat.rfind(")") + 2:].startswith(("Z", "X"))


class RecoveryStore:
    """Recovery copies of open documents: one JSON file per document in paths.recovery_dir."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _file(self, doc_id: str) -> Path:
        return self.folder / f"{doc_id}.json"

    def write(self, entry: RecoveryEntry) -> None:
        entry.pid = os.getpid()
        entry.saved_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write_text(self._file(entry.doc_id), json.dumps(asdict(entry), ensure_ascii=False))

    def remove(self, doc_id: str) -> None:
        self._file(doc_id).unlink(missing_ok=True)

    def entries(self) -> list[RecoveryEntry]:
        if not self.folder.is_dir():
            return []
        entries = []
        for file in sorted(self.folder.glob("*.json")):
            try:
                raw = json.loads(file.read_text(encoding="utf-8"))
                entries.append(RecoveryEntry(**{k: raw[k] for k in ("doc_id", "title", "text", "path",
                                                                   "memory", "pid", "saved_at")}))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a half-written copy from a crash during autosave: the previous one is gone too
        return entries

    def orphaned(self, is_alive: Callable[[int], bool] = pid_alive) -> list[RecoveryEntry]:
        """Copies left by sessions that are no longer running (crashed or killed)."""
        return [entry for entry in self.entries() if not is_alive(entry.pid)]


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
