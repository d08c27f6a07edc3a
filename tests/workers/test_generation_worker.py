"""The generation worker: requests answered off the GUI thread, cancels that land within a token."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QThread

from cw_desktop.core.generation_settings import preset
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.threads import start_in_thread, stop_thread
from signal_relay import relay

LONG = preset("prose", max_new_tokens=200, stop="none", alternatives=1, seed=1)


def test_suggestions_stream_then_arrive_with_alternatives(qtbot, worker: GenerationWorker) -> None:
    streamed: list[tuple[int, int, str]] = []
    worker.token.connect(lambda *args: streamed.append(args))
    threads: list[QThread] = []
    worker.token.connect(lambda *args: threads.append(QThread.currentThread()))
    with qtbot.waitSignal(relay(worker.suggestions_ready).fired, timeout=20_000) as ready:
        request = worker.submit_suggest("The storm broke over the",
                                        preset("prose", alternatives=3, seed=3, stop="none"))
    got_request, suggestions, seconds = ready.args[0]
    assert got_request == request and len(suggestions) == 3 and seconds > 0
    assert all(s.text for s in suggestions)
    assert streamed and {r for r, _, _ in streamed} == {request}
    # The text streamed for alternative 0 grows into exactly what was delivered.
    assert [t for _, i, t in streamed if i == 0][-1] == suggestions[0].text


def test_cancel_stops_within_a_token(qtbot, worker: GenerationWorker) -> None:
    with qtbot.waitSignal(relay(worker.token).fired, timeout=20_000):
        request = worker.submit_suggest("Once upon a time", LONG)
    worker.cancel(request)
    with qtbot.waitSignal(relay(worker.cancelled).fired, timeout=20_000) as cancelled:
        pass
    assert cancelled.args[0][0] == request
    assert cancelled.args[0][1] <= 1  # at most the step already running when the flag was set


def test_newer_request_supersedes_older_one(qtbot, worker: GenerationWorker) -> None:
    answered: list[int] = []
    worker.suggestions_ready.connect(lambda r, s, t: answered.append(r))
    with qtbot.waitSignal(relay(worker.cancelled).fired, timeout=20_000) as cancelled:
        first = worker.submit_suggest("Once upon a time", LONG)
        second = worker.submit_suggest("Once upon a time there", replace(LONG, max_new_tokens=4))
    assert cancelled.args[0][0] == first
    qtbot.waitUntil(lambda: second in answered, timeout=20_000)
    assert first not in answered


def test_budget_and_write(qtbot, worker: GenerationWorker) -> None:
    with qtbot.waitSignal(relay(worker.budget_ready).fired, timeout=20_000) as budget:
        worker.submit_budget("word " * 50, preset("prose"), memory="Jane is proud.")
    assert budget.args[0][1].memory > 0 and budget.args[0][1].draft > 0 and budget.args[0][1].window == 256
    pieces: list[str] = []
    worker.write_token.connect(lambda r, text: pieces.append(text))
    with qtbot.waitSignal(relay(worker.write_finished).fired, timeout=30_000) as finished:
        worker.submit_write("poem", "The Sea", 20)
    result = finished.args[0][1]
    assert result.text.startswith("The Sea\n\n") and pieces
    assert pieces[-1].rstrip(" \t") == result.text  # the stream grew into the result (trailing blanks tidied)


def test_no_model_is_a_clear_failure(qtbot) -> None:
    worker = GenerationWorker()
    thread = start_in_thread(worker, "test-empty")
    try:
        with qtbot.waitSignal(relay(worker.failed).fired, timeout=5_000) as failed:
            worker.submit_suggest("Hello", preset("prose"))
        assert "No model" in failed.args[0][1]
    finally:
        assert stop_thread(thread)


def test_cancelling_finished_requests_leaves_nothing_behind(qtbot, worker: GenerationWorker) -> None:
    for _ in range(3):
        with qtbot.waitSignal(relay(worker.suggestions_ready).fired, timeout=20_000) as ready:
            worker.submit_suggest("Once", preset("prose", max_new_tokens=2))
        worker.cancel(ready.args[0][0])  # what the editor does when a shown suggestion ends
    qtbot.waitUntil(lambda: not worker._active, timeout=5_000)
    assert worker._cancelled == set()


def test_the_open_documents_folder_feeds_suggestions_and_is_read_off_the_gui_thread(
        qtbot, worker: GenerationWorker, tmp_path, monkeypatch) -> None:
    import threading

    from cw_desktop.core.generation_settings import GenerationSettings
    from cw_desktop.ml import readers

    (tmp_path / "chapter1.txt").write_text("The carriage stopped at Quillerbrook Hall at noon. " * 3, encoding="utf-8")
    document = tmp_path / "chapter2.txt"
    document.write_text("The open document.", encoding="utf-8")
    reads: list[tuple[str, int]] = []
    original = readers.read_bytes_readonly

    def recording_reader(path, *args, **kwargs):
        reads.append((path.name, threading.get_ident()))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(readers, "read_bytes_readonly", recording_reader)
    greedy = GenerationSettings(max_new_tokens=8, temperature=0.0, stop="none", repetition_penalty=1.0, alternatives=1)

    def first_suggestion() -> str:
        with qtbot.waitSignal(relay(worker.suggestions_ready).fired, timeout=20_000) as ready:
            worker.submit_suggest("She was driven to Quillerbrook", greedy)
        return ready.args[0][1][0].text

    assert not first_suggestion().startswith(" Hall")  # the tiny model alone does not know the name
    with qtbot.waitSignal(relay(worker.project_changed).fired, timeout=20_000) as indexed:
        worker.submit_project(document)
    assert indexed.args[0] == (str(document), 1)  # the sibling; the open document is read live instead
    assert first_suggestion().startswith(" Hall")
    assert [name for name, _ in reads] == ["chapter1.txt"]
    assert all(thread != threading.get_ident() for _, thread in reads)  # never on the GUI (test) thread
    with qtbot.waitSignal(relay(worker.project_changed).fired, timeout=20_000) as cleared:
        worker.submit_project(None)  # e.g. a new document that has no folder yet
    assert cleared.args[0] == ("", 0)
    assert not first_suggestion().startswith(" Hall")


def test_a_big_folder_is_read_only_up_to_the_cap(qtbot, worker: GenerationWorker, tmp_path, monkeypatch) -> None:
    from cw_desktop.workers import generation_worker

    monkeypatch.setattr(generation_worker, "PROJECT_MAX_FILES", 3)
    for number in range(8):
        (tmp_path / f"chapter{number}.txt").write_text(f"Chapter {number} of the saga.", encoding="utf-8")
    with qtbot.waitSignal(relay(worker.project_changed).fired, timeout=20_000) as indexed:
        worker.submit_project(tmp_path / "chapter0.txt")
    assert indexed.args[0][1] == 3


def test_suggestions_use_fewer_threads_while_a_fine_tune_runs_then_as_many_as_before(
        qtbot, worker: GenerationWorker) -> None:
    from cw_desktop.ml.plan import editor_threads_while_training

    with qtbot.waitSignal(relay(worker.threads_changed).fired, timeout=20_000) as before:
        worker.set_training_running(False)  # nothing to restore: reports the count in use
    with qtbot.waitSignal(relay(worker.threads_changed).fired, timeout=20_000) as during:
        worker.set_training_running(True)
    assert during.args[0][0] == editor_threads_while_training()
    with qtbot.waitSignal(relay(worker.suggestions_ready).fired, timeout=20_000) as ready:
        worker.submit_suggest("The storm broke over the", preset("prose", seed=3))
    assert ready.args[0][1]  # still answering, on the smaller share of the cores
    with qtbot.waitSignal(relay(worker.threads_changed).fired, timeout=20_000) as after:
        worker.set_training_running(False)
    assert after.args[0][0] == before.args[0][0]


def test_a_written_piece_gets_the_writers_banned_phrases(qtbot, worker: GenerationWorker, monkeypatch) -> None:
    seen: list = []
    original = worker._generator.write

    def spy(prompt, settings, **kwargs):
        seen.append(settings)
        return original(prompt, settings, **kwargs)

    monkeypatch.setattr(worker._generator, "write", spy)
    with qtbot.waitSignal(relay(worker.write_finished).fired, timeout=30_000):
        worker.submit_write("poem", "The Sea", 12, banned_phrases=["suddenly", " Suddenly "])
    assert seen and seen[0].banned_phrases == ["suddenly"] and seen[0].max_new_tokens == 12


def test_a_model_installed_while_a_fine_tune_runs_decodes_on_the_smaller_share(qtbot, monkeypatch) -> None:
    """The fine-tune may start before the model has loaded (or while an adapter answers): the engine
    that answers next must still leave the trainer its cores, and get them all back afterwards."""
    from types import SimpleNamespace

    from cw_desktop.ml import backends
    from cw_desktop.ml.plan import editor_threads_while_training

    class Engine:  # the llama.cpp engine's thread control, without a model
        def __init__(self) -> None:
            self.threads: list[int | None] = []

        def set_threads(self, threads: int | None) -> int:
            self.threads.append(threads)
            return threads or 2

    engine = Engine()
    monkeypatch.setattr(backends, "make_generator", lambda loaded: engine)
    loaded = SimpleNamespace(spec="fake", display_name="fake", folder="fake", context_length=64, load_seconds=0.0,
                             provenance={}, backend="llamacpp", backend_note="")
    worker = GenerationWorker()
    thread = start_in_thread(worker, "test-generation")
    try:
        worker.set_training_running(True)  # before any model: nothing to report yet
        with qtbot.waitSignal(relay(worker.model_installed).fired, timeout=20_000):
            worker.install(loaded)
        assert engine.threads == [editor_threads_while_training()]
        with qtbot.waitSignal(relay(worker.threads_changed).fired, timeout=20_000):
            worker.set_training_running(False)
        assert engine.threads[-1] is None
    finally:
        assert stop_thread(thread)
