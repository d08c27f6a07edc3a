"""The promise of issue 3: write, get killed (SIGKILL, no clean-up at all), relaunch, lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gui_helpers import make_window

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from cw_desktop.core.paths import AppPaths
    from cw_desktop.core.settings import Settings
    from cw_desktop.gui.main_window import MainWindow

    app = QApplication([])
    paths = AppPaths.default(config=sys.argv[1], data=sys.argv[2]).ensure()
    settings = Settings()
    settings.editor.autosave_seconds = 1
    window = MainWindow(paths, settings)
    window.show()
    tab = window.open_path(Path(sys.argv[3]))
    cursor = tab.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    QTest.keyClicks(tab.editor, " The lamp went out at midnight.")
    window.generation_panel.memory.setPlainText("Mara narrates.")
    # The autosave timer (1 s here) must get there by itself; then the process dies on the spot.
    window.autosaved.connect(lambda count: count and os.kill(os.getpid(), signal.SIGKILL))
    QTimer.singleShot(20_000, lambda: sys.exit("no autosave within 20 s"))
    app.exec()
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_session_is_offered_back_in_full(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    manuscript = tmp_path / "lamp.txt"
    manuscript.write_text("Mara climbed the steps.", encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run([sys.executable, "-c", CHILD, str(app_paths.config_dir), str(app_paths.data_dir),
                            str(manuscript)], env=env, timeout=120, capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert manuscript.read_text(encoding="utf-8") == "Mara climbed the steps."  # never written behind our back

    window = make_window(qtbot, app_paths)
    restored = window.documents.restore_from_crash()  # the real liveness check: the killed pid is gone
    assert [tab.title for tab in restored] == ["lamp.txt"]
    tab = restored[0]
    assert tab.text() == "Mara climbed the steps. The lamp went out at midnight."
    assert tab.memory == "Mara narrates." and tab.is_modified()
    assert window.documents.save(tab)
    assert manuscript.read_text(encoding="utf-8") == "Mara climbed the steps. The lamp went out at midnight."


# Typing with the default 30 s autosave timer; the child reports each word as it types it, then
# SIGKILLs itself `kill_after` seconds after it started, in the middle of whatever it was doing.
TYPIST = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from cw_desktop.core.paths import AppPaths
    from cw_desktop.core.settings import Settings
    from cw_desktop.gui.main_window import MainWindow

    app = QApplication([])
    paths = AppPaths.default(config=sys.argv[1], data=sys.argv[2]).ensure()
    type_for, kill_after = float(sys.argv[4]), float(sys.argv[5])
    window = MainWindow(paths, Settings())
    assert window.settings.editor.autosave_seconds == 30
    window.show()
    tab = window.open_path(Path(sys.argv[3]))
    cursor = tab.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    start = time.monotonic()
    count = 0

    def type_word():
        global count
        if time.monotonic() - start >= type_for:
            typist.stop()
            return
        count += 1
        QTest.keyClicks(tab.editor, f" w{count}")
        print(f"{count} {time.monotonic() - start:.3f}", flush=True)

    typist = QTimer(interval=250)
    typist.timeout.connect(type_word)
    typist.start()
    QTimer.singleShot(int(kill_after * 1000), lambda: os.kill(os.getpid(), signal.SIGKILL))
    app.exec()
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("type_for,kill_after", [(2.0, 5.0), (9.0, 8.6)], ids=["pause-then-kill", "kill-mid-typing"])
def test_kill_at_any_moment_loses_at_most_a_few_seconds(qtbot, qasync_loop, app_paths, tmp_path: Path,
                                                         type_for: float, kill_after: float) -> None:
    """pause-then-kill: the words typed ~3 s before the kill are all back (the 30 s timer never ran);
    kill-mid-typing: typing never pauses, and nothing older than 5 s is lost."""
    manuscript = tmp_path / "lamp.txt"
    manuscript.write_text("Mara climbed the steps.", encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run([sys.executable, "-c", TYPIST, str(app_paths.config_dir), str(app_paths.data_dir),
                            str(manuscript), str(type_for), str(kill_after)],
                           env=env, timeout=120, capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    typed = [(int(n), float(t)) for n, t in (line.split() for line in child.stdout.split("\n") if line.strip())]
    assert typed, child.stderr

    window = make_window(qtbot, app_paths)
    restored = window.documents.restore_from_crash()
    assert [tab.title for tab in restored] == ["lamp.txt"]
    words = restored[0].text().split()
    assert words[:4] == ["Mara", "climbed", "the", "steps."]
    must_have = [n for n, t in typed if t <= kill_after - 5.0]
    if type_for + 2.5 < kill_after:
        must_have = [n for n, _ in typed]  # the pause let the debounced autosave copy everything
    assert must_have and all(f"w{n}" in words for n in must_have), (must_have, words)
