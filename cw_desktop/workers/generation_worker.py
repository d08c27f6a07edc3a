"""The suggestion worker: owns the engine in its own QThread for the life of the app.

The GUI thread calls the thread-safe `submit_*` / `cancel` methods; they return request ids at
once and queue the work into this worker's thread. Results come back as signals tagged with the
request id, so the GUI can ignore answers to questions it no longer asks.

Cancelling is a flag, not a queued signal: a queued "stop" would wait behind the very generation
it is meant to stop. The engine polls `should_stop` every decoding step, so a cancel set from the
GUI thread takes effect within one token.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.rewrite_request import RewriteRequest
from cw_desktop.core.story_context import StoryContext, as_story
from cw_desktop.workers.threads import Worker

# The folder read for the project vocabulary while the writer waits: indexing holds up the next
# suggestion, ~1.5 s for 2 MB (~500k tokens of SmolLM2 on 2 busy cores; 8 MB took 6 s). 2 MB is
# a few novels: a writer's own project folder fits, a library of downloads does not stall them.
PROJECT_MAX_FILES = 100
PROJECT_MAX_BYTES = 2_000_000

if TYPE_CHECKING:  # the engine is loaded lazily, in the worker thread
    from cw_desktop.ml.engine import Engine
    from cw_desktop.ml.loading import LoadedModel


def model_info(loaded: "LoadedModel") -> dict[str, Any]:
    """What the GUI shows about a model (plain data: the model object stays in the worker)."""
    return {"spec": loaded.spec, "name": loaded.display_name, "folder": str(loaded.folder),
            "context_length": loaded.context_length, "load_seconds": loaded.load_seconds,
            "provenance": dict(loaded.provenance), "backend": loaded.backend, "backend_note": loaded.backend_note}


class GenerationWorker(Worker):
    """failed(request id, message) comes from Worker; cancel(request) stops one request, cancel() all."""

    model_installed = Signal(dict)  # model_info() of the model now answering requests
    install_failed = Signal(str)  # message: the previous model (if any) stays in use
    token = Signal(int, int, str)  # request id, alternative index, text of that alternative so far
    suggestions_ready = Signal(int, list, float)  # request id, [Suggestion], seconds taken
    budget_ready = Signal(int, object)  # request id, TokenBudget
    write_token = Signal(int, str)  # request id, the whole text so far (starting with the prompt)
    write_finished = Signal(int, object)  # request id, Suggestion
    rewrite_token = Signal(int, str)  # request id, the rewritten passage so far (cleaned)
    rewrite_finished = Signal(int, object)  # request id, RewriteResult
    cancelled = Signal(int, int)  # request id, tokens streamed after the cancel was requested
    project_changed = Signal(str, int)  # the document whose folder now feeds suggestions ("": none), files indexed
    threads_changed = Signal(int)  # torch threads decoding now uses (fewer while a fine-tune runs beside it)

    # Internal: carry a request into the worker's thread (queued connections).
    _install_requested = Signal(object)
    _suggest_requested = Signal(int, str, object, object)  # request id, draft, GenerationSettings, StoryContext
    # request id, form, title, max_new_tokens | None, memory, banned phrases
    _write_requested = Signal(int, str, str, object, str, object)
    _budget_requested = Signal(int, str, object, object)
    _rewrite_requested = Signal(int, object)  # request id, RewriteRequest
    _project_requested = Signal(object)  # Path of the open document | None
    _threads_requested = Signal(object)  # int | None (None: back to the count before the first change)
    adapter_changed = Signal(dict)  # ml.adapters.AdapterServing.serve's account: adapter, strength, seconds, note
    _adapter_requested = Signal(object, float, object)  # adapter folder (str) | None, strength, AppPaths | None

    def __init__(self) -> None:
        super().__init__()
        self._generator: Engine | None = None
        self._lock = threading.Lock()
        self._last_id = 0
        self._forced_id: int | None = None
        # The newest request of each kind that a newer one supersedes ("suggest", "budget").
        self._latest: dict[str, int] = {"suggest": 0, "budget": 0}
        self._active: set[int] = set()  # submitted, not finished: the only ids a cancel can still affect
        self._cancelled: set[int] = set()
        # The project vocabulary (ml/project_ngrams.py): the document whose folder the writer is in now,
        # and the texts read for the one last indexed (kept to index them again for a new model).
        self._project_wanted: Path | None = None
        self._project_document: Path | None = None
        self._project_files: list[Any] = []  # ml.project_ngrams.ProjectFile
        self._install_requested.connect(self._install)
        self._suggest_requested.connect(self._suggest)
        self._write_requested.connect(self._write)
        self._rewrite_requested.connect(self._rewrite)
        self._budget_requested.connect(self._budget)
        self._project_requested.connect(self._set_project)
        self._threads_requested.connect(self._set_threads)
        self._threads_before: int | None = None
        # Threads asked for while a fine-tune runs (None: all): every engine that answers later gets them too.
        self._threads_wanted: int | None = None
        self._installed: Any = None  # the generator of the installed model, when an adapter answers instead
        self._adapters: Any = None  # ml.adapters.AdapterServing, made at the first adapter
        self._adapter_requested.connect(self._set_adapter)

    # -- called from the GUI thread (thread-safe) -------------------------------------------------
    def _new_id(self, superseding: str | None = None) -> int:
        with self._lock:
            # In the inference process the window chose the id (workers/inference_process.py).
            self._last_id = self._forced_id if self._forced_id is not None else self._last_id + 1
            self._active.add(self._last_id)
            if superseding is not None:
                self._latest[superseding] = self._last_id
            return self._last_id

    def install(self, loaded: "LoadedModel") -> None:
        """Serve requests with `loaded` from now on (the previous model is released)."""
        self._install_requested.emit(loaded)

    def submit_suggest(self, context: str, settings: GenerationSettings, story: StoryContext | str = "", *,
                       memory: str = "") -> int:
        """Ask for a continuation of `context` under `story` (Memory, lorebook, author's note; a plain
        string is the Memory alone); supersedes (cancels) any earlier suggestion request."""
        request = self._new_id("suggest")
        self._suggest_requested.emit(request, context, settings.validated(), _snapshot(story or memory))
        return request

    def submit_write(self, form: str, title: str, max_new_tokens: int | None = None, memory: str = "",
                     banned_phrases: list[str] | None = None) -> int:
        """Write a new piece (poem / dialogue / story) from a title or first line, with the form's own
        settings (ml.generation.form_prompt), at most `max_new_tokens` when given, and never one of
        the writer's `banned_phrases`."""
        request = self._new_id()
        self._write_requested.emit(request, form, title, max_new_tokens, memory, list(banned_phrases or []))
        return request

    def submit_rewrite(self, request: RewriteRequest) -> int:
        """Rewrite the selected passage as `request` asks (ml/rewrite.py): rewrite_token streams the
        cleaned text, rewrite_finished ends it; cancel(id) stops it. A newer suggestion does not."""
        request_id = self._new_id()
        self._rewrite_requested.emit(request_id, request)
        return request_id

    def submit_budget(self, context: str, settings: GenerationSettings, story: StoryContext | str = "", *,
                      memory: str = "") -> int:
        request = self._new_id("budget")
        self._budget_requested.emit(request, context, settings.validated(), _snapshot(story or memory))
        return request

    def submit_project(self, document: Path | None) -> None:
        """Suggest the writer's own names and phrases from the other manuscripts beside `document`
        (None, e.g. a new document with no folder yet: stop). The folder is read in the worker's
        thread, after any request already queued; only the newest document asked for is indexed."""
        with self._lock:
            self._project_wanted = document
        self._project_requested.emit(document)

    def set_adapter(self, folder: str | None, strength: float = 1.0, paths: Any = None) -> None:
        """Answer with the LoRA adapter in `folder` at `strength` (0-1.5) beside its base, or with
        the installed model alone (None). Plain data in; `adapter_changed` or `failed` answers."""
        self._adapter_requested.emit(folder, float(strength), paths)

    def set_training_running(self, running: bool) -> None:
        """Decode with fewer threads while a fine-tune runs beside the editor, as many as before once
        it ends (the split of ml.plan.editor_threads_while_training; docs/benchmarks.md section 5)."""
        from cw_desktop.ml.plan import editor_threads_while_training

        self._threads_requested.emit(editor_threads_while_training() if running else None)

    def cancel(self, request: int | None = None) -> None:
        """Stop `request` (every unfinished request when None) as soon as possible: within one
        decoding step if it is running."""
        with self._lock:
            if request is None:
                self._cancelled.update(self._active)
            elif request in self._active:
                self._cancelled.add(request)

    def is_stopped(self, request: int, *, superseded_by_newer: bool = True) -> bool:
        with self._lock:
            return request in self._cancelled or (superseded_by_newer and request != self._latest["suggest"])

    @property
    def has_model(self) -> bool:
        return self._generator is not None

    # -- run in the worker thread -----------------------------------------------------------------
    @Slot(object)
    def _set_threads(self, threads: int | None) -> None:
        self._threads_wanted = threads
        if self._generator is not None:  # no model yet: the engine installed next gets them
            self._apply_threads(self._generator)

    def _apply_threads(self, generator: Any) -> None:
        threads = self._threads_wanted
        set_threads = getattr(generator, "set_threads", None)
        if set_threads is not None:  # llama.cpp: the engine's own context (no torch in this process)
            self.threads_changed.emit(set_threads(threads))
            return
        # torch's thread count is per calling thread once it has run an op: set it here, not in the GUI.
        import torch

        if threads is not None:
            if self._threads_before is None:
                self._threads_before = torch.get_num_threads()
            torch.set_num_threads(threads)
        elif self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None
        self.threads_changed.emit(torch.get_num_threads())

    @Slot(object)
    def _install(self, loaded: "LoadedModel") -> None:
        try:
            from cw_desktop.ml.backends import make_generator

            generator = make_generator(loaded)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the writer, not kill the thread
            traceback.print_exc()
            self.install_failed.emit(f"The model {loaded.display_name} could not be used: {exc}")
            return
        self._generator = self._installed = generator
        if self._threads_wanted is not None:  # a fine-tune runs: a fresh engine would take every core
            self._apply_threads(generator)
        if self._project_files:
            self._index_project(self._project_files)  # the new model has its own tokens
        self.model_installed.emit(model_info(loaded))

    @Slot(object, float, object)
    def _set_adapter(self, folder: str | None, strength: float, paths: Any) -> None:
        try:
            from cw_desktop.ml.adapters import AdapterServing

            if self._adapters is None:
                self._adapters = AdapterServing(paths)
            generator, account = self._adapters.serve(self._installed, folder, strength)
        except Exception as exc:  # noqa: BLE001 - the installed model keeps answering
            from cw_desktop.ml.loading import ModelLoadError

            self.report_failure(folder or "", exc, expected=(ModelLoadError,))
            return
        if generator is not None and generator is not self._generator:
            self._generator = generator
            self._apply_threads(generator)  # llama.cpp and torch each keep their own count
            self._index_project(self._project_files)
        self.adapter_changed.emit(account)

    @Slot(object)
    def _set_project(self, document: Path | None) -> None:
        with self._lock:
            if document != self._project_wanted:
                return  # the writer has moved on to another document: index that one instead
        if document == self._project_document:
            return
        from cw_desktop.ml.project_ngrams import project_files

        # Bounded, and only supported, regular, non-hidden files, opened read-only (project_files).
        files = (project_files(document.parent, exclude=document, max_files=PROJECT_MAX_FILES,
                               max_bytes=PROJECT_MAX_BYTES) if document is not None else [])
        self._project_document, self._project_files = document, files
        indexed = self._index_project(files)
        self.project_changed.emit(str(document) if document is not None else "", indexed)

    def _index_project(self, files: list[Any]) -> int:
        """The folder's files into the engine's project vocabulary, less any the model was
        fine-tuned on (Engine.set_project_files); how many went in."""
        if self._generator is None:
            return len(files)
        try:
            return self._generator.set_project_files(files)
        except Exception:  # noqa: BLE001 - the project vocabulary only adds to suggestions; never stop them
            traceback.print_exc()
            return 0

    def _serve(self, request: int, job: Callable[..., None], *args: Any) -> None:
        """Run one request's job; afterwards the request is over (a cancel can no longer affect it)."""
        try:
            job(request, *args)
        finally:
            self._done(request)

    def _can_start(self, request: int, *, superseded_by_newer: bool = True) -> bool:
        """False (and the request answered: cancelled, or failed for want of a model) when a job
        should not run at all."""
        if self.is_stopped(request, superseded_by_newer=superseded_by_newer):
            self._finish_cancelled(request, 0)
            return False
        if self._generator is None:
            self.failed.emit(request, "No model is loaded yet")
            return False
        return True

    def _done(self, request: int) -> None:
        with self._lock:
            self._active.discard(request)
            self._cancelled.discard(request)

    @Slot(int, str, object, object)
    def _suggest(self, request: int, context: str, settings: GenerationSettings, story: StoryContext) -> None:
        self._serve(request, self._run_suggest, context, settings, story)

    def _run_suggest(self, request: int, context: str, settings: GenerationSettings, story: StoryContext) -> None:
        if not self._can_start(request):
            return
        tokens_after_stop = 0

        def on_token(index: int, text: str) -> None:
            nonlocal tokens_after_stop
            if self.is_stopped(request):
                tokens_after_stop += 1
                return
            self.token.emit(request, index, text)

        started = time.perf_counter()
        try:
            self.budget_ready.emit(request, self._generator.budget(context, settings, story))
            suggestions = self._generator.suggest(context, settings, story=story, on_token=on_token,
                                                  should_stop=lambda: self.is_stopped(request))
        except Exception as exc:  # noqa: BLE001
            self._report_failure(request, exc)
            return
        if self.is_stopped(request):
            self._finish_cancelled(request, tokens_after_stop)
        else:
            self.suggestions_ready.emit(request, suggestions, time.perf_counter() - started)

    @Slot(int, str, str, object, str, object)
    def _write(self, request: int, form: str, title: str, max_new_tokens: int | None, memory: str,
               banned_phrases: list[str]) -> None:
        self._serve(request, self._run_write, form, title, max_new_tokens, memory, banned_phrases)

    def _run_write(self, request: int, form: str, title: str, max_new_tokens: int | None, memory: str,
                   banned_phrases: list[str] | None = None) -> None:
        if not self._can_start(request, superseded_by_newer=False):
            return
        try:
            from cw_desktop.ml.engine import form_prompt

            prompt, settings = form_prompt(form, title, chat=self._generator.has_chat_template)

            def on_token(_index: int, text: str) -> None:
                self.write_token.emit(request, prompt + text)

            if max_new_tokens is not None:
                settings = dataclasses.replace(settings, max_new_tokens=max_new_tokens).validated()
            if banned_phrases:
                settings = dataclasses.replace(settings, banned_phrases=list(banned_phrases)).validated()
            result = self._generator.write(prompt, settings, memory=memory, on_token=on_token, form=form,
                                           should_stop=lambda: self.is_stopped(request, superseded_by_newer=False))
            # The new document starts with the title / first line the writer gave.
            result.text = prompt + result.text
        except Exception as exc:  # noqa: BLE001
            self._report_failure(request, exc)
            return
        self.write_finished.emit(request, result)

    @Slot(int, object)
    def _rewrite(self, request: int, rewrite: RewriteRequest) -> None:
        self._serve(request, self._run_rewrite, rewrite)

    def _run_rewrite(self, request: int, rewrite: RewriteRequest) -> None:
        stopped = lambda: self.is_stopped(request, superseded_by_newer=False)  # noqa: E731
        if not self._can_start(request, superseded_by_newer=False):
            return
        try:
            from cw_desktop.ml.rewrite import run_rewrite

            result = run_rewrite(self._generator, rewrite, should_stop=stopped,
                                 on_text=lambda text: None if stopped() else self.rewrite_token.emit(request, text))
        except ValueError as exc:  # the passage does not fit the model: the message is for the writer
            self.failed.emit(request, str(exc))
            return
        except Exception as exc:  # noqa: BLE001
            self._report_failure(request, exc)
            return
        if result.finish_reason == "cancelled":
            self._finish_cancelled(request, 0)
        else:
            self.rewrite_finished.emit(request, result)

    @Slot(int, str, object, object)
    def _budget(self, request: int, context: str, settings: GenerationSettings, story: StoryContext) -> None:
        self._serve(request, self._run_budget, context, settings, story)

    def _run_budget(self, request: int, context: str, settings: GenerationSettings, story: StoryContext) -> None:
        with self._lock:
            if request != self._latest["budget"]:
                return  # a newer question is already queued behind this one
        if self._generator is None:
            return
        try:
            self.budget_ready.emit(request, self._generator.budget(context, settings, story))
        except Exception as exc:  # noqa: BLE001
            self._report_failure(request, exc)

    def _finish_cancelled(self, request: int, tokens_after_stop: int) -> None:
        self.cancelled.emit(request, tokens_after_stop)

    def _report_failure(self, request: int, exc: Exception) -> None:
        self.report_failure(request, exc, prefix="Generation failed: ")


def _snapshot(story: StoryContext | str) -> StoryContext:
    """A copy the worker's thread owns: the GUI goes on editing its own StoryContext meanwhile."""
    return copy.deepcopy(as_story(story))
