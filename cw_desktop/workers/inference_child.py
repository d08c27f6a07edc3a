"""The inference process's own main (workers/inference_process.py starts it; never run by hand).

    python -m cw_desktop.workers.inference_child READ_FD WRITE_FD

The main thread reads the window's calls from READ_FD and applies them to the real
ModelLoaderWorker and GenerationWorker (and the voice gutter's VoiceWorker, made on the gutter's
first request), each in its QThread as in a single-process editor; every
public signal they emit is written to WRITE_FD from the emitting thread. A loaded model never
leaves this process: the loader's `loaded(spec, model)` goes out as `loaded(spec, key)` and the
window's install(key) finds the model here again.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.inference_process import (GENERATION_TARGET, LOADER_TARGET, VOICE_TARGET, public_signals,
                                                  read_frame, send_frame)
from cw_desktop.workers.model_loader import ModelLoaderWorker
from cw_desktop.workers.threads import start_in_thread
from cw_desktop.workers.voice_worker import VoiceWorker


class _Preloader(QObject):
    """Imports what the first model load needs while the window is still being built (other core).

    It lives in the loader's thread, so a load request queues behind it: importing transformers
    from two threads at once fails half-way ("cannot import name 'AutoTokenizer'")."""

    run = Signal()

    def __init__(self, done: Callable[[], None], prepare: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._done = done
        self._prepare = prepare
        self.run.connect(self._run)

    @Slot()
    def _run(self) -> None:
        _preload()
        self._done()
        if self._prepare is not None:
            self._prepare()


def _preload() -> None:
    """What a load on llama.cpp needs. Not torch or transformers (5 s of imports): the llama.cpp
    engine and its tokenizer need neither, so only a model served by torch (no llama.cpp, an int8 or
    adapter model) pays for them, when it loads."""
    try:
        from cw_desktop.ml import engine, light_tokenizer  # noqa: F401
        from cw_desktop.ml.backends import llamacpp_available, selection  # noqa: F401

        if llamacpp_available():
            from cw_desktop.ml.backends import llamacpp  # noqa: F401
    except Exception:  # noqa: BLE001 - the load itself reports any real problem
        traceback.print_exc()


class Child:
    def __init__(self, write_fd: int) -> None:
        self._out = os.fdopen(write_fd, "wb")
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}  # spec -> LoadedModel, until the window installs it
        self.workers: dict[str, QObject] = {}
        self._threads: list[Any] = []
        self.paths: AppPaths | None = None

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            send_frame(self._out, message, self._lock)
        except (BrokenPipeError, ValueError, OSError):
            os._exit(0)  # the window is gone: nothing left to serve

    def start(self, paths: AppPaths) -> None:
        self.paths = paths
        loader = ModelLoaderWorker(paths)
        generation = GenerationWorker()
        self.workers = {LOADER_TARGET: loader, GENERATION_TARGET: generation}
        for target, worker in self.workers.items():
            for name in public_signals(type(worker)):
                if target == LOADER_TARGET and name == "loaded":
                    continue
                # Direct: runs in the emitting worker thread, so a token is on its way at once.
                getattr(worker, name).connect(self._forwarder(target, name), Qt.ConnectionType.DirectConnection)
        loader.loaded.connect(self._on_loaded, Qt.ConnectionType.DirectConnection)
        self._threads = [start_in_thread(loader, "cw-model-loader"), start_in_thread(generation, "cw-generation")]

    def start_voice(self) -> VoiceWorker:
        """The voice gutter's worker, made on its first use: a writer who never turns the gutter on
        pays nothing for it here (no thread, no voice models, no torch)."""
        voice = VoiceWorker(self.paths)
        for name in public_signals(VoiceWorker):
            getattr(voice, name).connect(self._forwarder(VOICE_TARGET, name), Qt.ConnectionType.DirectConnection)
        self.workers[VOICE_TARGET] = voice
        self._threads.append(start_in_thread(voice, "cw-voice"))
        return voice

    def preload(self, expect: tuple[str, str] | None = None) -> None:
        loader = self.workers[LOADER_TARGET]
        prepare = (lambda: loader.prepare(*expect)) if expect and isinstance(loader, ModelLoaderWorker) else None
        self._preloader = _Preloader(lambda: self.send(("ready",)), prepare)
        self._preloader.moveToThread(self._threads[0])
        self._preloader.run.emit()  # queued: runs in the loader's thread, before any load

    def _forwarder(self, target: str, name: str) -> Callable[..., None]:
        def forward(*args: Any) -> None:
            self.send(("signal", target, name, args))

        return forward

    def _on_loaded(self, spec: str, loaded: Any) -> None:
        self._loaded[spec] = loaded
        self.send(("signal", LOADER_TARGET, "loaded", (spec, spec)))

    def call(self, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             request: int | None) -> None:
        if target == VOICE_TARGET and target not in self.workers:
            if method == "cancel":
                return  # nothing to stop yet
            self.start_voice()
        worker = self.workers[target]
        if target == GENERATION_TARGET and method == "install":
            loaded = self._loaded.pop(args[0], None)
            if loaded is None:
                self.send(("signal", target, "install_failed", (f"The model {args[0]} is no longer loaded",)))
                return
            args = (loaded,)
        if isinstance(worker, (GenerationWorker, VoiceWorker)):
            worker._forced_id = request  # the window's id for whatever request this call makes
            try:
                getattr(worker, method)(*args, **kwargs)
            finally:
                worker._forced_id = None
        else:
            getattr(worker, method)(*args, **kwargs)

    def serve(self, read_fd: int) -> None:
        reader = os.fdopen(read_fd, "rb")
        while True:
            message = read_frame(reader)
            if message is None or message[0] == "quit":
                break
            kind = message[0]
            try:
                if kind == "init":
                    options, preload = message[1], message[2]
                    self.start(AppPaths.default(config=options["config"], data=options["data"],
                                                cache=options["cache"]))
                    if preload:
                        expect = options.get("expect")
                        self.preload(tuple(expect) if expect else None)
                elif kind == "call":
                    self.call(*message[1:])
                elif kind == "setattr":
                    setattr(self.workers[message[1]], message[2], message[3])
            except Exception:  # noqa: BLE001 - one bad call must not end the model process
                traceback.print_exc()
        self.shutdown()

    def shutdown(self) -> None:
        generation = self.workers.get(GENERATION_TARGET)
        if isinstance(generation, GenerationWorker):
            generation.cancel()
        voice = self.workers.get(VOICE_TARGET)
        if isinstance(voice, VoiceWorker):
            voice.cancel()  # scoring stops between two blocks of paragraphs
        for thread in self._threads:
            thread.quit()
        for thread in self._threads:
            if not thread.wait(2000):
                os._exit(0)  # a load cannot be interrupted; nothing here needs saving


def main(argv: list[str]) -> int:
    read_fd, write_fd = int(argv[0]), int(argv[1])
    app = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])  # noqa: F841 - QThreads need one
    child = Child(write_fd)
    child.serve(read_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: torch/llama.cpp at exit can be slow and have nothing to save


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
