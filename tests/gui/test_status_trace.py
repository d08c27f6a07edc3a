"""The status file scripts read to follow the real editor (the bundle's smoke test waits on it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gui_helpers import load_tiny, make_window

from cw_desktop.gui.status_trace import STATUS_FILE_ENV, attach_from_environment


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_no_status_file_unless_asked(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    assert attach_from_environment(window, time.perf_counter(), {}) is None


def test_window_model_and_ghost_text_are_written(qtbot, qasync_loop, app_paths, tiny_model_dir, tmp_path) -> None:
    status = tmp_path / "status.jsonl"
    window = make_window(qtbot, app_paths)
    assert attach_from_environment(window, time.perf_counter(), {STATUS_FILE_ENV: str(status)}) is not None
    qtbot.waitUntil(lambda: [e["event"] for e in events(status)] == ["window_shown"], timeout=5000)
    load_tiny(qtbot, window, tiny_model_dir)
    ready = events(status)[-1]
    assert ready["event"] == "model_ready" and Path(ready["folder"]) == tiny_model_dir
    assert ready["backend"] in ("torch", "llamacpp")

    window.documents.new_document("It was late.")
    editor = window.current_editor()
    editor.begin_ghost(7)
    editor.set_alternative(7, 0, " the lamp was lit")
    qtbot.waitUntil(lambda: events(status)[-1].get("text") == " the lamp was lit", timeout=5000)
    editor.end_ghost("rejected")
    qtbot.waitUntil(lambda: events(status)[-1].get("text") == "", timeout=5000)  # dismissed: gone
    assert [e["event"] for e in events(status)][-2:] == ["ghost", "ghost"]
