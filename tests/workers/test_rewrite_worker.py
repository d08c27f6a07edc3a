"""submit_rewrite on the generation worker: streamed, finished, cancelled by id, failures reported."""

from __future__ import annotations



from cw_desktop.core.rewrite_request import RewriteRequest
from cw_desktop.workers.generation_worker import GenerationWorker
from signal_relay import relay

PASSAGE = "The rain fell on the old roof all night."


def test_rewrite_streams_then_finishes(qtbot, worker: GenerationWorker) -> None:
    streamed = relay(worker.rewrite_token)
    pieces: list[tuple] = []
    streamed.fired.connect(pieces.append)
    with qtbot.waitSignal(relay(worker.rewrite_finished).fired, timeout=30_000) as finished:
        request = worker.submit_rewrite(RewriteRequest("rewrite", PASSAGE, seed=2, max_new_tokens=20))
    got_request, result = finished.args[0]
    assert got_request == request and result.tokens > 0 and not result.chat
    qtbot.waitUntil(lambda: bool(pieces), timeout=5_000)
    assert {p[0] for p in pieces} == {request}
    assert pieces[-1][1].strip() == result.text.strip()


def test_cancel_stops_a_rewrite_and_a_newer_suggestion_does_not(qtbot, worker: GenerationWorker) -> None:
    from cw_desktop.core.generation_settings import preset

    long = RewriteRequest("expand", PASSAGE, seed=1, max_new_tokens=180)
    finished: list[int] = []
    worker.rewrite_finished.connect(lambda r, _result: finished.append(r))
    with qtbot.waitSignal(relay(worker.rewrite_token).fired, timeout=30_000):
        request = worker.submit_rewrite(long)
    worker.submit_suggest("Once upon", preset("prose", max_new_tokens=2))  # queued behind; supersedes nothing
    worker.cancel(request)
    with qtbot.waitSignal(relay(worker.cancelled).fired, timeout=30_000,
                          check_params_cb=lambda args: args[0] == request):
        pass
    assert request not in finished


def test_a_passage_too_long_for_the_window_fails_with_a_reason(qtbot, worker: GenerationWorker) -> None:
    with qtbot.waitSignal(relay(worker.failed).fired, timeout=30_000) as failed:
        request = worker.submit_rewrite(RewriteRequest("rewrite", PASSAGE * 25))
    assert failed.args[0][0] == request and "too long" in failed.args[0][1]


def test_a_rewrite_crosses_to_the_model_process_and_back(qtbot, app_paths, tiny_model_dir, tiny_loaded) -> None:
    """With the model in its own process the same request (plain data) gives the same rewrite."""
    from cw_desktop.ml.generation import Generator
    from cw_desktop.ml.rewrite import run_rewrite
    from cw_desktop.workers.inference_process import InferenceProcess, RemoteGenerationWorker, RemoteModelLoader

    process = InferenceProcess(app_paths, preload=False)
    process.start()
    try:
        generation, loader = RemoteGenerationWorker(process), RemoteModelLoader(process, app_paths)
        loader.backend = "torch"
        with qtbot.waitSignal(loader.loaded, timeout=60_000) as loaded:
            loader.request_load(str(tiny_model_dir))
        with qtbot.waitSignal(generation.model_installed, timeout=30_000):
            generation.install(loaded.args[1])
        rewrite = RewriteRequest("shorten", PASSAGE, seed=4, max_new_tokens=16)
        with qtbot.waitSignal(generation.rewrite_finished, timeout=30_000) as finished:
            request = generation.submit_rewrite(rewrite)
        assert finished.args[0] == request
        assert finished.args[1].text == run_rewrite(Generator(tiny_loaded), rewrite).text
        assert request not in generation._outstanding  # rewrite_finished ends the request for the stand-in
    finally:
        process.stop()
