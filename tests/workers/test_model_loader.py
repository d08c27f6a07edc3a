"""The model loader thread: loads, progress and failures reach the GUI as signals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cw_desktop.workers.model_loader import ModelLoaderWorker, describe_model
from cw_desktop.workers.threads import start_in_thread, stop_thread
from signal_relay import relay


@pytest.fixture
def loader(qtbot, app_paths) -> Iterator[ModelLoaderWorker]:
    worker = ModelLoaderWorker(app_paths)
    thread = start_in_thread(worker, "test-loader")
    try:
        yield worker
    finally:
        assert stop_thread(thread)


def test_loads_a_model_folder_with_progress(qtbot, loader: ModelLoaderWorker, tiny_model_dir: Path) -> None:
    stages: list[float] = []
    loader.progress.connect(lambda spec, fraction, stage: stages.append(fraction))
    with qtbot.waitSignal(relay(loader.loaded).fired, timeout=30_000) as loaded:
        loader.request_load(str(tiny_model_dir))
    spec, model = loaded.args[0]
    assert spec == str(tiny_model_dir) and model.context_length == 256
    assert stages and stages[-1] == 1.0


def test_a_missing_folder_fails_with_its_path(qtbot, loader: ModelLoaderWorker, tmp_path: Path) -> None:
    with qtbot.waitSignal(relay(loader.failed).fired, timeout=30_000) as failed:
        loader.request_load(str(tmp_path / "nowhere"))
    assert failed.args[0][0].endswith("nowhere") and "not found" in failed.args[0][1]


def test_download_offline_fails_with_a_clear_message(qtbot, loader: ModelLoaderWorker) -> None:
    with qtbot.waitSignal(relay(loader.failed).fired, timeout=60_000) as failed:
        loader.request_download("distilgpt2")
    assert "Could not download" in failed.args[0][1] and "distilgpt2" in failed.args[0][1]


def test_status_line_names_the_base_of_a_fine_tuned_model() -> None:
    info = {"name": "Austen", "spec": "/m/austen",
            "provenance": {"base_model": "bundled", "perplexity_before": 41.2, "perplexity_after": 23.75}}
    assert describe_model(info) == "Austen — fine-tuned from bundled (perplexity 41.2 → 23.8)"
    assert describe_model({"name": "GPT-2 (124M)", "provenance": {}}) == "GPT-2 (124M)"


def test_a_model_prepared_at_start_up_answers_the_first_request_at_once(qtbot, loader: ModelLoaderWorker,
                                                                        tiny_model_dir: Path) -> None:
    """The model process loads the expected model while the window is built; the window's request
    then gets that very model, and only once: the next request loads afresh."""
    loader.prepare(str(tiny_model_dir), "auto")
    stages: list[str] = []
    loader.progress.connect(lambda spec, fraction, stage: stages.append(stage))
    with qtbot.waitSignal(relay(loader.loaded).fired, timeout=30_000) as first:
        loader.request_load(str(tiny_model_dir))
    assert stages == ["Model ready"]  # no loading stages: it was ready
    with qtbot.waitSignal(relay(loader.loaded).fired, timeout=30_000) as second:
        loader.request_load(str(tiny_model_dir))
    assert second.args[0][1] is not first.args[0][1] and len(stages) > 2


def test_a_prepared_model_for_another_backend_is_not_used(qtbot, loader: ModelLoaderWorker,
                                                         tiny_model_dir: Path) -> None:
    loader.prepare(str(tiny_model_dir), "torch")
    loader.backend = "llamacpp"  # the writer's settings changed before the window asked
    with qtbot.waitSignal(relay(loader.loaded).fired, timeout=60_000) as loaded:
        loader.request_load(str(tiny_model_dir))
    assert loaded.args[0][1].backend == "llamacpp"
