"""A status file for programs that drive the real editor from outside (the bundle's smoke test).

With CW_DESKTOP_STATUS_FILE=/some/file.jsonl the editor appends one JSON object a line:

    {"event": "window_shown", "seconds": ...}             the window is on screen
    {"event": "model_ready", "seconds": ..., "name", "backend", "folder", "load_seconds"}
    {"event": "model_failed", "seconds": ..., "spec", "message"}
    {"event": "ghost", "seconds": ..., "text": ...}       the ghost text in the front editor changed

`seconds` counts from the start of the process's GUI start-up. A script can wait for a line
instead of guessing from screenshots whether the model is ready or a suggestion is showing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

STATUS_FILE_ENV = "CW_DESKTOP_STATUS_FILE"
# How often the front editor's ghost text is looked at: a streamed suggestion grows word by word,
# so a few lines per suggestion are written, never one per token.
GHOST_POLL_MS = 250


class StatusTrace(QObject):
    """Writes the window's model and ghost-text state to a JSON-lines file (see the module doc)."""

    def __init__(self, window: Any, path: Path, started: float) -> None:
        super().__init__(window)
        self.window = window
        self.path = path
        self.started = started
        self._last_ghost = ""
        window.model_ready.connect(self._on_model_ready)
        window.model_failed.connect(
            lambda spec, message: self.write("model_failed", spec=spec, message=message))
        self._timer = QTimer(self, interval=GHOST_POLL_MS)
        self._timer.timeout.connect(self._poll_ghost)
        self._timer.start()

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "seconds": round(time.perf_counter() - self.started, 3), **fields}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def _on_model_ready(self, info: dict[str, Any]) -> None:
        self.write("model_ready", **{key: info.get(key) for key in ("name", "backend", "folder", "load_seconds")})

    def _poll_ghost(self) -> None:
        editor = self.window.current_editor()
        text = editor.ghost_text() if editor is not None else ""
        if text != self._last_ghost:
            self._last_ghost = text
            self.write("ghost", text=text)


def attach_from_environment(window: Any, started: float, environ: dict[str, str]) -> StatusTrace | None:
    """A StatusTrace for `window` when the environment names a status file, else None."""
    target = environ.get(STATUS_FILE_ENV)
    if not target:
        return None
    trace = StatusTrace(window, Path(target), started)
    QTimer.singleShot(0, lambda: trace.write("window_shown"))  # after the first paint
    return trace
