"""The "sounds like you" worker: scores a document's paragraphs with a fine-tune against its base.

It owns its own copies of the two models (or one model and its adapter) in its own QThread, so the
suggestion engine never waits for it and the GUI thread never runs a model. Requests and answers
are plain data: (document key, text, model spec) in, [(start, end, score)] out. A newer request
supersedes any older one still running: scoring stops between two blocks of paragraphs, and the
scores it already has stay cached, so only new or edited paragraphs are scored again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.threads import Worker

if TYPE_CHECKING:  # torch: only the worker's thread imports it
    from cw_desktop.ml.voice import VoiceScorer

# Paragraphs scored between two partial answers: the gutter fills in as the manuscript is read.
SLICE_PARAGRAPHS = 40


class VoiceWorker(Worker):
    """failed(request id, message) comes from Worker."""

    # request id, document key, [(start, end, score | None)], done (False: more slices follow)
    scores_ready = Signal(int, str, list, bool)
    status = Signal(str)  # for the status bar: loading the models, how long scoring took
    models_ready = Signal(str, str)  # fine-tune name, base name

    _score_requested = Signal(int, str, str, str)  # request id, document key, text, model spec

    def __init__(self, paths: AppPaths | None = None) -> None:
        super().__init__()
        self.paths = paths
        self._lock = threading.Lock()
        self._last_id = 0
        # Set by the inference process (workers/inference_child.py) to the id the window already
        # handed out, so both ends name a request alike.
        self._forced_id: int | None = None
        self._scorer: VoiceScorer | None = None
        self._spec = ""
        self.last_seconds = 0.0  # what the last finished request took (tests and the status bar)
        self._score_requested.connect(self._score)

    # -- called from the GUI thread -----------------------------------------------------------------
    def submit_score(self, document: str, text: str, model_spec: str) -> int:
        """Score `text`'s paragraphs with the fine-tune `model_spec`; supersedes earlier requests."""
        with self._lock:
            self._last_id = max(self._last_id + 1, self._forced_id or 0)
            request = self._last_id
        self._score_requested.emit(request, document, text, model_spec)
        return request

    def cancel(self, request: int | None = None) -> None:
        """Stop the running request (any: they supersede each other) between two blocks."""
        with self._lock:
            self._last_id += 1  # no submitted request is the newest any more

    def is_stopped(self, request: int) -> bool:
        with self._lock:
            return request != self._last_id

    # -- in the worker thread --------------------------------------------------------------------------
    @Slot(int, str, str, str)
    def _score(self, request: int, document: str, text: str, spec: str) -> None:
        if self.is_stopped(request):
            return
        try:
            self._run(request, document, text, spec)
        except Exception as exc:  # noqa: BLE001 - any failure reaches the writer, the thread lives on
            from cw_desktop.ml.loading import ModelLoadError

            self.report_failure(request, exc, expected=(ModelLoadError, ValueError))

    def _run(self, request: int, document: str, text: str, spec: str) -> None:
        from cw_desktop.ml.voice import VoiceCancelled, load_voice_models, scorer_for, split_paragraphs

        if self._scorer is None or spec != self._spec:
            self._scorer = None  # release the previous pair before loading the next
            self.status.emit("Sounds like you: loading the fine-tune and its base…")
            models = load_voice_models(spec, self.paths)
            self._scorer, self._spec = scorer_for(models), spec
            self.models_ready.emit(models.name, models.base_name)
        scorer = self._scorer
        paragraphs = split_paragraphs(text)
        started = time.perf_counter()
        done: list[tuple[int, int, float | None]] = []
        try:
            for first in range(0, max(1, len(paragraphs)), SLICE_PARAGRAPHS):
                chunk = paragraphs[first:first + SLICE_PARAGRAPHS]
                fresh = scorer.missing(chunk)
                scores = scorer.score(chunk, should_stop=lambda: self.is_stopped(request))
                done += [(s.start, s.end, s.score) for s in scores]
                last = first + SLICE_PARAGRAPHS >= len(paragraphs)
                if fresh or last:  # an all-cached slice is not worth a repaint of its own
                    self.scores_ready.emit(request, document, list(done), last)
        except VoiceCancelled:
            return
        self.last_seconds = time.perf_counter() - started

    def scorer(self) -> Any:
        """The scorer in use (tests read its cache)."""
        return self._scorer
