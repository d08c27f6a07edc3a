"""Screenshots of the real editor with a real suggestion from the bundled model.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_screenshots.py \
        --cache /tmp/cwd-shared/cache [--theme light|dark]

Opens the window exactly as `cw-desktop` does, types into the editor with real key events, waits
for the worker's suggestion, and saves docs/screenshots/editor-<theme>.png.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings

HERE = Path(__file__).resolve().parent
DRAFT = """The Keeper's Daughter

Mara had kept the lamp alone since the winter her father's eyes began to fail. Every evening she climbed the ninety-one steps with the oil can knocking against her knee, trimmed the wick, and watched the light go out across the water like a question nobody answered.

That night the wind came round to the north-east, and by nine o'clock the sea was white to the horizon."""
TYPED = " She pulled her shawl tighter and"
MEMORY = "Cornwall, 1890. Mara, the lighthouse keeper's daughter, is brave and dry-humoured."


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", required=True, help="cache folder holding the converted bundled model")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cw-shot-"))
    paths = AppPaths.default(config=root / "config", data=root / "data", cache=args.cache).ensure()
    settings = Settings()
    settings.editor.theme = args.theme
    settings.editor.font_size = 15
    settings.suggestions.alternatives = 3
    settings.suggestions.show_side_panel = True
    draft = root / "keepers-daughter.txt"
    draft.write_text(DRAFT, encoding="utf-8")

    app = QApplication([sys.argv[0]])
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from cw_desktop.gui.main_window import MainWindow

    window = MainWindow(paths, settings)
    window.setGeometry(0, 0, 1400, 900)
    window.show()
    tab = window.open_path(draft)
    window.generation_panel.memory.setPlainText(MEMORY)
    editor = tab.editor
    options = window.controller.options
    window.controller.options = lambda: replace(options(), seed=args.seed)
    target = HERE / f"editor-{args.theme}.png"

    def type_sentence(_info: dict) -> None:
        cursor = editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        editor.setTextCursor(cursor)
        editor.setFocus()
        QTest.keyClicks(editor, TYPED, delay=25)  # real key events, as a writer types

    shot_scheduled = []

    def shoot(message: str) -> None:
        # The controller reports here (GUI thread) once every alternative has arrived.
        if shot_scheduled or not message.startswith("Suggestion after") or not editor.ghost_text():
            return
        shot_scheduled.append(True)
        QTimer.singleShot(400, save_and_quit)

    def save_and_quit() -> None:
        print(f"{window.notice.text()}: {editor.alternatives()}")
        window.grab().save(str(target))
        print(f"saved {target}")
        app.quit()

    window.model_ready.connect(type_sentence)
    window.model_failed.connect(lambda spec, message: (print(message), app.quit()))
    window.controller.status_message.connect(shoot)
    QTimer.singleShot(0, lambda: window.start("bundled"))
    QTimer.singleShot(180_000, app.quit)
    with loop:
        loop.run_until_complete(_until_quit(app))
    window.shutdown()
    return 0 if target.exists() else 1


async def _until_quit(app: QApplication) -> None:
    done = asyncio.Event()
    app.aboutToQuit.connect(done.set)
    await done.wait()


if __name__ == "__main__":
    raise SystemExit(main())
