"""The fine-tune dialog's two options from issue 14: learn from the suggestions accepted and rejected
(with the pair count), and continue a fine-tune of this folder on what changed, with a time budget.
Driven against the fake trainer; what reaches the trainer's command line is checked."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cw_desktop.core.preference_pairs import MIN_PAIRS
from cw_desktop.core.settings import Settings
from cw_desktop.core.suggestion_log import SuggestionLog, make_event
from cw_desktop.core.training_manifest import build_manifest, write_manifest
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.finetune import FineTuneDialog

FAKE_TRAINER = Path(__file__).resolve().parents[1] / "workers" / "fake_trainer.py"
AUSTEN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "writers" / "austen"


@pytest.fixture
def writing(tmp_path: Path) -> Path:
    if not AUSTEN.is_dir():
        pytest.skip("shared corpus not available")
    folder = tmp_path / "writing"
    folder.mkdir()
    shutil.copy(AUSTEN / "Lady Susan.txt", folder / "Lady Susan.txt")
    shutil.copy(AUSTEN / "Lady Susan.txt", folder / "Notes.txt")
    (folder / "Notes.txt").write_text("Notes on the letters.\n\n" * 50 + "An aside about Frederica.")
    return folder


def make_dialog(qtbot, app_paths, spec: str) -> FineTuneDialog:
    settings = Settings()
    settings.model.spec = spec
    dialog = FineTuneDialog(app_paths, settings, None, trainer_command=[sys.executable, str(FAKE_TRAINER)])
    qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())
    return dialog


def scan(qtbot, dialog: FineTuneDialog, folder: Path, monkeypatch) -> dict:
    monkeypatch.setattr(questions, "choose_folder", lambda parent, start: str(folder))
    with qtbot.waitSignal(dialog.scan_done, timeout=60_000):
        qtbot.mouseClick(dialog.folder_page.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10_000)
    return dialog.report


def log_pairs(app_paths, places: int) -> None:
    log = SuggestionLog(app_paths.suggestion_log)
    for index in range(places):
        context = f"Letter {index}. My dear Alicia,"
        log.append(make_event(model="bundled", outcome="accepted", suggestion=" I write in haste",
                              accepted_text=" I write in haste", context=context))
        log.append(make_event(model="bundled", outcome="rejected", suggestion=" the weather is fine", context=context))


def test_the_preferences_option_shows_the_pair_count_and_reaches_the_trainer(qtbot, app_paths, tiny_model_dir,
                                                                              writing, monkeypatch) -> None:
    log_pairs(app_paths, MIN_PAIRS - 1)
    dialog = make_dialog(qtbot, app_paths, str(tiny_model_dir))
    check = dialog.model_page.preferences_check
    assert f"({MIN_PAIRS - 1} pairs)" in check.text() and not check.isEnabled()  # too few to learn from
    log_pairs(app_paths, 12)  # the same places again, then three more
    dialog = make_dialog(qtbot, app_paths, str(tiny_model_dir))
    check = dialog.model_page.preferences_check
    assert check.text() == "Also learn from the suggestions you accepted and rejected (12 pairs)" and check.isEnabled()
    scan(qtbot, dialog, writing, monkeypatch)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert not dialog.model_page.continue_box.isVisibleTo(dialog)  # the base is not a fine-tune of this folder
    check.setChecked(True)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=30_000)
    assert "--preferences" in dialog.process.args and "--continue" not in dialog.process.args


def test_a_fine_tune_of_this_folder_can_be_continued_on_what_changed(qtbot, app_paths, tiny_model_dir, writing,
                                                                     monkeypatch) -> None:
    tuned = app_paths.models_dir / "writing-tuned"
    shutil.copytree(tiny_model_dir, tuned)
    (tuned / "report.json").write_text(json.dumps({"name": "writing-tuned", "folder": str(writing),
                                                   "created": "2026-11-20T21:00:00+00:00", "mode": "top",
                                                   "held_out_chapters": ["Lady Susan.txt#3"]}))
    manifest = build_manifest(writing, ["Lady Susan.txt", "Notes.txt"], ["Lady Susan.txt#3"], seed=1234,
                              eval_share=0.1)
    write_manifest(tuned, manifest)
    (writing / "Notes.txt").write_text((writing / "Notes.txt").read_text() + "\n\nA new note tonight.")
    dialog = make_dialog(qtbot, app_paths, str(tuned))  # the editor's model: chosen as the base
    scan(qtbot, dialog, writing, monkeypatch)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    page = dialog.model_page
    assert page.continue_box.isVisibleTo(dialog)
    # Since the manifest was written (the report's date is for fine-tunes without one).
    since = manifest["created"][:10]
    assert page.continue_check.text() == f"Continue writing-tuned on what changed (1 file changed since {since})"
    assert page.continue_check.isEnabled() and page.minutes_spin.value() == 30
    page.continue_check.setChecked(True)
    page.minutes_spin.setValue(45)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=30_000)
    args = dialog.process.args
    assert args[args.index("--continue") + 1] == str(tuned) and args[args.index("--minutes") + 1] == "45"
    assert "--base" not in args and "--max-steps" not in args


def test_nothing_changed_offers_no_continuation(qtbot, app_paths, tiny_model_dir, writing, monkeypatch) -> None:
    tuned = app_paths.models_dir / "writing-tuned"
    shutil.copytree(tiny_model_dir, tuned)
    (tuned / "report.json").write_text(json.dumps({"name": "writing-tuned", "folder": str(writing),
                                                   "created": "2026-11-20T21:00:00+00:00"}))
    write_manifest(tuned, build_manifest(writing, ["Lady Susan.txt", "Notes.txt"], ["Lady Susan.txt#3"],
                                         seed=1234, eval_share=0.1))
    dialog = make_dialog(qtbot, app_paths, str(tuned))
    scan(qtbot, dialog, writing, monkeypatch)
    page = dialog.model_page
    assert "(0 files changed since " in page.continue_check.text()
    assert not page.continue_check.isEnabled() and page.continuing is None
