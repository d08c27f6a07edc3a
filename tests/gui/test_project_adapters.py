"""Per-project adapters in the editor: opening a document of a project puts its LoRA adapter beside
the loaded base (milliseconds once loaded), the strength slider scales it and is remembered for the
project, and a document elsewhere goes back to the model alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.core.adapters import AdapterChoices


@pytest.fixture
def two_projects(tiny_model_dir: Path, app_paths, tmp_path: Path) -> tuple[Path, Path, Path]:
    adapter = train_lora_adapter(tiny_model_dir, app_paths.models_dir / "novel-voice", paragraphs("A", 30, seed=1),
                                 steps=10)
    novel, notes = tmp_path / "novel", tmp_path / "notes"
    for folder in (novel, notes):
        folder.mkdir()
        (folder / "text.txt").write_text("The glimmerwyrm", encoding="utf-8")
    AdapterChoices(app_paths.data_dir).set(novel, adapter, 1.0)
    return novel, notes, adapter


def test_the_projects_adapter_follows_the_current_document(qtbot, window, two_projects) -> None:
    novel, notes, adapter = two_projects
    controller = window.adapters
    with qtbot.waitSignal(controller.notice, timeout=60_000) as blocker:
        window.open_path(novel / "text.txt")
    assert "Adapter novel-voice at strength 1.00" in blocker.args[0]
    assert controller.strength.isVisibleTo(window) and "novel-voice" in controller.strength.title.text()

    with qtbot.waitSignal(controller.notice, timeout=10_000) as blocker:
        controller.strength.slider.setValue(40)  # 0.40: sent once the slider rests
    assert "strength 0.40" in blocker.args[0]
    assert controller.last_account["switch_s"] < 0.1  # the base stays loaded: a switch is a lookup
    assert AdapterChoices(window.paths.data_dir).choice_for(novel / "text.txt").strength == 0.4

    window.open_path(notes / "text.txt")
    assert controller.sent[0] is None
    assert not controller.strength.isVisibleTo(window)
    qtbot.waitUntil(lambda: controller.last_account.get("adapter", "x") is None, timeout=10_000)

    with qtbot.waitSignal(controller.notice, timeout=10_000) as blocker:
        window.open_path(novel / "text.txt")  # already open: its tab becomes current again
    assert "strength 0.40" in blocker.args[0] and "switched in" in blocker.args[0]
