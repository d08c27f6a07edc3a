"""Lock files that keep two trainings out of one run folder or one output folder.

A lock is a small JSON file (pid, host name, start time) created with O_EXCL, so of two processes
starting together exactly one gets it. A lock whose process is gone (killed, crashed, machine
rebooted) is stale and taken over; a lock of a live process is refused with a message naming that
process. Locks of another host (a shared network folder) are trusted: we cannot see its processes.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from cw_desktop.core.processes import pid_alive

RUN_LOCK_FILE = "run.lock"  # inside a run folder


class FolderInUseError(Exception):
    """Another live process holds the lock; the message names the folder and that process."""


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    started: str  # ISO time the lock was taken
    process_start: str = ""  # the kernel's start time of pid (Linux), to tell a reused pid apart

    def is_alive(self) -> bool:
        if self.pid <= 0:  # an unreadable lock file (0 and -1 would mean "process group" to kill())
            return False
        if self.host != socket.gethostname():
            return True
        if not pid_alive(self.pid):
            return False
        return not self.process_start or self.process_start == process_start_time(self.pid)


def process_start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot); "" where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def read_owner(lock_file: Path) -> LockOwner | None:
    """The recorded owner, or None when there is no lock file (an unreadable one counts as stale)."""
    try:
        data = json.loads(lock_file.read_text(encoding="utf-8"))
        return LockOwner(pid=int(data["pid"]), host=str(data["host"]), started=str(data.get("started", "")),
                         process_start=str(data.get("process_start", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return LockOwner(pid=-1, host=socket.gethostname(), started="")  # garbage: dead by definition


def live_owner(lock_file: Path) -> LockOwner | None:
    """Who holds `lock_file` right now, or None if nobody (no file, or a stale one)."""
    owner = read_owner(lock_file)
    return owner if owner is not None and owner.is_alive() else None


class FolderLock:
    """`with FolderLock(path, "the output folder X"):` or acquire()/release()."""

    def __init__(self, lock_file: Path, what: str) -> None:
        self.lock_file = Path(lock_file)
        self.what = what
        self.held = False

    def acquire(self) -> None:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        me = LockOwner(pid=os.getpid(), host=socket.gethostname(),
                       started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       process_start=process_start_time(os.getpid()))
        for _attempt in range(3):  # a stale lock removed by us, or by a competitor, then retry
            try:
                fd = os.open(self.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = read_owner(self.lock_file)
                if owner is not None and owner.pid == -1 and _age_s(self.lock_file) < 5:
                    raise FolderInUseError(f"{self.what} is being locked by another process; try again.") from None
                if owner is not None and owner.is_alive():
                    raise FolderInUseError(
                        f"{self.what} is in use by another training (process {owner.pid} on {owner.host}, "
                        f"since {owner.started or 'an unknown time'}). Wait for it to finish or stop it first.")
                self.lock_file.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(me.__dict__, handle)
            self.held = True
            return
        raise FolderInUseError(f"{self.what} is being locked by another process; try again.")

    def release(self) -> None:
        if self.held:
            owner = read_owner(self.lock_file)
            if owner is not None and owner.pid == os.getpid():
                self.lock_file.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _age_s(path: Path) -> float:
    try:
        return datetime.now().timestamp() - path.stat().st_mtime
    except OSError:
        return 0.0


def output_lock_file(output: Path) -> Path:
    """Beside the output folder (which must stay empty until the model is renamed into it)."""
    return output.parent / f".{output.name}.lock"
