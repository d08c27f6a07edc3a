"""Model manager ▸ Import model folder…: a fine-tune copied back from a GPU machine is checked, then
copied into the models in the background and selected; a wrong folder is refused with the reason."""

from __future__ import annotations

from pathlib import Path

import model_folders

from cw_desktop.core.settings import Settings
from cw_desktop.dialogs import model_manager
from cw_desktop.dialogs.model_manager import ModelManagerDialog

REPORT = {"name": "austen-gpu", "base_model": "bundled", "perplexity_before": 53.2, "perplexity_after": 41.8,
          "hyperparameters": {"mode": "full"}, "folder": "/data/austen", "files_used": ["a.txt"]}


def copied_back(parent: Path, report: dict | None = REPORT) -> Path:
    return model_folders.trained_folder(parent, "austen-gpu-20261201", report)


def open_manager(qtbot, app_paths, monkeypatch, chosen: Path) -> tuple[ModelManagerDialog, list[str]]:
    refusals: list[str] = []
    monkeypatch.setattr(model_manager, "choose_import_folder", lambda parent: str(chosen))
    monkeypatch.setattr(model_manager, "show_refusal", lambda parent, title, text: refusals.append(text))
    dialog = ModelManagerDialog(app_paths, Settings())
    qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())
    return dialog, refusals


def test_importing_a_finished_fine_tune_copies_it_in_and_selects_it(qtbot, app_paths, tmp_path, monkeypatch) -> None:
    source = copied_back(tmp_path / "from-gpu-box")
    dialog, refusals = open_manager(qtbot, app_paths, monkeypatch, source)
    assert dialog.import_button.isEnabled() and dialog.import_button.text() == "Import model folder…"
    with qtbot.waitSignal(dialog.export_done, timeout=30_000) as imported:
        dialog.import_folder()
    assert imported.args == [True] and refusals == []
    destination = app_paths.models_dir / "austen-gpu"
    assert (destination / "model.safetensors").is_file() and "Imported into" in dialog.status.text()
    selected = dialog.selected()
    assert selected is not None and selected.folder == destination and selected.perplexity_after == 41.8
    assert source.is_dir()


def test_a_folder_without_a_report_is_refused_and_nothing_is_copied(qtbot, app_paths, tmp_path, monkeypatch) -> None:
    source = copied_back(tmp_path / "from-gpu-box", report=None)
    dialog, refusals = open_manager(qtbot, app_paths, monkeypatch, source)
    dialog.import_folder()
    assert len(refusals) == 1 and "has no report.json" in refusals[0] and str(source) in refusals[0]
    assert dialog.status.text().startswith("Not imported:")
    assert not app_paths.models_dir.exists() or not any(app_paths.models_dir.iterdir())
    assert dialog.import_button.isEnabled()  # nothing in flight: the writer can choose another folder
