"""The window with its model in a child process (workers/inference_process.py): a crash of the
model's process costs the writer a reload, never their text."""

from __future__ import annotations

import os
import signal

import pytest

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.settings import Settings

pytestmark = pytest.mark.timeout(180)

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0, stop="none")
DRAFT = "The old house stood at the end of the lane, and"


def test_a_crashed_model_process_is_restarted_and_no_text_is_lost(qtbot, qasync_loop, app_paths, tiny_model_dir):
    from cw_desktop.gui.main_window import MainWindow
    from cw_desktop.workers.inference_process import InferenceProcess, RemoteVoiceWorker

    settings = Settings()
    settings.model.inference_backend = "torch"
    process = InferenceProcess(app_paths, preload=False)
    process.start()
    window = MainWindow(app_paths, settings, inference=process)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.show()
    assert isinstance(window.voice.worker, RemoteVoiceWorker)  # the gutter's models load in the child too
    with qtbot.waitSignal(window.model_ready, timeout=60_000):
        window.switch_model(str(tiny_model_dir))
    editor = window.current_editor()
    editor.setPlainText("Every word the writer typed before the crash.")
    first_pid = process.pid
    with qtbot.waitSignal(window.model_ready, timeout=60_000):  # reloaded in a new child
        os.kill(first_pid, signal.SIGKILL)
    assert process.pid != first_pid and process.is_running()
    assert editor.toPlainText() == "Every word the writer typed before the crash."
    with qtbot.waitSignal(window.generation.suggestions_ready, timeout=30_000):
        window.generation.submit_suggest(DRAFT, GREEDY)
