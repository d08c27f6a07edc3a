"""Training run folders (paths.runs_dir/<name>) and what state each is in.

  running    a live training process holds its lock
  resumable  interrupted with a checkpoint: `train --resume` (or the dialog's Resume) continues it
  stale      nothing to resume (killed before its first checkpoint, no run.json, or its model was
             already saved) and nobody holds it: safe to delete, which `clean_stale_runs` does
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cw_desktop.core.model_registry import CHECKPOINT_FILE, RUN_FILE, is_model_folder
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.run_lock import RUN_LOCK_FILE, live_owner
# A folder younger than this may be a run that is starting (created, not yet locked): left alone.
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class RunFolder:
    run_dir: Path
    state: str  # "running" | "resumable" | "stale"
    reason: str  # one line for the writer
    size_bytes: int
    modified: float  # newest file time in the folder (seconds since the epoch)


def _folder_facts(run_dir: Path) -> tuple[int, float]:
    size, newest = 0, run_dir.stat().st_mtime
    for file in run_dir.rglob("*"):
        try:
            stat = file.stat()
        except OSError:
            continue
        size += stat.st_size if file.is_file() else 0
        newest = max(newest, stat.st_mtime)
    return size, newest


def run_state(run_dir: Path, now: float | None = None, stale_after_s: float = STALE_AFTER_S) -> RunFolder:
    size, modified = _folder_facts(run_dir)
    owner = live_owner(run_dir / RUN_LOCK_FILE)
    if owner is not None:
        return RunFolder(run_dir, "running", f"in use by process {owner.pid} on {owner.host}", size, modified)
    info: object = None
    try:
        info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    output = str(info.get("output") or "") if isinstance(info, dict) else ""
    if not isinstance(info, dict):
        reason = "no readable run.json"
    elif output and is_model_folder(Path(output)):
        reason = f"its model was already saved to {output}"
    elif not (run_dir / CHECKPOINT_FILE).is_file():
        reason = "stopped before its first checkpoint"
    else:
        return RunFolder(run_dir, "resumable", "interrupted; continue it with train --resume", size, modified)
    if (now or time.time()) - modified < stale_after_s:  # may be a run that is only starting
        return RunFolder(run_dir, "running", "active in the last minute", size, modified)
    return RunFolder(run_dir, "stale", reason, size, modified)


def list_run_folders(paths: AppPaths, stale_after_s: float = STALE_AFTER_S) -> list[RunFolder]:
    """Every folder in runs_dir, newest first."""
    if not paths.runs_dir.is_dir():
        return []
    now = time.time()
    runs = [run_state(d, now, stale_after_s) for d in paths.runs_dir.iterdir() if d.is_dir() and not d.is_symlink()]
    return sorted(runs, key=lambda run: run.modified, reverse=True)


def clean_stale_runs(paths: AppPaths, stale_after_s: float = STALE_AFTER_S) -> list[RunFolder]:
    """Delete the stale run folders (never a running or resumable one); returns what was deleted."""
    removed = []
    for run in list_run_folders(paths, stale_after_s):
        if run.state == "stale":
            shutil.rmtree(run.run_dir, ignore_errors=True)
            if not run.run_dir.exists():
                removed.append(run)
    return removed
