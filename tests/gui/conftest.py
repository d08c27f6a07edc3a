"""GUI fixtures: a qasync loop on pytest-qt's QApplication and a main window on the tiny GPT-2."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest


from gui_helpers import load_tiny, make_window


@pytest.fixture(scope="session")
def qasync_loop(qapp):
    """The app's asyncio loop, as run_gui sets it up (already running: pytest-qt spins Qt)."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop


@pytest.fixture
def window(qtbot, qasync_loop, app_paths, tiny_model_dir) -> Iterator[Any]:
    win = make_window(qtbot, app_paths)
    load_tiny(qtbot, win, tiny_model_dir)
    yield win
    win.shutdown()
