"""Screenshots of the co-writing features in the real window, with the bundled model answering.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_cowriting_screenshots.py \
        --cache /root/.cache/cw_desktop

One run of the app, driven as a writer would: a three-chapter project (written to a temp folder)
opens in the Project dock, the story gets Memory, an author's note and a lorebook, the model loads
(in its own process, as `cw-desktop` runs it), a sentence is typed with real key events, and each
step waits for the signal that says the window is ready before it is captured. Saves into
docs/screenshots/: cowriting-project-lorebook.png, lorebook-dialog.png, retry-history.png,
rewrite-preview.png and banned-phrases.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.core.story_context import LoreEntry

HERE = Path(__file__).resolve().parent
STEP_TIMEOUT_MS = 240_000  # one suggestion or rewrite on a busy two-core machine

CHAPTERS = {
    "01 The Lamp.md": """# The Lamp

Every evening at a quarter to six, Ida Penrose climbed the hundred and four steps of the Gull Point light with a can of paraffin in one hand and her father's brass key in the other. The key was too large for the lock and always had been; you had to lift the door a little as you turned it, as if the lighthouse were a horse that needed talking round.

From the gallery she could see the whole of Porthcarrow: the harbour wall curled like a sleeping cat, the slate roofs, the chapel with its crooked weathervane, and the fishing boats nodding at their moorings. She lit the wick, set the lens turning, and watched the first beam go out across the water.
""",
    "02 The Harbour Master.md": """# The Harbour Master

Tobias Venn had been harbour master for thirty-one years and had never once been seen without his pipe, though nobody could remember him lighting it. He kept a ledger of every boat that left Porthcarrow and every boat that came back, and the two columns did not always match.

"The Marigold's late," he said, when Ida came down for her bread. "Three days now. Nat Hoskin's never late."

Ida looked out past the harbour mouth, where the sea had gone the flat grey of a knife left out in the rain. "He'll have put in at Newlyn," she said, and neither of them believed it.
""",
    "03 The Fog.md": """# The Fog

The fog came in on the fourth night, thick and wet and smelling of weed. By nine o'clock Ida could not see the harbour wall from the gallery, and the beam of the Gull Point light ended a few yards out, as if the world had been rubbed away.

She wound the fog bell until her arms ached. Between the strokes she listened, and once, far out, she thought she heard an answer: a single note from a ship's bell, slow and uneven, the way a bell rings when no one is holding the rope.

Down on the quay a lantern was moving. Tobias Venn was walking the harbour wall with his ledger under his arm, and""",
}
CHAPTER = "03 The Fog.md"
TYPED = " he stopped at the end of the wall and"
MEMORY = ("A quiet Cornish harbour in 1893. Third person, past tense, close on Ida Penrose, "
          "the lighthouse keeper's daughter: practical, wry, afraid of nothing but silence.")
NOTE = "[Style: slow, eerie, sensory; short sentences when tension rises]"
LOREBOOK = [
    LoreEntry(name="Ida Penrose", keys=["Ida"], priority=10,
              text="Ida Penrose, 24, keeps the Gull Point light since her father's stroke. Steady hands, "
                   "dry humour, counts steps when she is frightened."),
    LoreEntry(name="Tobias Venn", keys=["Tobias", "Venn", "harbour master"], priority=5,
              text="Tobias Venn, harbour master of Porthcarrow for thirty-one years. Unlit pipe, keeps a "
                   "ledger of boats out and boats back; lost a brother to the sea."),
    LoreEntry(name="The Marigold", keys=["Marigold", "Nat Hoskin"], priority=0,
              text="The Marigold: Nat Hoskin's pilchard lugger, red sails, three days overdue."),
]
BANNED = ["suddenly", "a shiver ran down her spine", "little did she know"]
SHORTEN = CHAPTERS[CHAPTER].split("\n\n")[2]  # the fog-bell paragraph


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", required=True, help="cache folder holding the converted bundled model")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--threads", action="store_true", help="run the model in a thread, not its own process")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cw-cowriting-"))
    paths = AppPaths.default(config=root / "config", data=root / "data", cache=args.cache).ensure()
    folder = root / "The Gull Point Light"
    folder.mkdir()
    for name, text in CHAPTERS.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = Settings()
    settings.editor.theme = "light"
    settings.editor.font_size = 14
    settings.suggestions.alternatives = 3
    settings.suggestions.show_side_panel = True
    settings.suggestions.dry_multiplier = 0.8

    inference = None
    if not args.threads:
        from cw_desktop.workers.inference_process import InferenceProcess

        inference = InferenceProcess(paths)
        inference.start()  # as run_gui does: the child imports torch while the window is built
    app = QApplication([sys.argv[0]])
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from cw_desktop.gui.main_window import MainWindow
    from cw_desktop.dialogs.lorebook import LorebookDialog

    window = MainWindow(paths, settings, inference=inference)
    window.setGeometry(0, 0, 1400, 900)
    window.show()
    options = window.controller.options
    window.controller.options = lambda: replace(options(), seed=args.seed)
    window.rewriting.seed = args.seed
    saved: list[str] = []
    finished = asyncio.Event()  # app.quit() does not end qasync's run_until_complete here: this does

    def finish() -> None:
        watchdog = threading.Timer(60, leave_anyway)
        watchdog.daemon = True
        watchdog.start()
        finished.set()
    failures: list[str] = []

    # -- the project and its story -----------------------------------------------------------------
    window.start("bundled")  # the model loads in the background meanwhile (and no project to reopen yet)
    window.projects.open_project(folder)
    tab = window.projects.open_chapter(CHAPTER)
    editor = tab.editor
    window.project_panel.target.setValue(250)  # as the writer sets it: saved in the project file
    panel, fields = window.generation_panel, window.generation_panel.story_fields
    panel.memory.setPlainText(MEMORY)
    fields.note.setText(NOTE)
    fields.note.setCursorPosition(0)  # the note reads from its start, as after clicking elsewhere
    window.story.set_lorebook(LOREBOOK)
    panel.banned.setPlainText("\n".join(BANNED))

    def save(name: str, pixmap) -> None:  # type: ignore[no-untyped-def]
        target = HERE / name
        pixmap.save(str(target))
        saved.append(name)
        print(f"saved {target}", flush=True)

    def screen_area(x: int, y: int, width: int, height: int):  # type: ignore[no-untyped-def]
        """The screen itself: the window and a floating tool window over it, as the writer sees them."""
        return QGuiApplication.primaryScreen().grabWindow(0, x, y, width, height)

    def fail(message: str) -> None:
        failures.append(message)
        print(f"FAILED: {message}", file=sys.stderr, flush=True)
        finish()

    class Step:
        """Wait for `signal` until `accept(*args)` says yes, then run `then` after a short settle."""

        def __init__(self, name: str, signal, accept: Callable[..., bool], then: Callable[[], None],
                     settle_ms: int = 500) -> None:  # type: ignore[no-untyped-def]
            self.name, self.signal, self.accept, self.then, self.settle_ms = name, signal, accept, then, settle_ms
            self.done = False
            self.timer = QTimer(singleShot=True, interval=STEP_TIMEOUT_MS)
            self.timer.timeout.connect(lambda: self.done or fail(f"{self.name}: timed out"))
            signal.connect(self._on_signal)
            self.timer.start()

        def _on_signal(self, *signal_args) -> None:  # type: ignore[no-untyped-def]
            if self.done or not self.accept(*signal_args):
                return
            self.done = True
            self.timer.stop()
            self.signal.disconnect(self._on_signal)
            QTimer.singleShot(self.settle_ms, self.then)

    # 1. The model is ready: type into the chapter, wait for the ghost and its alternatives.
    def type_sentence(_info: dict) -> None:
        cursor = editor.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        editor.setTextCursor(cursor)
        editor.setFocus()
        Step("first suggestion", window.controller.status_message,
             lambda message: message.startswith("Suggestion after") and bool(editor.ghost_text()),
             shoot_window, settle_ms=900)
        QTest.keyClicks(editor, TYPED, delay=25)  # real key events, as a writer types

    def shoot_window() -> None:
        print(f"gauge: {panel.gauge_label.text()!r}; ghost: {editor.ghost_text()!r}", flush=True)
        save("cowriting-project-lorebook.png", window.grab())
        shoot_lorebook()

    # 2. The lorebook dialog with the three entries (not exec(): the run must go on).
    def shoot_lorebook() -> None:
        story = window.story.current()
        dialog = LorebookDialog(story.lorebook, story.scan_chars, window)
        dialog.table.selectRow(1)
        dialog.show()
        QTimer.singleShot(600, lambda: (save("lorebook-dialog.png", dialog.grab()), dialog.reject(),
                                        dialog.deleteLater(), retry()))

    # 3. Retry at the cursor: the first answers move to the history list of this place.
    def retry() -> None:
        editor.setFocus()
        request = window.history.retry()
        if request is None:
            fail("Retry sent no request")
            return
        Step("retry", window.controller.suggestion_complete, lambda sent, *_: sent == request,
             lambda: QTimer.singleShot(0, shoot_history), settle_ms=900)

    def shoot_history() -> None:
        print(f"alternatives now: {window.alternatives_panel.card_texts()}; history: "
              f"{[card.text for card in window.alternatives_panel.history_cards]}", flush=True)
        # The history sits below the new alternatives, and the Generation panel below them cannot
        # shrink (it does not scroll): the writer closes it to see the whole history, and so do we.
        docks = (window.generation_dock, window.creative_dock)  # one tabbed area: both go
        for dock in docks:
            dock.hide()

        def shoot_and_restore() -> None:
            save("retry-history.png", window.grab())
            for dock in docks:
                dock.show()
            window.generation_dock.raise_()
            rewrite()

        QTimer.singleShot(500, shoot_and_restore)

    # 4. Select the fog-bell paragraph and ask for a shorter version.
    def rewrite() -> None:
        if editor.ghost_request is not None:
            editor.end_ghost("rejected")
        text = editor.toPlainText()
        start = text.index(SHORTEN)
        cursor = editor.textCursor()
        cursor.setPosition(start)
        cursor.setPosition(start + len(SHORTEN), QTextCursor.MoveMode.KeepAnchor)
        editor.setTextCursor(cursor)
        editor.centerCursor()
        if not window.rewriting.rewrite_selection("shorten"):
            fail(f"rewrite refused: {window.notice.text()}")
            return
        Step("rewrite", window.generation.rewrite_finished,
             lambda request, _result: request == window.rewriting.pending.request_id, shoot_rewrite, settle_ms=700)

    rewrite_tries = [0]

    def shoot_rewrite() -> None:
        dialog = window.rewriting.dialog
        if not dialog.rewritten.strip() and rewrite_tries[0] < 3:
            # The small model sometimes answers a rewrite with nothing: ask again, as the writer would.
            rewrite_tries[0] += 1
            print(f"rewrite: {dialog.status.text()!r}; retrying", flush=True)
            window.rewriting.retry()
            Step("rewrite retry", window.generation.rewrite_finished,
                 lambda request, _result: request == window.rewriting.pending.request_id, shoot_rewrite,
                 settle_ms=700)
            return
        print(f"rewrite: {dialog.status.text()!r}", flush=True)
        frame = window.frameGeometry()
        save("rewrite-preview.png", screen_area(frame.x(), frame.y(), frame.width(), frame.height()))
        dialog.reject()
        shoot_generation_panel()

    # 5. The Generation panel: DRY and the banned phrases (the list the rewrite just honoured too).
    def shoot_generation_panel() -> None:
        window.generation_dock.raise_()
        QTimer.singleShot(400, lambda: (save("banned-phrases.png", window.generation_dock.grab()), finish()))

    window.model_ready.connect(type_sentence)
    window.model_failed.connect(lambda spec, message: fail(f"{spec}: {message}"))
    QTimer.singleShot(10 * 60_000, lambda: fail("the whole run took too long"))

    def outcome() -> int:
        print(f"saved {len(saved)} of 5: {', '.join(saved)}", flush=True)
        return 0 if len(saved) == 5 and not failures else 1

    def leave_anyway() -> None:
        # Leaving must not hang a screenshot run (the event loop or the model's process may linger).
        print("shutdown took too long: leaving", flush=True)
        os._exit(outcome())

    with loop:
        loop.run_until_complete(finished.wait())
    window.shutdown()
    return outcome()


if __name__ == "__main__":
    raise SystemExit(main())
