"""The whole fine-tuning flow with the REAL trainer process (`python -m cw_desktop train`) and a tiny
GPT-2: choose a folder, train, survive the trainer being killed, resume, stop, resume again, rate
the blind samples, use the model, and find it rated in the model manager.

One long test on purpose: each trainer start costs seconds (imports, tokenising, the baseline), so
the kill / cancel / resume checks share one run instead of each paying for their own.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cw_desktop.core.settings import Settings
from cw_desktop.dialogs import questions
from cw_desktop.dialogs.finetune import FineTuneDialog
from cw_desktop.dialogs.model_manager import COLUMNS, ModelManagerDialog

AUSTEN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "writers" / "austen"
RUN_TIMEOUT_MS = 180_000  # a 2-core machine shared with other test runs can be slow


@pytest.fixture
def writing(tmp_path: Path) -> Path:
    """The first ~6,500 words of Lady Susan (with its Project Gutenberg header): small but enough."""
    if not AUSTEN.is_dir():
        pytest.skip("shared corpus not available")
    folder = tmp_path / "writing"
    folder.mkdir()
    lines = (AUSTEN / "Lady Susan.txt").read_bytes().split(b"\r\n")
    (folder / "Lady Susan.txt").write_bytes(b"\r\n".join(lines[:800]))
    return folder


def test_choose_train_kill_resume_cancel_resume_rate_and_use(qtbot, app_paths, tiny_model_dir, writing,
                                                              monkeypatch):
    monkeypatch.setattr(questions, "choose_folder", lambda parent, start: str(writing))
    monkeypatch.setattr(questions, "confirm", lambda *a, **k: True)
    settings = Settings()
    settings.model.spec = str(tiny_model_dir)
    dialog = FineTuneDialog(app_paths, settings)  # the real trainer: python -m cw_desktop train ...
    qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())
    manuscript_before = (writing / "Lady Susan.txt").read_bytes()

    # Step 1: scan.
    with qtbot.waitSignal(dialog.scan_done, timeout=60_000):
        qtbot.mouseClick(dialog.folder_page.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=5_000)
    assert dialog.report["files_used"] == 1 and dialog.report["refusal"] is None

    # Step 2: a short run.
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    dialog.model_page.advanced_toggle.setChecked(True)
    dialog.model_page.steps_spin.setValue(6)
    dialog.model_page.name_edit.setText("Lady Susan (tiny)")
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    assert dialog.step == 2 and dialog.is_training_running()

    # The trainer is killed (out of memory, task manager...): a clear message, a resumable run.
    with qtbot.waitSignal(dialog.process.checkpoint, timeout=RUN_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(dialog.process.failed, timeout=30_000):
        os.kill(dialog.process.pid(), signal.SIGKILL)
    assert "killed or crashed" in dialog.training_page.message.text()
    assert not dialog.resume_button.isHidden()

    # Resume, then stop cleanly (SIGTERM): the trainer saves a checkpoint and says so.
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    assert "--resume" in dialog.process.args
    with qtbot.waitSignal(dialog.process.step, timeout=RUN_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(dialog.process.cancelled, timeout=RUN_TIMEOUT_MS) as stopped:
        qtbot.mouseClick(dialog.cancel_training_button, Qt.MouseButton.LeftButton)
    assert stopped.args[0]["checkpoint"]
    assert "checkpoint is kept" in dialog.training_page.message.text()
    qtbot.waitUntil(lambda: not dialog.is_training_running(), timeout=30_000)

    # Resume again, to the end.
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.step == 3, timeout=RUN_TIMEOUT_MS)
    chart = dialog.training_page.chart
    steps = [int(chart.train_series.at(i).x()) for i in range(chart.train_series.count())]
    assert steps == [1, 2, 3, 4, 5, 6]  # resumed runs continue the curve, no step twice
    assert chart.eval_series.at(0).x() == 0  # the base model's held-out loss starts the curve

    # Step 4: the results of the real run, rated blind.
    output = dialog.output
    report = json.loads((output / "report.json").read_text())
    assert report["name"] == "Lady Susan (tiny)" and report["steps"] == 6
    results = dialog.results
    assert f"{report['perplexity_before']:.2f}" in results.perplexity.text()
    assert f"{report['perplexity_after']:.2f}" in results.perplexity.text()
    assert len(results.pairs) == len(report["samples"]) >= 3
    for pair in results.pairs:
        assert "tuned" not in pair.titles["left"].text() + pair.titles["right"].text()
        pair.preference_buttons["left"].setChecked(True)
        for column in pair.scores.values():
            for selector in column.values():
                selector.group.button(3).setChecked(True)
    qtbot.mouseClick(results.reveal_button, Qt.MouseButton.LeftButton)
    ratings = json.loads((output / "ratings.json").read_text())
    tuned_left = sum(1 for p in ratings["pairs"] if p["tuned_column"] == "left")
    assert sum(1 for p in ratings["pairs"] if p["preference"] == "tuned") == tuned_left

    with qtbot.waitSignal(dialog.use_model_requested) as used:
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert used.args == [str(output)]
    assert not app_paths.runs_dir.exists() or not any(app_paths.runs_dir.iterdir())
    assert (writing / "Lady Susan.txt").read_bytes() == manuscript_before  # only ever read
    assert list(writing.iterdir()) == [writing / "Lady Susan.txt"]

    # The model manager lists it with its provenance and the ratings just given.
    settings.model.spec = used.args[0]
    manager = ModelManagerDialog(app_paths, settings)
    qtbot.addWidget(manager, before_close_func=lambda d: d.reject())
    row = next(r for r, info in enumerate(manager.models) if info.spec == str(output))
    rating = manager.table.item(row, COLUMNS.index("Your rating")).text()
    assert rating.startswith(f"tuned preferred {tuned_left}/{len(ratings['pairs'])}")
    assert manager.table.item(row, COLUMNS.index("Name")).text() == "● Lady Susan (tiny)"
    assert manager.table.item(row, COLUMNS.index("Trained on")).text() == "writing (1 file)"
