"""Import model folder…: a fine-tune trained on another machine is checked before it is copied in,
and every refusal names the folder and what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import model_folders

from cw_desktop.core.model_import import check_import_folder, import_model_folder
from cw_desktop.core.model_registry import RegistryError, list_models

REPORT = {"name": "austen-gpu", "base_model": "bundled", "perplexity_before": 53.2, "perplexity_after": 41.8,
          "hyperparameters": {"mode": "full", "batch_size": 8}, "processes": 2, "folder": "/data/austen"}


def trained_folder(parent: Path, name: str = "austen-gpu", report: dict | None = REPORT) -> Path:
    """What `cw-desktop train` leaves on the GPU machine (config, weights, tokenizer, report)."""
    return model_folders.trained_folder(parent, name, report)


def test_a_finished_fine_tune_is_copied_into_the_models_under_its_report_name(tmp_path, app_paths) -> None:
    folder = trained_folder(tmp_path / "copied-from-server")
    (folder / "train.log").write_text("... DONE: saved ...\n")
    check = check_import_folder(folder, app_paths)
    assert check.name == "austen-gpu" and check.report["processes"] == 2 and check.size_bytes > 4096
    imported = import_model_folder(folder, app_paths)
    assert imported == app_paths.models_dir / "austen-gpu"
    assert (imported / "model.safetensors").read_bytes() == b"\1" * 4096 and (imported / "train.log").is_file()
    assert folder.is_dir()  # the source is left as it was
    listed = [m for m in list_models(app_paths) if m.folder == imported]
    assert listed and listed[0].perplexity_after == 41.8 and listed[0].is_fine_tuned
    # Imported twice: a second model beside the first, never over it.
    assert import_model_folder(folder, app_paths) == app_paths.models_dir / "austen-gpu-2"


@pytest.mark.parametrize("damage, words", [
    ("no-report", "has no report.json"),
    ("bad-json", "report.json is unreadable"),
    ("unfinished-report", "lacks perplexity_after"),
    ("bad-perplexity", "invalid perplexity_after"),
    ("no-weights", "no model weights"),
    ("empty-weights", "is empty: the copy of this model is incomplete"),
    ("no-config", "no config.json"),
    ("no-tokenizer", "has no tokenizer"),
])
def test_a_folder_that_is_not_a_finished_fine_tune_is_refused_with_the_reason(tmp_path, app_paths, damage,
                                                                               words) -> None:
    folder = trained_folder(tmp_path, report=None if damage == "no-report" else REPORT)
    if damage == "bad-json":
        (folder / "report.json").write_text("{not json")
    elif damage == "unfinished-report":
        (folder / "report.json").write_text(json.dumps({k: v for k, v in REPORT.items() if k != "perplexity_after"}))
    elif damage == "bad-perplexity":
        (folder / "report.json").write_text(json.dumps({**REPORT, "perplexity_after": "n/a"}))
    elif damage == "no-weights":
        (folder / "model.safetensors").unlink()
    elif damage == "empty-weights":
        (folder / "model.safetensors").write_bytes(b"")
    elif damage == "no-config":
        (folder / "config.json").unlink()
    elif damage == "no-tokenizer":
        (folder / "tokenizer.json").unlink()
    with pytest.raises(RegistryError) as refused:
        import_model_folder(folder, app_paths)
    assert words in str(refused.value) and str(folder) in str(refused.value)
    assert not app_paths.models_dir.exists() or not any(app_paths.models_dir.iterdir())  # nothing copied


def test_the_run_folder_or_a_model_already_here_is_refused(tmp_path, app_paths) -> None:
    parent = tmp_path / "server-copy"
    trained_folder(parent)
    with pytest.raises(RegistryError, match="not a model folder"):  # the parent, not the model
        check_import_folder(parent, app_paths)
    with pytest.raises(RegistryError, match="is not a folder"):
        check_import_folder(tmp_path / "missing", app_paths)
    mine = trained_folder(app_paths.models_dir, "mine")
    with pytest.raises(RegistryError, match="already one of your models"):
        check_import_folder(mine, app_paths)
