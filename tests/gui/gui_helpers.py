"""Helpers for the GUI tests (a module of its own: two conftest.py files cannot both be imported as `conftest`)."""


from __future__ import annotations

from pathlib import Path
from typing import Any

from cw_desktop.core.documents import RecoveryEntry
from cw_desktop.core.generation_settings import preset
from cw_desktop.core.settings import Settings

# Deterministic, never-empty suggestions from the random tiny model: greedy, no stop rule.
TEST_OPTIONS = preset("prose", max_new_tokens=8, temperature=0.0, top_p=1.0, alternatives=1, stop="none")


class ScriptedPrompts:
    """Answers the window's questions without dialogs, and remembers what was asked."""

    def __init__(self) -> None:
        self.unsaved_answer = "discard"
        self.recover_answer: str = "all"  # "all" | "discard" | "later"
        self.unencodable_answer = False  # True = save as UTF-8
        self.disk_answer = "cancel"  # "reload" | "keep" | "save_as" | "cancel"
        self.asked: list[tuple[str, Any]] = []

    def unsaved_changes(self, title: str) -> str:
        self.asked.append(("unsaved", title))
        return self.unsaved_answer

    def recover(self, entries: list[RecoveryEntry]) -> list[RecoveryEntry] | None:
        self.asked.append(("recover", [e.title for e in entries]))
        return {"all": entries, "discard": [], "later": None}[self.recover_answer]

    def unencodable(self, title: str, detail: str, label: str) -> bool:
        self.asked.append(("unencodable", detail))
        return self.unencodable_answer

    def disk_changed(self, title: str, change: str, saving: bool) -> str:
        self.asked.append(("disk_changed", (title, change, saving)))
        return self.disk_answer

    def confirm(self, title: str, text: str) -> bool:
        self.asked.append(("confirm", title))
        return True

    def error(self, title: str, text: str) -> None:
        self.asked.append(("error", text))


def make_window(qtbot, paths, settings: Settings | None = None, *, will_crash: bool = False):
    """A main window with scripted prompts; `will_crash` windows are not closed by pytest-qt (see crash())."""
    from cw_desktop.gui.main_window import MainWindow

    window = MainWindow(paths, settings or gui_settings())
    window.prompts = ScriptedPrompts()
    if not will_crash:
        qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.show()
    return window


def gui_settings() -> Settings:
    settings = Settings()
    settings.suggestions.debounce_ms = 150
    settings.suggestions.alternatives = 1
    return settings


def load_tiny(qtbot, window, model_dir: Path) -> dict:
    with qtbot.waitSignal(window.model_ready, timeout=30_000) as ready:
        window.switch_model(str(model_dir))
    window.controller.options = lambda: TEST_OPTIONS
    return ready.args[0]


def crash(window) -> None:
    """What a kill looks like to the next session: the window is gone, closeEvent never ran."""
    import shiboken6

    assert window.shutdown()  # only so this test process does not abort on live QThreads
    shiboken6.delete(window)
