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
    restored = window.restore_from_crash()  # the real liveness check: the killed pid is gone
    assert [tab.title for tab in restored] == ["lamp.txt"]
    tab = restored[0]
    assert tab.text() == "Mara climbed the steps. The lamp went out at midnight."
    assert tab.memory == "Mara narrates." and tab.is_modified()
    assert window.save(tab)
    assert manuscript.read_text(encoding="utf-8") == "Mara climbed the steps. The lamp went out at midnight."
