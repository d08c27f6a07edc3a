"""The model in its own process (workers/inference_process.py): same answers as the in-process
worker, cancellation across the pipe, no torch in the window's process, and a crash that costs the
writer nothing but a reload."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cw_desktop.core.generation_settings import GenerationSettings

pytestmark = pytest.mark.timeout(180)

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0, stop="none")
DRAFT = "The old house stood at the end of the lane, and"


def load(qtbot, generation, loader, model_dir: Path) -> dict:
    with qtbot.waitSignal(loader.loaded, timeout=60_000) as loaded:
        loader.request_load(str(model_dir))
    with qtbot.waitSignal(generation.model_installed, timeout=30_000) as installed:
        generation.install(loaded.args[1])
    return installed.args[0]


def test_suggestions_from_the_child_match_the_engine_in_this_process(qtbot, remote, tiny_model_dir, tiny_loaded):
    from cw_desktop.ml.generation import Generator

    _process, generation, loader = remote
    info = load(qtbot, generation, loader, tiny_model_dir)
    assert info["folder"] == str(tiny_model_dir) and generation.has_model
    streamed: list[str] = []
    generation.token.connect(lambda _request, _index, text: streamed.append(text))
    with qtbot.waitSignal(generation.suggestions_ready, timeout=30_000) as ready:
        request = generation.submit_suggest(DRAFT, GREEDY)
    assert ready.args[0] == request
    remote_text = ready.args[1][0].text
    local_text = Generator(tiny_loaded).suggest(DRAFT, GREEDY)[0].text
    assert remote_text == local_text and remote_text.strip()
    assert streamed and streamed[-1] == remote_text  # it streamed, token by token, as it grew


def test_a_cancel_crosses_the_pipe_within_a_few_tokens(qtbot, remote, tiny_model_dir):
    _process, generation, loader = remote
    load(qtbot, generation, loader, tiny_model_dir)
    long = GenerationSettings(max_new_tokens=200, temperature=0.0, stop="none")
    request = generation.submit_suggest(DRAFT, long)
    with qtbot.waitSignal(generation.cancelled, timeout=30_000) as cancelled:
        qtbot.waitSignal(generation.token, timeout=30_000).wait()
        generation.cancel(request)
    assert cancelled.args[0] == request
    assert cancelled.args[1] <= 3  # tokens the child streamed after the cancel was asked


def test_the_window_process_never_imports_torch(tmp_path, tiny_model_dir):
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        from cw_desktop.core.paths import AppPaths
        from cw_desktop.core.generation_settings import GenerationSettings
        from cw_desktop.workers.inference_process import InferenceProcess, RemoteGenerationWorker, RemoteModelLoader
        paths = AppPaths.default(config={str(tmp_path / 'c')!r}, data={str(tmp_path / 'd')!r}).ensure()
        process = InferenceProcess(paths); process.start()
        generation = RemoteGenerationWorker(process); loader = RemoteModelLoader(process, paths)
        loader.backend = "torch"
        answers = []
        loader.loaded.connect(lambda spec, key: generation.install(key))
        generation.model_installed.connect(lambda info: generation.submit_suggest(
            "Once upon a time", GenerationSettings(max_new_tokens=6, temperature=0.0, stop="none")))
        generation.suggestions_ready.connect(lambda r, s, t: (answers.append(s[0].text), app.quit()))
        generation.failed.connect(lambda *a: (print("failed", a), app.quit()))
        loader.request_load({str(tiny_model_dir)!r})
        QTimer.singleShot(90_000, app.quit)
        app.exec()
        process.stop()
        print("ANSWER", bool(answers and answers[0].strip()), "torch" in sys.modules, "transformers" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=150,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert "ANSWER True False False" in done.stdout, done.stdout + done.stderr
