"""Is a process still running? Used for recovery copies (is their session over?) and for run locks
(is the training that holds this folder still alive?). Plain Python."""

from __future__ import annotations

import os
from pathlib import Path


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
