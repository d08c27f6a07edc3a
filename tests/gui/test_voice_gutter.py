"""View ▸ Sounds like you: a colour bar beside each paragraph, green where the text is what the
project's fine-tune expects, amber where it drifts; rescored after an edit, off the GUI thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QTextCursor

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.gui.editor import GhostTextEditor
from cw_desktop.gui.voice_gutter import GUTTER_WIDTH, VoiceGutter


def colour_beside(editor: GhostTextEditor, gutter: VoiceGutter, position: int):
    block = editor.document().findBlock(position)
    y = int(editor.blockBoundingGeometry(block).translated(editor.contentOffset()).center().y())
    return gutter.grab().toImage().pixelColor(GUTTER_WIDTH // 2, y)


def test_the_gutter_colours_each_paragraph_and_follows_edits(qtbot) -> None:
    editor = GhostTextEditor()
    qtbot.addWidget(editor)
    editor.resize(500, 400)
    editor.setPlainText("Close to the voice.\n\nMiddling.\n\nFar from it.")
    editor.show()
    gutter = VoiceGutter(editor)
    gutter.set_scores([(0, 19, 0.9), (21, 30, 0.3), (32, 44, -0.5)])
    first, last = colour_beside(editor, gutter, 0), colour_beside(editor, gutter, 40)
    assert first.green() > first.red()  # closer to your voice
    assert last.red() > last.green()  # drifts
    cursor = editor.textCursor()
    cursor.setPosition(21)
    cursor.insertText("Quite ")  # edits the middle paragraph: its bar waits for a new score
    assert [s for _a, _b, s in gutter.spans] == [0.9, -0.5]
    assert gutter.spans[1][:2] == (38, 50)  # the last paragraph's bar moved with its text
    background = colour_beside(editor, gutter, 20)  # the blank line between paragraphs has no bar
    assert colour_beside(editor, gutter, 24) == background != colour_beside(editor, gutter, 0)


@pytest.fixture
def project_with_adapter(tiny_model_dir: Path, app_paths, tmp_path: Path) -> Path:
    from cw_desktop.core.adapters import AdapterChoices

    adapter = train_lora_adapter(tiny_model_dir, app_paths.models_dir / "my-voice", paragraphs("A", 60, seed=1))
    project = tmp_path / "novel"
    project.mkdir()
    AdapterChoices(app_paths.data_dir).set(project, adapter)
    a, b = paragraphs("A", 2, seed=101), paragraphs("B", 2, seed=202)
    (project / "chapter.txt").write_text("\n\n".join([a[0], b[0], a[1], b[1]]), encoding="utf-8")
    return project


def test_the_view_menu_shows_the_project_adapters_voice_and_rescores_an_edit(qtbot, window,
                                                                             project_with_adapter) -> None:
    tab = window.open_path(project_with_adapter / "chapter.txt")
    with qtbot.waitSignal(window.voice.scores_shown, timeout=60_000,
                          check_params_cb=lambda document, spans, done: done) as blocker:
        window.main_menu.voice_action.trigger()
    assert window.settings.editor.voice_gutter and window.voice.legend.isVisible()
    document, spans, _done = blocker.args
    assert document == tab.doc_id and len(spans) == 4
    scores = [s for _a, _b, s in spans]
    assert min(scores[0], scores[2]) > max(scores[1], scores[3])
    qtbot.waitUntil(lambda: len(window.voice.gutter_for(tab.editor).spans) == 4)

    cursor = tab.editor.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    with qtbot.waitSignal(window.voice.scores_shown, timeout=60_000,
                          check_params_cb=lambda document, spans, done: done) as blocker:
        qtbot.keyClicks(tab.editor, " The auditor filed it.")
    after = [s for _a, _b, s in blocker.args[1]]
    assert after[:3] == scores[:3] and after[3] != scores[3]  # only the edited paragraph was scored again

    window.main_menu.voice_action.trigger()
    assert not window.settings.editor.voice_gutter and not window.voice.gutter_for(tab.editor).isVisible()


def test_with_a_base_model_and_no_project_adapter_the_view_says_what_it_needs(qtbot, window, tmp_path) -> None:
    document = tmp_path / "loose.txt"
    document.write_text("A paragraph.\n\nAnother one.", encoding="utf-8")
    window.open_path(document)
    with qtbot.waitSignal(window.voice.notice, timeout=5000) as blocker:
        window.main_menu.voice_action.trigger()
    assert "compares a fine-tuned model with its base" in blocker.args[0]
    window.main_menu.voice_action.trigger()
