"""What a fine-tune was trained on, so "train tonight on what changed" knows what changed.

training_manifest.json in a model folder records the source folder's files as they were when the
model was made (relative path, size, sha256, whether part of it was held out) and the held-out
chapters. A continued fine-tune trains only on files whose fingerprint differs (or that are new),
and measures on the very same held-out chapters, so perplexities of successive runs compare.
Fine-tunes made before the manifest existed fall back to modification times after the model's
creation date and to report.json's held-out chapter list. Plain Python (the fine-tune dialog reads
it to offer the continuation).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.model_registry import REPORT_FILE

MANIFEST_FILE = "training_manifest.json"
MANIFEST_VERSION = 1


def file_fingerprint(path: Path) -> dict[str, Any]:
    """{"size", "sha256"} of a file, read in chunks (read-only: the writer's folder)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def chapter_file(key: str) -> str:
    """The file a held-out chapter key ("<path>#<chapter>[.<piece>]") belongs to."""
    return key.rsplit("#", 1)[0]


def build_manifest(folder: Path, used_files: Iterable[str], held_out_chapters: Iterable[str], *,
                   seed: int, eval_share: float, continued_from: str | None = None) -> dict[str, Any]:
    held = sorted(held_out_chapters)
    held_files = {chapter_file(key) for key in held}
    files = []
    for relative in sorted(used_files):
        try:
            fingerprint = file_fingerprint(folder / relative)
        except OSError:  # gone or renamed since it was read: it will count as changed next time
            fingerprint = {"size": None, "sha256": None}
        files.append({"path": relative, **fingerprint, "held_out": relative in held_files})
    manifest: dict[str, Any] = {"version": MANIFEST_VERSION, "folder": str(folder),
                                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "seed": seed, "eval_share": eval_share, "held_out_chapters": held, "files": files}
    if continued_from:
        manifest["continued_from"] = continued_from
    return manifest


def write_manifest(model_folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(model_folder / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_manifest(model_folder: Path) -> dict[str, Any] | None:
    data = _read_json(Path(model_folder) / MANIFEST_FILE)
    return data if data.get("files") is not None else None


def learned_files(model_folder: Any) -> set[str]:
    """sha256 of the files a fine-tune trained on (its manifest; empty for any other model)."""
    if not model_folder:
        return set()
    manifest = read_manifest(Path(model_folder)) or {}
    return {str(entry["sha256"]) for entry in manifest.get("files") or ()
            if isinstance(entry, dict) and entry.get("sha256")}


@dataclass
class Changes:
    """What changed in a folder since a fine-tune of it was made."""

    changed: list[str]  # new or edited files (relative paths), training-side candidates
    since: str  # when the fine-tune was made (ISO)
    method: str  # "fingerprints" (the manifest) | "modification times" (an older fine-tune)
    held_out_chapters: list[str] = field(default_factory=list)  # kept fixed across runs
    removed: list[str] = field(default_factory=list)
    seed: int | None = None
    eval_share: float | None = None

    @property
    def note(self) -> str:
        if self.method == "fingerprints":
            return ""
        return (f"This fine-tune predates file fingerprints: files modified after it was made ({self.since}) "
                "count as changed.")


def _same_folder(a: str, b: Path) -> bool:
    try:
        return Path(a).expanduser().resolve() == b.expanduser().resolve()
    except (OSError, RuntimeError):
        return False


def is_fine_tune_of(model_folder: Path, data_folder: Path) -> bool:
    """Was this model fine-tuned on this very folder (its report or manifest says so)?"""
    model_folder = Path(model_folder)
    recorded = (read_manifest(model_folder) or {}).get("folder") or _read_json(model_folder / REPORT_FILE).get("folder")
    return bool(recorded) and _same_folder(str(recorded), Path(data_folder))


def _parse_time(stamp: str) -> float | None:
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def changes_since(model_folder: Path, data_folder: Path, used_files: Iterable[str]) -> Changes:
    """The used files of `data_folder` that are new or changed since `model_folder` was trained."""
    model_folder, data_folder = Path(model_folder), Path(data_folder)
    used = sorted(used_files)
    manifest = read_manifest(model_folder)
    report = _read_json(model_folder / REPORT_FILE)
    if manifest is not None:
        recorded = {entry["path"]: entry for entry in manifest["files"] if isinstance(entry, dict) and "path" in entry}
        changed = []
        for relative in used:
            entry = recorded.get(relative)
            if entry is None or not entry.get("sha256"):
                changed.append(relative)
                continue
            path = data_folder / relative
            try:
                # Size first: most edits change it, and it costs no read.
                if path.stat().st_size != entry.get("size") or file_fingerprint(path)["sha256"] != entry["sha256"]:
                    changed.append(relative)
            except OSError:
                changed.append(relative)
        return Changes(changed=changed, since=str(manifest.get("created") or ""), method="fingerprints",
                       held_out_chapters=list(manifest.get("held_out_chapters") or []),
                       removed=sorted(set(recorded) - set(used)), seed=manifest.get("seed"),
                       eval_share=manifest.get("eval_share"))
    since = str(report.get("created") or "")
    made = _parse_time(since)
    if made is None:  # no date either: the model folder's own age
        made = (model_folder / REPORT_FILE if (model_folder / REPORT_FILE).exists() else model_folder).stat().st_mtime
        since = datetime.fromtimestamp(made, timezone.utc).isoformat(timespec="seconds")
    changed = []
    for relative in used:
        try:
            if os.stat(data_folder / relative).st_mtime > made:
                changed.append(relative)
        except OSError:
            changed.append(relative)
    hp = report.get("hyperparameters") or {}
    return Changes(changed=changed, since=since, method="modification times",
                   held_out_chapters=list(report.get("held_out_chapters") or []),
                   seed=hp.get("seed"), eval_share=report.get("eval_share"))


@dataclass(frozen=True)
class ContinuationOffer:
    """The chosen base is a fine-tune of the scanned folder: what continuing it would train on."""

    model: str  # the fine-tune's folder
    name: str
    changed: int
    since: str  # date the fine-tune was made
    note: str  # how "changed" was decided, when not by fingerprints


def continuation_offer(base: str, report: dict[str, Any] | None) -> ContinuationOffer | None:
    """None unless `base` is a fine-tune folder of the folder the scan `report` describes. Hashes the
    folder's used files (the manuscripts: a few MB, but a huge folder takes seconds), so the scan
    worker calls it in its thread, never the dialog."""
    if not report or not base or base == "bundled" or not Path(base).is_dir():
        return None
    folder = Path(report["folder"])
    if not is_fine_tune_of(Path(base), folder):
        return None
    used = [f["path"] for f in report.get("files", []) if f.get("status") == "used"]
    try:
        changes = changes_since(Path(base), folder, used)
    except OSError:
        return None
    return ContinuationOffer(base, Path(base).name, len(changes.changed), changes.since[:10], changes.note)
