"""The fine-tuning dialog, driven like a writer would, against a fake trainer process (fast).

The fake (tests/workers/fake_trainer.py) speaks the real progress protocol from a real child
process, so pipes, signals, SIGTERM/SIGKILL and exit codes are exercised; the real trainer's
end-to-end run is in test_finetune_end_to_end.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from cw_desktop.core.settings import Settings
from cw_desktop.core.suggestion_log import SuggestionLog, make_event
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.finetune import FineTuneDialog

FAKE_TRAINER = Path(__file__).resolve().parents[1] / "workers" / "fake_trainer.py"
AUSTEN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "writers" / "austen"


@pytest.fixture
def writing(tmp_path: Path) -> Path:
    """A writer's folder: one short novel, a hidden file and a binary file."""
    if not AUSTEN.is_dir():
        pytest.skip("shared corpus not available")
    folder = tmp_path / "writing"
    folder.mkdir()
    shutil.copy(AUSTEN / "Lady Susan.txt", folder / "Lady Susan.txt")
    (folder / ".DS_Store").write_bytes(b"\0\1junk")
    (folder / "cover.txt").write_bytes(bytes(range(256)) * 20)
    return folder


@pytest.fixture(autouse=True)
def answers(monkeypatch):
    """Questions the dialog asks are answered from this dict instead of modal message boxes."""
    replies = {"confirm": True, "folder": ""}
    asked: list[str] = []

    def fake_confirm(parent, title, text, yes, no):
        asked.append(title)
        return replies["confirm"]

    monkeypatch.setattr(questions, "confirm", fake_confirm)
    monkeypatch.setattr(questions, "choose_folder", lambda parent, start: replies["folder"])
    replies["asked"] = asked
    yield replies
    for key in ("FAKE_STEP_SECONDS", "FAKE_IGNORE_TERM", "FAKE_ERROR_AT"):
        os.environ.pop(key, None)


def make_dialog(qtbot, app_paths, tiny_model_dir, parent: QWidget | None = None) -> FineTuneDialog:
    settings = Settings()
    settings.model.spec = str(tiny_model_dir)
    dialog = FineTuneDialog(app_paths, settings, parent, trainer_command=[sys.executable, str(FAKE_TRAINER)])
    if parent is None:
        qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())
    return dialog


def scan(qtbot, dialog: FineTuneDialog, folder: Path, answers) -> dict:
    answers["folder"] = str(folder)
    with qtbot.waitSignal(dialog.scan_done, timeout=60_000):
        qtbot.mouseClick(dialog.folder_page.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=10_000)
    return dialog.report


def start(qtbot, dialog: FineTuneDialog, steps: int) -> None:
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.step == 1
    dialog.model_page.advanced_toggle.setChecked(True)
    dialog.model_page.steps_spin.setValue(steps)
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.step == 2


def rate_everything(results) -> None:
    for index, pair in enumerate(results.pairs):
        pair.preference_buttons["left" if index % 2 else "right"].setChecked(True)
        for column in pair.scores.values():
            for criterion, selector in column.items():
                selector.group.button(4 if criterion == "coherence" else 3).setChecked(True)


def test_scan_report_shows_used_and_skipped_files_and_an_estimate(qtbot, app_paths, tiny_model_dir, writing,
                                                                  answers):
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    assert not dialog.next_button.isEnabled()  # nothing scanned yet
    report = scan(qtbot, dialog, writing, answers)
    assert report["files_used"] == 1 and report["files_skipped"] == 2
    assert report["train_tokens"] > 10_000 and report["estimated_seconds"] > 0
    summary = dialog.folder_page.summary.text()
    assert "1 file used" in summary and "estimated time" in summary
    reasons = {dialog.folder_page.files.item(r, 0).text(): dialog.folder_page.files.item(r, 2).text()
               for r in range(dialog.folder_page.files.rowCount())}
    assert reasons[".DS_Store"].startswith("hidden")
    assert reasons["cover.txt"].startswith("binary")
    assert "words" in reasons["Lady Susan.txt"]
    assert dialog.next_button.isEnabled()
    # Step 2: the Advanced defaults are the trainer's automatic plan; the estimate follows edits.
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.model_page.steps_spin.value() == report["hyperparameters"]["max_steps"]
    assert dialog.overrides() == {}
    before = dialog.model_page.estimate.text()
    dialog.model_page.steps_spin.setValue(report["hyperparameters"]["max_steps"] * 4)
    assert dialog.overrides() == {"max_steps": report["hyperparameters"]["max_steps"] * 4}
    assert dialog.model_page.estimate.text() != before


def test_too_little_text_is_refused_with_the_reason(qtbot, app_paths, tiny_model_dir, tmp_path, answers):
    folder = tmp_path / "short"
    folder.mkdir()
    (folder / "poem.txt").write_text("The sea is calm tonight.\nThe tide is full, the moon lies fair.\n" * 20)
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    report = scan(qtbot, dialog, folder, answers)
    assert "Not enough text" in report["refusal"]
    assert dialog.folder_page.refusal.text() == report["refusal"]
    assert not dialog.next_button.isEnabled()


def test_full_flow_with_ratings_and_use_this_model(qtbot, app_paths, tiny_model_dir, writing, answers):
    SuggestionLog(app_paths.suggestion_log).append(make_event(
        model="bundled", outcome="accepted", suggestion=" the rain fell", accepted_text=" the rain fell",
        context="It was evening and", after_text=" on the roofs."))
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    scan(qtbot, dialog, writing, answers)
    assert dialog.model_page.accepted_check.isEnabled()
    dialog.model_page.accepted_check.setChecked(True)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=30_000)  # re-counted with the suggestion
    dialog.model_page.name_edit.setText("Lady Susan voice")
    with qtbot.waitSignal(dialog.training_page.chart.train_series.pointAdded, timeout=20_000):
        start(qtbot, dialog, steps=12)
    assert "--include-accepted" in dialog.process.args
    assert dialog.process.args[dialog.process.args.index("--max-steps") + 1] == "12"
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=30_000)

    page = dialog.training_page
    assert page.chart.train_series.count() == 12
    assert page.chart.eval_series.count() == 3  # the baseline at step 0, then steps 5 and 10
    assert "left" in page.numbers.text()
    output = dialog.output
    assert output is not None and output.parent == app_paths.models_dir
    assert json.loads((output / "report.json").read_text())["name"] == "Lady Susan voice"

    results = dialog.results
    assert "80.00" in results.perplexity.text() and "42.50" in results.perplexity.text()
    # Blind: the column titles do not say which model wrote what until the writer has rated.
    assert all("tuned" not in pair.titles["left"].text() for pair in results.pairs)
    assert not results.reveal_button.isEnabled()
    rate_everything(results)
    assert results.reveal_button.isEnabled()
    with qtbot.waitSignal(results.ratings_saved):
        qtbot.mouseClick(results.reveal_button, Qt.MouseButton.LeftButton)
    assert any("tuned model" in pair.titles["left"].text() for pair in results.pairs) or \
        any("tuned model" in pair.titles["right"].text() for pair in results.pairs)
    saved = json.loads((output / "ratings.json").read_text())
    assert len(saved["pairs"]) == 3
    for index, pair in enumerate(saved["pairs"]):
        chosen_column = "left" if index % 2 else "right"
        expected = "tuned" if pair["tuned_column"] == chosen_column else "base"
        assert pair["preference"] == expected
        assert pair["scores"]["tuned"] == {"creativity": 3, "coherence": 4, "originality": 3}
    assert "You preferred the tuned model in" in results.summary.text()

    with qtbot.waitSignal(dialog.use_model_requested) as used:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert used.args == [str(output)]


def test_cancel_keeps_the_checkpoint_and_resume_finishes(qtbot, app_paths, tiny_model_dir, writing, answers):
    os.environ["FAKE_STEP_SECONDS"] = "0.03"
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    scan(qtbot, dialog, writing, answers)
    start(qtbot, dialog, steps=300)
    first_args = dialog.process.args
    qtbot.waitUntil(lambda: dialog.training_page.chart.train_series.count() >= 7, timeout=20_000)
    assert not dialog.cancel_training_button.isHidden() and dialog.resume_button.isHidden()
    with qtbot.waitSignal(dialog.process.cancelled, timeout=20_000):
        qtbot.mouseClick(dialog.cancel_training_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_training_running(), timeout=10_000)
    assert "checkpoint is kept" in dialog.training_page.message.text()
    assert dialog.resumable_run is not None
    stopped_at = dialog.training_page.chart.train_series.count()

    # A new dialog (the writer came back later) offers the interrupted run on step 1.
    later = make_dialog(qtbot, app_paths, tiny_model_dir)
    assert not later.folder_page.resume_box.isHidden()
    assert later.folder_page.resume_combo.count() == 1
    later.reject()

    os.environ["FAKE_STEP_SECONDS"] = "0.001"
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    assert "--resume" in dialog.process.args
    # The held-out share must be repeated, or the trainer would see different data and refuse.
    share = first_args[first_args.index("--eval-share") + 1]
    assert share == "0.1" and dialog.process.args[dialog.process.args.index("--eval-share") + 1] == share
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=30_000)
    # The chart continued from the checkpoint instead of starting over.
    assert dialog.training_page.chart.train_series.count() == 300
    assert dialog.training_page.chart.train_series.at(stopped_at - 1).x() == stopped_at
    assert not app_paths.runs_dir.exists() or not any(app_paths.runs_dir.iterdir())


def test_resume_clicked_while_the_stopped_trainer_still_exits_waits_for_it(qtbot, app_paths, tiny_model_dir,
                                                                          writing, answers, monkeypatch):
    """A stopped trainer holds its run's lock until its process has exited: a quick "Resume training"
    used to find no resumable run and say the run's folder was gone."""
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.03")
    monkeypatch.setenv("FAKE_EXIT_SECONDS", "2")
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    scan(qtbot, dialog, writing, answers)
    start(qtbot, dialog, steps=300)
    qtbot.waitUntil(lambda: dialog.training_page.chart.train_series.count() >= 3, timeout=20_000)
    with qtbot.waitSignal(dialog.process.cancelled, timeout=20_000):
        qtbot.mouseClick(dialog.cancel_training_button, Qt.MouseButton.LeftButton)
    assert not dialog.is_training_running() and dialog.process.is_running()  # over, but still exiting
    assert not dialog.resume_button.isHidden()
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.001")
    monkeypatch.setenv("FAKE_EXIT_SECONDS", "0")
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=30_000)
    assert "--resume" in dialog.process.args and "gone" not in dialog.training_page.message.text()


def test_killed_trainer_shows_a_clear_message_and_the_dialog_keeps_working(qtbot, app_paths, tiny_model_dir,
                                                                         writing, answers):
    os.environ["FAKE_STEP_SECONDS"] = "0.05"
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir)
    scan(qtbot, dialog, writing, answers)
    start(qtbot, dialog, steps=300)
    qtbot.waitUntil(lambda: dialog.training_page.chart.train_series.count() >= 6, timeout=20_000)
    with qtbot.waitSignal(dialog.process.failed, timeout=20_000):
        os.kill(dialog.process.pid(), signal.SIGKILL)
    message = dialog.training_page.message.text()
    assert "killed or crashed" in message and "editor is unaffected" in message
    assert dialog.training_page.status.text() == "Training failed."
    assert dialog.resumable_run is not None  # a checkpoint was saved at step 5
    # Still usable: back to the settings and start again.
    qtbot.mouseClick(dialog.back_button, Qt.MouseButton.LeftButton)
    assert dialog.step == 1


def test_closing_the_editor_while_training_asks_first(qtbot, app_paths, tiny_model_dir, writing, answers):
    class Window(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.guards = []

        def register_close_guard(self, guard) -> None:
            self.guards.append(guard)

        def unregister_close_guard(self, guard) -> None:
            self.guards.remove(guard)

    window = Window()
    qtbot.addWidget(window)
    os.environ["FAKE_STEP_SECONDS"] = "0.05"
    dialog = make_dialog(qtbot, app_paths, tiny_model_dir, parent=window)
    scan(qtbot, dialog, writing, answers)
    start(qtbot, dialog, steps=300)
    assert len(window.guards) == 1
    guard = window.guards[0]
    qtbot.waitUntil(lambda: dialog.training_page.chart.train_series.count() >= 2, timeout=20_000)
    answers["confirm"] = False  # "Keep training"
    assert guard() is False
    assert dialog.is_training_running()
    answers["confirm"] = True  # "Stop training"
    assert guard() is True
    assert not dialog.is_training_running()
    assert answers["asked"] == ["Training is running", "Training is running"]
    qtbot.waitUntil(lambda: not window.guards, timeout=10_000)  # nothing left to guard once stopped
    dialog.reject()
