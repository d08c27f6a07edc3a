"""The model manager: table contents, use / rename / delete / show folder / export / rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cw_desktop.core.ratings import new_ratings, save_ratings
from cw_desktop.core.settings import Settings
from cw_desktop.core.suggestion_log import SuggestionLog, make_event
from cw_desktop.dialogs import model_manager, questions
from cw_desktop.dialogs.finetune import ResultsView
from cw_desktop.dialogs.model_manager import COLUMNS, ModelManagerDialog

REPORT = {"name": "Poe voice", "base_model": "bundled", "created": "2026-11-20T10:00:00+00:00",
          "folder": "/home/w/poe", "files_used": ["a.txt", "b.txt"], "train_tokens": 12345, "duration_s": 640.0,
          "perplexity_before": 30.0, "perplexity_after": 21.5, "mode": "lora",
          "samples": [{"form": "poem", "prompt": "At dusk", "before": "base words", "after": "tuned words"}]}


def make_model(paths, name: str, report: dict, weights: int = 2048) -> Path:
    folder = paths.models_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\1" * weights)
    (folder / "report.json").write_text(json.dumps(report))
    return folder


@pytest.fixture
def answers(monkeypatch):
    replies = {"confirm": True, "text": None, "export": "", "opened": []}
    monkeypatch.setattr(questions, "confirm", lambda *a, **k: replies["confirm"])
    monkeypatch.setattr(model_manager, "ask_text", lambda *a: replies["text"])
    monkeypatch.setattr(model_manager, "choose_export_folder", lambda *a: replies["export"])
    monkeypatch.setattr(model_manager, "show_folder", lambda folder: replies["opened"].append(folder) or True)
    return replies


def cell(dialog: ModelManagerDialog, row: int, column: str) -> str:
    return dialog.table.item(row, COLUMNS.index(column)).text()


def row_of(dialog: ModelManagerDialog, spec: str) -> int:
    return next(r for r, info in enumerate(dialog.models) if info.spec == spec)


def open_manager(qtbot, app_paths, spec: str = "bundled") -> ModelManagerDialog:
    settings = Settings()
    settings.model.spec = spec
    dialog = ModelManagerDialog(app_paths, settings)
    qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())
    return dialog


def test_table_shows_provenance_ratings_acceptance_and_the_active_model(qtbot, app_paths, answers):
    folder = make_model(app_paths, "poe-voice", REPORT)
    ratings = new_ratings(REPORT["samples"], seed=1)
    full = {"creativity": 4, "coherence": 3, "originality": 5}
    ratings.rate(0, preferred_column=ratings.pairs[0].column_of("tuned"),
                 scores_by_column={"left": full, "right": full})
    save_ratings(folder, ratings)
    log = SuggestionLog(app_paths.suggestion_log)
    for outcome in ("accepted", "accepted", "rejected"):
        log.append(make_event(model=str(folder), outcome=outcome, suggestion="s"))
    dialog = open_manager(qtbot, app_paths, spec=str(folder))
    row = row_of(dialog, str(folder))
    assert cell(dialog, row, "Name") == "● Poe voice"  # the active model is marked
    assert cell(dialog, row, "Trained on") == "poe (2 files)"
    assert cell(dialog, row, "Tokens") == "12,345"
    assert cell(dialog, row, "Duration") == "10 min 40 s"
    assert cell(dialog, row, "Perplexity") == "30.0 → 21.5 (-28%)"
    assert cell(dialog, row, "Your rating").startswith("tuned preferred 1/1")
    assert cell(dialog, row, "Suggestions accepted") == "67% of 3"
    assert cell(dialog, row, "Size").endswith("KB")
    assert "Poe voice" in dialog.active_label.text()
    bundled = row_of(dialog, "bundled")
    dialog.table.selectRow(bundled)
    assert not dialog.rename_button.isEnabled() and not dialog.delete_button.isEnabled()


def test_use_rename_delete_and_show_folder(qtbot, app_paths, answers):
    folder = make_model(app_paths, "poe-voice", REPORT)
    dialog = open_manager(qtbot, app_paths)
    dialog.table.selectRow(row_of(dialog, str(folder)))
    with qtbot.waitSignal(dialog.use_model_requested) as used:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert used.args == [str(folder)]
    assert cell(dialog, row_of(dialog, str(folder)), "Name").startswith("● ")

    answers["text"] = "Poe, darker"
    qtbot.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    assert json.loads((folder / "report.json").read_text())["name"] == "Poe, darker"
    assert cell(dialog, row_of(dialog, str(folder)), "Name") == "● Poe, darker"

    qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
    assert answers["opened"] == [folder]

    # The model in use is not deleted; another one is, after confirmation.
    other = make_model(app_paths, "other", dict(REPORT, name="Other", created="2026-01-01"))
    dialog.refresh()
    dialog.table.selectRow(row_of(dialog, str(other)))
    answers["confirm"] = False
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert other.exists()
    answers["confirm"] = True
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert not other.exists()
    assert all(info.spec != str(other) for info in dialog.models)


def test_export_copies_in_the_background(qtbot, app_paths, tmp_path, answers):
    folder = make_model(app_paths, "poe-voice", REPORT, weights=9 * 1024 * 1024)
    target = tmp_path / "usb"
    target.mkdir()
    dialog = open_manager(qtbot, app_paths)
    dialog.table.selectRow(row_of(dialog, str(folder)))
    answers["export"] = str(target)
    with qtbot.waitSignal(dialog.export_done, timeout=30_000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert not dialog.export_button.isEnabled()  # one export at a time
    assert exported.args == [True] and dialog.export_button.isEnabled()
    assert (target / "poe-voice" / "model.safetensors").stat().st_size == 9 * 1024 * 1024
    assert "Exported to" in dialog.status.text()
    # A second export to the same place fails with a message instead of overwriting.
    with qtbot.waitSignal(dialog.export_done, timeout=30_000) as exported:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert exported.args == [False] and "already exists" in dialog.status.text()


def test_rating_a_model_later_from_the_manager(qtbot, app_paths, answers):
    folder = make_model(app_paths, "poe-voice", REPORT)
    dialog = open_manager(qtbot, app_paths)
    dialog.table.selectRow(row_of(dialog, str(folder)))
    assert cell(dialog, row_of(dialog, str(folder)), "Your rating") == "not rated"
    qtbot.mouseClick(dialog.rate_button, Qt.MouseButton.LeftButton)
    view = dialog.rating_dialog.findChild(ResultsView)
    [pair] = view.pairs
    pair.preference_buttons["same"].setChecked(True)
    for column in pair.scores.values():
        for selector in column.values():
            selector.group.button(2).setChecked(True)
    qtbot.mouseClick(view.reveal_button, Qt.MouseButton.LeftButton)
    assert (folder / "ratings.json").is_file()
    assert cell(dialog, row_of(dialog, str(folder)), "Your rating").startswith("tuned preferred 0/1")
    dialog.rating_dialog.close()


def test_the_model_manager_shows_the_same_figure(qtbot, app_paths, answers):
    folder = make_model(app_paths, "poe-voice", dict(REPORT, keystrokes_saved={"base": 0.05, "tuned": 0.2}))
    dialog = open_manager(qtbot, app_paths)
    dialog.table.selectRow(row_of(dialog, str(folder)))
    qtbot.mouseClick(dialog.rate_button, Qt.MouseButton.LeftButton)
    view = dialog.rating_dialog.findChild(ResultsView)
    assert "Saves ~20% of your typing on held-out chapters (base model: 5%)" in view.keystrokes.text()
    dialog.rating_dialog.close()
