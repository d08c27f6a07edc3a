"""Worker fixtures: a GenerationWorker on its own thread with the tiny GPT-2 installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.threads import start_in_thread, stop_thread
from signal_relay import relay


@pytest.fixture
def worker(qtbot, tiny_loaded) -> Iterator[GenerationWorker]:
    worker = GenerationWorker()
    thread = start_in_thread(worker, "test-generation")
    try:
        with qtbot.waitSignal(relay(worker.model_installed).fired, timeout=20_000) as installed:
            worker.install(tiny_loaded)
        assert installed.args[0][0]["folder"] == str(tiny_loaded.folder)
        yield worker
    finally:
        assert stop_thread(thread)


@pytest.fixture
def remote(qtbot, app_paths):
    """(InferenceProcess, RemoteGenerationWorker, RemoteModelLoader): the model in a child process,
    loading on torch (the tiny models are not converted for llama.cpp)."""
    from cw_desktop.workers.inference_process import InferenceProcess, RemoteGenerationWorker, RemoteModelLoader

    process = InferenceProcess(app_paths, preload=False)
    process.start()
    generation = RemoteGenerationWorker(process)
    loader = RemoteModelLoader(process, app_paths)
    loader.backend = "torch"
    yield process, generation, loader
    process.stop()
