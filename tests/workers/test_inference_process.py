"""The model in its own process (workers/inference_process.py): same answers as the in-process
worker, cancellation across the pipe, no torch in the window's process, and a crash that costs the
writer nothing but a reload."""

from __future__ import annotations

import os
import signal
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


def test_the_expected_model_is_loaded_while_the_window_is_built(qtbot, app_paths, tiny_model_dir):
    """Start-up: the child loads the model the settings name before the window asks, so the
    window's request is answered without loading (only the final stage arrives)."""
    from cw_desktop.workers.inference_process import InferenceProcess, RemoteGenerationWorker, RemoteModelLoader

    process = InferenceProcess(app_paths, expect=(str(tiny_model_dir), "torch"))
    try:
        with qtbot.waitSignal(process.ready, timeout=120_000):
            process.start()
        generation, loader = RemoteGenerationWorker(process), RemoteModelLoader(process, app_paths)
        loader.backend = "torch"
        stages: list[str] = []
        loader.progress.connect(lambda _spec, _fraction, stage: stages.append(stage))
        info = load(qtbot, generation, loader, tiny_model_dir)
        assert info["folder"] == str(tiny_model_dir) and stages == ["Model ready"]
        assert process.expect is None  # a restart after a crash asks for the model itself
    finally:
        process.stop()


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


@pytest.fixture(scope="module")
def voice_chapter(tiny_model_dir, tmp_path_factory) -> tuple[str, str]:
    """(adapter folder, chapter): a LoRA adapter trained on author A's voice, and a chapter whose
    paragraphs alternate A, B, A, B."""
    from voice_models import paragraphs, train_lora_adapter

    adapter = train_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("voice") / "my-voice",
                                 paragraphs("A", 60, seed=1))
    a, b = paragraphs("A", 2, seed=101), paragraphs("B", 2, seed=202)
    return str(adapter), "\n\n".join([a[0], b[0], a[1], b[1]])


def test_the_voice_gutter_scores_in_the_child_and_the_window_never_imports_torch(tmp_path, voice_chapter):
    adapter, chapter = voice_chapter
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication([])
        from cw_desktop.core.paths import AppPaths
        from cw_desktop.workers.inference_process import InferenceProcess, RemoteVoiceWorker
        paths = AppPaths.default(config={str(tmp_path / 'c')!r}, data={str(tmp_path / 'd')!r}).ensure()
        process = InferenceProcess(paths, preload=False); process.start()
        voice = RemoteVoiceWorker(process)
        answers = []
        def on_scores(request, document, spans, done):
            if done:
                answers.append((request, document, spans)); app.quit()
        voice.scores_ready.connect(on_scores)
        voice.failed.connect(lambda *a: (print("failed", a), app.quit()))
        submitted = voice.submit_score("doc-1", {chapter!r}, {adapter!r})
        QTimer.singleShot(120_000, app.quit)
        app.exec()
        process.stop()
        request, document, spans = answers[0] if answers else (None, None, [])
        scores = [s for _a, _b, s in spans]
        print("SUBMITTED", submitted, "ANSWERED", request, document, len(spans))
        print("A_ABOVE_B", len(scores) == 4 and min(scores[0], scores[2]) > max(scores[1], scores[3]))
        print("TORCH", "torch" in sys.modules, "transformers" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=170,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    output = done.stdout + done.stderr
    submitted = next((line.split()[1] for line in done.stdout.splitlines() if line.startswith("SUBMITTED")), "?")
    assert f"ANSWERED {submitted} doc-1 4" in done.stdout, output  # the window's request id came back
    assert "A_ABOVE_B True" in done.stdout, output  # author A's paragraphs sound more like the adapter
    assert "TORCH False False" in done.stdout, output


def test_a_crash_fails_the_open_voice_request_and_the_restarted_child_scores_again(qtbot, remote, voice_chapter):
    process, _generation, _loader = remote
    from cw_desktop.workers.inference_process import RemoteVoiceWorker

    adapter, chapter = voice_chapter
    voice = RemoteVoiceWorker(process)
    with qtbot.waitSignal(voice.failed, timeout=30_000) as failed:
        request = voice.submit_score("doc-1", chapter, adapter)
        os.kill(process.pid, signal.SIGKILL)  # mid-load: the writer is told, nothing waits forever
    assert failed.args[0] == request and "stopped unexpectedly" in failed.args[1]

    with qtbot.waitSignal(voice.failed, timeout=10_000) as failed:  # not restarted: off, with a reason
        request = voice.submit_score("doc-1", chapter, adapter)
    assert failed.args[0] == request and "not running" in failed.args[1]

    process.start()  # as the model controller does after a crash
    with qtbot.waitSignal(voice.scores_ready, timeout=120_000, check_params_cb=lambda *args: args[3]) as scored:
        request = voice.submit_score("doc-1", chapter, adapter)
    assert scored.args[0] == request and len(scored.args[2]) == 4
