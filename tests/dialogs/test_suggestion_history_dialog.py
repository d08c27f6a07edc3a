"""The suggestion history: per-model acceptance, the log itself, filters and wiping."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from cw_desktop.core.suggestion_log import SuggestionLog, make_event
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.suggestion_history import SuggestionHistoryDialog


def fill_log(app_paths) -> None:
    folder = app_paths.models_dir / "poe-voice"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "report.json").write_text(json.dumps({"name": "Poe voice"}))
    log = SuggestionLog(app_paths.suggestion_log)
    for outcome in ("accepted", "partial", "rejected", "typed_over"):
        log.append(make_event(model=str(folder), outcome=outcome, suggestion=f"the {outcome} words",
                              accepted_text="the" if outcome == "partial" else "", context="Once upon a time"))
    log.append(make_event(model="bundled", outcome="rejected", suggestion="no thanks"))


def rates(dialog) -> dict[str, list[str]]:
    return {dialog.rates.item(r, 0).text(): [dialog.rates.item(r, c).text() for c in range(1, 6)]
            for r in range(dialog.rates.rowCount())}


def test_shows_acceptance_per_model_with_readable_names(qtbot, app_paths):
    fill_log(app_paths)
    dialog = SuggestionHistoryDialog(app_paths)
    qtbot.addWidget(dialog)
    table = rates(dialog)
    assert table["Poe voice"] == ["4", "1", "1", "2", "50%"]
    assert table["SmolLM2-135M (bundled)"][-1] == "0%"
    assert dialog.table.rowCount() == 5
    assert dialog.table.item(0, 3).text() == "no thanks"  # newest first
    partial = next(r for r in range(5) if dialog.table.item(r, 2).text() == "accepted in part")
    assert "[kept: the]" in dialog.table.item(partial, 3).text()


def test_filters_by_model_and_outcome(qtbot, app_paths):
    fill_log(app_paths)
    dialog = SuggestionHistoryDialog(app_paths)
    qtbot.addWidget(dialog)
    dialog.model_filter.setCurrentIndex(dialog.model_filter.findText("Poe voice"))
    assert dialog.table.rowCount() == 4
    dialog.outcome_filter.setCurrentIndex(dialog.outcome_filter.findData("rejected"))
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 3).text() == "the rejected words"


def test_wipe_asks_first_then_empties_the_log(qtbot, app_paths, monkeypatch):
    fill_log(app_paths)
    answer = {"value": False}
    monkeypatch.setattr(questions, "confirm", lambda *a, **k: answer["value"])
    dialog = SuggestionHistoryDialog(app_paths)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.wipe_button, Qt.MouseButton.LeftButton)
    assert len(SuggestionLog(app_paths.suggestion_log).read()) == 5
    answer["value"] = True
    qtbot.mouseClick(dialog.wipe_button, Qt.MouseButton.LeftButton)
    assert SuggestionLog(app_paths.suggestion_log).read() == []
    assert dialog.table.rowCount() == 0 and dialog.rates.rowCount() == 0
    assert not dialog.wipe_button.isEnabled()


def test_retries_and_swaps_are_told_apart_in_the_outcome_column(qtbot, app_paths):
    log = SuggestionLog(app_paths.suggestion_log)
    log.append(make_event(model="bundled", outcome="rejected", suggestion="first try"))
    log.append(make_event(model="bundled", outcome="rejected", suggestion="second try", attempt=2, via="retry"))
    swapped_out = make_event(model="bundled", outcome="rejected", suggestion="kept a moment",
                             accepted_text="kept a moment", attempt=3, via="retry")
    swapped_out["swapped_out"] = True
    log.append(swapped_out)
    log.append(make_event(model="bundled", outcome="accepted", suggestion="first try", accepted_text="first try",
                          via="swap"))
    dialog = SuggestionHistoryDialog(app_paths)
    qtbot.addWidget(dialog)
    labels = [dialog.table.item(row, 2).text() for row in range(dialog.table.rowCount())]
    assert labels == ["accepted · swapped in", "rejected · try 3 here, accepted, then swapped out",
                      "rejected · try 2 here", "rejected"]
