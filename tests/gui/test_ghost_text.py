"""Ghost-text suggestions in the real window, answered by the tiny GPT-2 in the worker thread."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer

from gui_helpers import TEST_OPTIONS


def wait_for_suggestion(qtbot, window, typed: str):
    """Type, pause, and wait until the worker's complete answer is showing."""
    editor = window.current_editor()
    with qtbot.waitSignal(window.controller.suggestion_complete, timeout=20_000,
                          check_params_cb=lambda request, s, t: request == editor.ghost_request):
        qtbot.keyClicks(editor, typed)
    qtbot.waitUntil(lambda: editor.ghost_text() != "", timeout=5_000)
    return editor


def log_events(window) -> list[dict]:
    window.controller.flush_log()
    return window.log.read()


def test_pause_shows_ghost_which_is_never_saved_and_tab_accepts_in_one_undo_step(qtbot, window, tmp_path: Path) -> None:
    typed = "The storm broke over the"
    editor = wait_for_suggestion(qtbot, window, typed)
    ghost = editor.ghost_text()
    # Drawn, but not in the document: text, word count and a save see only the writer's words.
    assert editor.toPlainText() == typed
    assert editor.textCursor().block().layout().preeditAreaText().replace("\u2028", "\n") == ghost
    qtbot.waitUntil(lambda: window.counts.text().startswith("5 words"))
    target = tmp_path / "draft.txt"
    assert window.documents.save_to(window.current_tab(), target)
    assert target.read_text(encoding="utf-8") == typed
    assert editor.ghost_text() == ghost  # saving does not disturb the suggestion

    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText() == typed + ghost
    assert editor.ghost_text() == ""
    editor.undo()
    assert editor.toPlainText() == typed  # the whole suggestion was one step
    accepted = [e for e in log_events(window) if e["outcome"] == "accepted"]
    assert accepted and accepted[0]["accepted_text"] == ghost and accepted[0]["context_tail"] == typed
    assert accepted[0]["model"] == window.controller.model_spec


def test_escape_dismisses_and_is_logged_as_rejected(qtbot, window) -> None:
    editor = wait_for_suggestion(qtbot, window, "Once upon a time")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.ghost_text() == "" and editor.toPlainText() == "Once upon a time"
    assert editor.textCursor().block().layout().preeditAreaText() == ""
    assert [e["outcome"] for e in log_events(window)] == ["rejected"]


def test_typing_the_suggested_characters_consumes_them(qtbot, window) -> None:
    editor = wait_for_suggestion(qtbot, window, "It was a dark and stormy night")
    ghost = editor.ghost_text()
    first = ghost[0]
    qtbot.keyClicks(editor, first)
    assert editor.toPlainText() == "It was a dark and stormy night" + first
    assert editor.ghost_text() == ghost[1:]
    # Ctrl+Right takes the next word of what is left.
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText().startswith("It was a dark and stormy night" + first)
    assert len(editor.toPlainText()) > len("It was a dark and stormy night" + first)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert log_events(window)[-1]["outcome"] in ("partial", "accepted")


def test_alternatives_cycle_with_keys_and_cards_insert(qtbot, window) -> None:
    window.controller.options = lambda: replace(TEST_OPTIONS, alternatives=3, temperature=1.5, seed=7)
    window.alternatives_dock.show()
    editor = wait_for_suggestion(qtbot, window, "Shall I compare thee")
    alternatives = editor.alternatives()
    assert len(alternatives) == 3
    assert len(window.alternatives_panel.card_texts()) == len([a for a in alternatives if a.strip()])
    first = editor.ghost_text()
    qtbot.keyClick(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)
    assert editor.alternative_index() == 1 and editor.ghost_text() == alternatives[1]
    qtbot.keyClick(editor, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.AltModifier)
    assert editor.ghost_text() == first
    third = next(card for card in window.alternatives_panel.cards if card.index == 2)
    qtbot.mouseClick(third, Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == "Shall I compare thee" + alternatives[2]


def test_typing_something_else_cancels_generation_within_a_token(qtbot, window) -> None:
    window.controller.options = lambda: replace(TEST_OPTIONS, max_new_tokens=200, temperature=0.8)
    editor = window.current_editor()
    qtbot.keyClicks(editor, "The harbour")
    window.controller.debounce.stop()
    qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)  # suggest now
    qtbot.waitUntil(lambda: editor.ghost_text() != "", timeout=20_000)  # the first tokens are showing
    request = editor.ghost_request
    streamed = editor.ghost_text()
    different = "@" if not streamed.startswith("@") else "#"
    with qtbot.waitSignal(window.controller.suggestion_cancelled, timeout=10_000,
                          check_params_cb=lambda r, n: r == request) as cancelled:
        qtbot.keyClicks(editor, different)
    assert cancelled.args[1] <= 1  # tokens the worker produced after the keystroke
    assert editor.ghost_text() == "" and editor.toPlainText() == "The harbour" + different
    typed_over = [e for e in log_events(window) if e["outcome"] == "typed_over"]
    # What the writer typed instead is logged with it: preference learning's chosen side.
    assert typed_over and typed_over[-1]["after_text"] == different


def test_stale_answers_are_ignored(qtbot, window) -> None:
    editor = window.current_editor()
    qtbot.keyClicks(editor, "Old text")
    window.controller.debounce.stop()
    editor.begin_ghost(10_000)
    editor.set_alternative(9_999, 0, " from an older request")
    assert editor.ghost_text() == ""
    editor.set_alternative(10_000, 0, " current")
    assert editor.ghost_text() == " current"


def test_gui_thread_stays_responsive_while_the_worker_generates(qtbot, window) -> None:
    # No DRY penalty: on the tiny model's repetitive output it ends the suggestion after a few
    # tokens, and this test needs a long generation to watch the heartbeat through.
    window.controller.options = lambda: replace(TEST_OPTIONS, max_new_tokens=200, dry_multiplier=0.0)
    editor = window.current_editor()
    qtbot.keyClicks(editor, "It was the best of times")
    window.controller.debounce.stop()
    beats: list[float] = []
    heartbeat = QTimer(interval=10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    with qtbot.waitSignal(window.controller.suggestion_complete, timeout=30_000) as ready:
        window.controller.suggest_now()
    heartbeat.stop()
    generation_seconds = ready.args[2]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    ordered = sorted(gaps)
    print(f"heartbeat during {generation_seconds:.2f} s of generation: {len(beats)} beats, longest gap {max(gaps) * 1000:.0f} ms, "
          f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.0f} ms, p50 {ordered[len(ordered) // 2] * 1000:.0f} ms")
    assert len(beats) >= 3  # 200 tiny-model tokens can take only ~0.15 s
    # Inference on the GUI thread would show as one gap as long as the whole generation (seconds).
    # The bounds leave room for a machine whose two cores are shared with other busy processes.
    # The tiny model writes its 200 tokens in 0.15-0.3 s, so a third of that is within a busy
    # machine's scheduling noise; 100 ms still fails when generation runs on the GUI thread (one gap
    # of the whole generation, >= 0.15 s).
    assert max(gaps) < min(0.5, max(0.1, generation_seconds / 3)), f"the GUI thread stalled for {max(gaps) * 1000:.0f} ms"
    assert ordered[int(len(ordered) * 0.95)] < 0.1


def test_auto_suggest_off_means_on_demand_only(qtbot, window) -> None:
    window.main_menu.auto_action.trigger()  # switch automatic suggestions off
    assert window.settings.suggestions.auto_suggest is False
    editor = window.current_editor()
    qtbot.keyClicks(editor, "A quiet line")
    assert not window.controller.debounce.isActive()
    with qtbot.waitSignal(window.controller.suggestion_complete, timeout=20_000):
        qtbot.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.ghost_text() != "", timeout=5_000)
    saved = json.loads(json.dumps(window.settings.to_dict()))
    assert saved["suggestions"]["auto_suggest"] is False


def test_a_suggestion_copying_the_training_text_is_marked_on_its_card_and_in_the_status(qtbot, window) -> None:
    from cw_desktop.ml.dataset import Unit
    from cw_desktop.ml.memorisation import MemorisationIndex

    window.alternatives_dock.show()
    typed = "The old house stood at the end of the lane"
    editor = wait_for_suggestion(qtbot, window, typed)
    ghost = editor.ghost_text()
    assert not window.alternatives_panel.cards[0].copies  # the tiny model has no training index
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    # As if the model had been fine-tuned on a chapter holding exactly what it just wrote.
    index = MemorisationIndex.build([Unit("stories/lane.txt#4", typed + ghost)], n=4)
    window.generation._generator.memorisation = index  # idle worker: no request in flight
    statuses: list[str] = []
    window.controller.status_message.connect(statuses.append)
    with qtbot.waitSignal(window.controller.suggestion_complete, timeout=20_000):
        window.controller.suggest_now()
    qtbot.waitUntil(lambda: bool(window.alternatives_panel.cards), timeout=5_000)
    assert window.alternatives_panel.cards[0].copies == "copies your lane.txt, chapter 5"
    assert any("copies your lane.txt, chapter 5" in s for s in statuses)
