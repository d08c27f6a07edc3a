"""Start-up speed, model loading states, switching models, and the creative-writing panel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gui_helpers import make_window


def open_model_menu(window) -> list:
    """The Model menu's entries as a click on it shows them (it lists the models afresh each time)."""
    menu = window.model_menu
    assert menu in [a.menu() for a in window.menuBar().actions()]
    menu.popup(window.mapToGlobal(window.rect().center()))
    entries = menu.actions()
    menu.hide()
    return entries


def test_window_appears_before_torch_is_imported(tmp_path: Path) -> None:
    probe = tmp_path / "probe.json"
    env = {**os.environ, "CW_DESKTOP_STARTUP_PROBE": str(probe), "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-m", "cw_desktop", "--data", str(tmp_path / "data"),
                    "--config", str(tmp_path / "config")], env=env, check=True, timeout=60)
    shown = json.loads(probe.read_text())
    assert shown["torch_imported"] is False and shown["transformers_imported"] is False
    assert shown["seconds"] < 2.0


def test_a_bad_model_shows_the_reason_and_a_way_out(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    with qtbot.waitSignal(window.model_failed, timeout=30_000) as failed:
        window.switch_model(str(not_a_model))
    assert "no config.json" in failed.args[1]
    assert window.model_status.state == "error" and window.model_status.choose_button.isVisibleTo(window)
    assert "notes" in window.model_status.label.toolTip()


def test_switching_models_keeps_the_window_working(qtbot, window, tiny_model_dir: Path, tmp_path: Path) -> None:
    assert window.model_status.state == "ready"
    assert window.settings.model.spec == str(tiny_model_dir)
    # A failed switch keeps the working model.
    with qtbot.waitSignal(window.model_failed, timeout=30_000) as failed:
        window.switch_model(str(tmp_path / "missing"))
    assert "still using" in failed.args[1] and window.generation.has_model
    with qtbot.waitSignal(window.model_ready, timeout=30_000):
        window.switch_model(str(tiny_model_dir))
    assert window.model_status.state == "ready"


def test_download_without_network_fails_clearly(qtbot, window) -> None:
    with qtbot.waitSignal(window.model_failed, timeout=60_000) as failed:
        window.models.download_model("distilgpt2")
    assert "distilgpt2" in failed.args[1] and "Could not download" in failed.args[1]
    assert window.prompts.asked[-1] == ("error", failed.args[1])  # told in a message box too
    assert window.generation.has_model and window.model_status.state == "ready"  # still suggesting


def test_model_menu_lists_fine_tuned_models_and_the_dialog_hooks(qtbot, window, app_paths, tiny_model_dir) -> None:
    import shutil

    tuned = app_paths.models_dir / "austen-tune"
    shutil.copytree(tiny_model_dir, tuned)
    (tuned / "report.json").write_text(json.dumps({"name": "Austen", "base_model": "bundled"}))
    labels = [a.text() for a in open_model_menu(window)]
    assert any(label.startswith("Austen") for label in labels)
    for entry in ("Fine-tune on a folder…", "Model manager…", "Suggestion history…", "Open model folder…"):
        assert entry in labels
    guard_answers = [False]
    window.register_close_guard(lambda: guard_answers[0])
    assert window.is_training_running()
    assert not window.close() and window.isVisible()
    guard_answers[0] = True
    window.prompts.unsaved_answer = "discard"
    assert window.close()


def test_creative_panel_streams_a_draft_into_a_new_tab(qtbot, window) -> None:
    before = len(window.document_tabs())
    window.creative_panel.title.setText("The Lighthouse")
    window.creative_panel.length.setValue(40)
    window.creative_panel.write_button.click()
    assert window.creative_panel.stop_button.isEnabled()
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.writing_request is None, timeout=30_000)
    assert len(window.document_tabs()) == before + 1
    assert tab.text().startswith("The Lighthouse\n\n") and len(tab.text()) > len("The Lighthouse\n\n")
    assert not tab.editor.isReadOnly() and tab.is_modified()
    assert window.creative_panel.write_button.isEnabled()


def test_a_written_piece_takes_the_memory_of_the_story_in_front(qtbot, window, tmp_path) -> None:
    novel = tmp_path / "novel"
    novel.mkdir()
    (novel / "01 Lamp.md").write_text("The lamp was lit.\n", encoding="utf-8")
    window.projects.open_project(novel)
    window.projects.open_chapter("01 Lamp.md")
    window.story.set_memory("Cornwall, 1890. Mara keeps the light.")  # the project's Memory
    window.creative_panel.title.setText("The Lighthouse")
    window.creative_panel.length.setValue(8)
    window.creative_panel.write_button.click()
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.writing_request is None, timeout=30_000)
    assert tab.memory == "Cornwall, 1890. Mara keeps the light."


def test_creative_draft_can_be_stopped(qtbot, window) -> None:
    window.creative_panel.length.setValue(2000)
    window.creative_panel.title.setText("A very long story")
    window.creative_panel.write_button.click()
    tab = window.current_tab()
    qtbot.waitUntil(lambda: len(tab.text()) > len("A very long story"), timeout=30_000)  # streaming
    window.creative_panel.stop_button.click()
    qtbot.waitUntil(lambda: tab.writing_request is None, timeout=10_000)
    assert len(tab.text()) < 2000 * 4  # stopped long before the 2,000 tokens
    assert not tab.editor.isReadOnly()
    assert tab.text().startswith("A very long story")
    assert "Stopped" in window.creative_panel.status.text()


def test_fine_tuning_dialogs_open_from_the_model_menu(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    actions = {a.text(): a for a in open_model_menu(window)}
    for label, class_name in (("Fine-tune on a folder…", "FineTuneDialog"), ("Model manager…", "ModelManagerDialog"),
                              ("Suggestion history…", "SuggestionHistoryDialog")):
        before = set(window.findChildren(object))
        actions[label].trigger()
        opened = [w for w in window.findChildren(object) if w not in before and type(w).__name__ == class_name]
        assert opened, f"{label} did not open {class_name}"
        opened[0].close()


def test_a_broken_dialog_module_is_reported_not_fatal(qtbot, qasync_loop, app_paths, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = make_window(qtbot, app_paths)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    def broken(paths, settings, parent):
        from cw_desktop.dialogs import not_there  # noqa: F401 - a dialog module that fails to import

    assert window.models.open_dialog("Nope…", broken) is None
    assert warnings and "Nope could not be opened" in warnings[0] and "not_there" in warnings[0]


def test_a_running_fine_tune_takes_cores_from_suggestions_until_it_ends(qtbot, window) -> None:
    from cw_desktop.ml.plan import editor_threads_while_training

    counts: list[int] = []
    window.generation.threads_changed.connect(counts.append)
    window.generation.set_training_running(False)  # nothing to restore: reports the count in use
    qtbot.waitUntil(lambda: len(counts) == 1, timeout=20_000)

    def guard() -> bool:
        return True

    window.register_close_guard(guard)  # what the fine-tune dialog does when its trainer starts
    qtbot.waitUntil(lambda: len(counts) == 2, timeout=20_000)
    assert counts[1] == editor_threads_while_training()
    window.unregister_close_guard(guard)  # the trainer exited
    qtbot.waitUntil(lambda: len(counts) == 3, timeout=20_000)
    assert counts[2] == counts[0]  # as many as before
