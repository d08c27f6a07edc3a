"""Model manager ▸ Import model folder…: a fine-tune made on another machine (a GPU box, a server
reached over ssh) copied into this machine's models, after checking that it is one.

The check reads only file names and report.json, so it is instant and runs before any copying; each
refusal names the folder and says what is missing and what to choose instead. The copy itself is
core.model_registry.export_model into the models folder (hidden staging, renamed when complete).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cw_desktop.core.model_registry import (REPORT_FILE, RegistryError, _same_path, export_model, folder_size,
                                            read_report, unique_model_folder)
from cw_desktop.core.paths import AppPaths

# One of these holds the weights (save_pretrained's names; sharded checkpoints have an index).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json", "adapter_model.safetensors", "adapter_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# What the model manager shows and the editor relies on; a finished `cw-desktop train` writes all.
REPORT_KEYS = ("name", "base_model", "perplexity_before", "perplexity_after", "hyperparameters")
PERPLEXITY_KEYS = ("perplexity_before", "perplexity_after")


@dataclass
class ImportCheck:
    folder: Path
    name: str  # the models-folder name it will get (unique on this machine)
    report: dict[str, Any] = field(repr=False)
    size_bytes: int = 0


def check_import_folder(folder: Path, paths: AppPaths) -> ImportCheck:
    """The folder as a fine-tune to import, or RegistryError saying why it is not one."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RegistryError(f"{folder} is not a folder.")
    if _same_path(folder.parent, paths.models_dir):
        raise RegistryError(f"{folder.name} is already one of your models (it is in {paths.models_dir}).")
    weights = [name for name in WEIGHT_FILES if (folder / name).is_file()]
    is_model = (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()
    if not is_model or not weights:
        missing = "config.json" if not is_model else "model weights (" + ", ".join(WEIGHT_FILES[:3]) + ")"
        raise RegistryError(
            f"{folder} is not a model folder: it has no {missing}. Choose the folder `cw-desktop train` "
            "saved (it holds config.json, model.safetensors and report.json), not its parent or the run folder.")
    empty = [name for name in weights if (folder / name).stat().st_size == 0]
    if empty:
        raise RegistryError(f"{folder / empty[0]} is empty: the copy of this model is incomplete. Copy the "
                            "folder again (e.g. with rsync, which resumes) and import it then.")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise RegistryError(f"{folder} has no tokenizer (tokenizer.json): the copy is incomplete.")
    if not (folder / REPORT_FILE).is_file():
        raise RegistryError(
            f"{folder} has no {REPORT_FILE}: only finished fine-tunes of `cw-desktop train` can be imported "
            "(their report says what they were trained on and how much they improved). An unfinished run "
            "has no report: resume it on the machine it ran on.")
    report = read_report(folder)  # RegistryError naming the file when unreadable
    missing_keys = [key for key in REPORT_KEYS if key not in report]
    if missing_keys:
        raise RegistryError(f"{folder / REPORT_FILE} lacks {', '.join(missing_keys)}: it is not the report of a "
                            "finished `cw-desktop train` run.")
    for key in PERPLEXITY_KEYS:
        value = report[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise RegistryError(f"{folder / REPORT_FILE} has an invalid {key} ({value!r}).")
    name = unique_model_folder(paths, str(report.get("name") or folder.name)).name
    return ImportCheck(folder=folder, name=name, report=report, size_bytes=folder_size(folder))


def import_model_folder(folder: Path, paths: AppPaths, *, on_progress: Callable[[int, int], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> Path:
    """Check, then copy into the models folder under a unique name; returns the new model folder."""
    check = check_import_folder(folder, paths)
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    return export_model(check.folder, paths.models_dir, name=check.name, on_progress=on_progress,
                        should_stop=should_stop)
