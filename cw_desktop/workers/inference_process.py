"""The model in its own process: the editor's window never imports torch, and a crashing model
cannot take the writer's documents down with it.

Why a process and not only a thread: importing torch and transformers holds Python's GIL for
0.2-0.8 s at a time, and a thread in the same process stalls the window for that long while a
model loads (docs/benchmarks.md, section 3). In a child process those imports overlap with the
window being built (2 cores), and a segfault in a native runtime (llama.cpp, torch) ends the child,
not the editor: the window restarts it and reloads the model.

Shape: the child (workers/inference_child.py) runs the very same ModelLoaderWorker and
GenerationWorker in QThreads (and the voice gutter's VoiceWorker, once the gutter is first used).
In this process, `RemoteGenerationWorker`, `RemoteModelLoader` and `RemoteVoiceWorker`
stand in for them: same classes (subclasses), same signals, same public methods, so the
controllers do not know the difference. A public method call is forwarded as a message; every
public signal of the child's workers comes back as a message and is re-emitted here.

Request ids: the window needs a request id the moment it submits (to ignore stale answers), so
this side hands out the ids and the child's worker uses them (GenerationWorker._forced_id):
no round trip, no waiting on the child, ever, from the GUI thread.

Wire: two pipes, frames of a 4-byte length and a pickle. Pickle is safe here: both ends are this
program, and the pipes are private to the pair (inherited file descriptors, not a socket).
"""

from __future__ import annotations

import itertools
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from PySide6.QtCore import QObject, QTimer, Signal

from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.generation_worker import GenerationWorker
from cw_desktop.workers.model_loader import ModelLoaderWorker
from cw_desktop.workers.voice_worker import VoiceWorker

_HEADER = struct.Struct("!I")
# Signals whose first argument is a request id that ends the request (the child will say no more).
FINAL_SIGNALS = ("suggestions_ready", "budget_ready", "write_finished", "rewrite_finished", "cancelled", "failed")
GENERATION_TARGET = "generation"
LOADER_TARGET = "loader"
VOICE_TARGET = "voice"  # the "sounds like you" gutter's worker, made in the child on its first call


def send_frame(stream: BinaryIO, message: Any, lock: threading.Lock) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        stream.write(_HEADER.pack(len(data)) + data)
        stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    """The next message, or None at the end of the stream (the other side is gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - our own child, over a private pipe (see module docstring)


def public_signals(cls: type) -> list[str]:
    """Names of the public Qt signals of a worker class, including its bases'."""
    names = []
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if not name.startswith("_") and isinstance(value, Signal) and name not in names:
                names.append(name)
    return names


def public_methods(cls: type) -> list[str]:
    """The public methods a worker class defines itself, plus cancel(): what the window calls.

    Queries (is_stopped, has_model) are not forwarded: a forwarded call answers at once, without
    waiting for the child, so only commands can cross."""
    names = [name for name, value in vars(cls).items()
             if not name.startswith("_") and callable(value) and not isinstance(value, (Signal, staticmethod))]
    return [name for name in dict.fromkeys(names + ["cancel"]) if name not in QUERIES]


QUERIES = ("is_stopped", "has_model")


class InferenceProcess(QObject):
    """The child process that runs the model, and the message pump between it and the window."""

    died = Signal(str)  # why the child ended unexpectedly (it is restarted on the next start())
    ready = Signal()  # the child is up and has imported what a model load needs

    def __init__(self, paths: AppPaths, *, python: str | None = None, preload: bool = True,
                 expect: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.python = python or sys.executable
        self.preload = preload
        # (model spec, backend) the window will ask for first: the child loads it at once, side by side
        # with the window being built (first start only; a restart asks for the model right away).
        self.expect = expect
        self._process: subprocess.Popen[bytes] | None = None
        self._out: BinaryIO | None = None
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._handlers: dict[str, Callable[[str, tuple[Any, ...]], None]] = {}
        self._stopping = False
        self._generation = 0  # which child the reader thread serves (a restart starts a new one)

    # -- lifetime ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start (or restart) the child; returns at once, the child imports in the background."""
        self._stopping = False
        self._generation += 1
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        env = dict(os.environ)
        env.pop("QT_QPA_PLATFORM", None)  # the child shows nothing (QCoreApplication only)
        command = [self.python, "-m", "cw_desktop.workers.inference_child", str(to_child_read),
                   str(from_child_write)]
        self._process = subprocess.Popen(command, pass_fds=(to_child_read, from_child_write), env=env,
                                         stdin=subprocess.DEVNULL, close_fds=True)
        os.close(to_child_read)
        os.close(from_child_write)
        self._out = os.fdopen(to_child_write, "wb")
        reader = os.fdopen(from_child_read, "rb")
        self.send(("init", {"config": str(self.paths.config_dir), "data": str(self.paths.data_dir),
                            "cache": str(self.paths.cache_dir), "expect": self.expect}, self.preload))
        self.expect = None
        threading.Thread(target=self._pump, args=(reader, self._generation, self._process),
                         name="cw-inference-pump", daemon=True).start()

    def stop(self, timeout_s: float = 3.0) -> bool:
        """Ask the child to leave; kill it if it does not within `timeout_s`. True if it ended."""
        self._stopping = True
        process = self._process
        if process is None:
            return True
        try:
            self.send(("quit",))
        except (OSError, ValueError):
            pass
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(2)
        return True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- messages ----------------------------------------------------------------------------------
    def new_id(self) -> int:
        return next(self._ids)

    def send(self, message: tuple[Any, ...]) -> None:
        if self._out is None:
            raise RuntimeError("the inference process is not running")
        send_frame(self._out, message, self._send_lock)

    def call(self, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             request: int | None = None) -> None:
        try:
            self.send(("call", target, method, args, kwargs, request))
        except (OSError, ValueError, RuntimeError):
            pass  # the child is gone: the pump reports it (died) and the window restarts it

    def on_signal(self, target: str, handler: Callable[[str, tuple[Any, ...]], None]) -> None:
        self._handlers[target] = handler

    def _pump(self, reader: BinaryIO, generation: int, process: subprocess.Popen[bytes]) -> None:
        """Reader thread: re-emit the child's signals here (Qt queues them to the GUI thread)."""
        while True:
            try:
                message = read_frame(reader)
            except Exception as exc:  # noqa: BLE001 - a broken frame means a broken child
                message = None
                print(f"cw-desktop: bad message from the model process: {exc}", file=sys.stderr)
            if message is None:
                break
            kind = message[0]
            if kind == "signal":
                handler = self._handlers.get(message[1])
                if handler is not None:
                    handler(message[2], message[3])
            elif kind == "ready":
                self.ready.emit()
        reader.close()
        code = process.wait()
        if not self._stopping and generation == self._generation:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            self.died.emit(f"The model process stopped unexpectedly ({how})")


class _Remote:
    """Shared by the stand-ins: forward public calls, re-emit the child's public signals."""

    _target = ""
    _process: InferenceProcess

    def _attach(self, process: InferenceProcess, cls: type, forwarded: list[str]) -> None:
        self._process = process
        self._signal_names = set(public_signals(cls))
        process.on_signal(self._target, self._emit_remote)
        for name in forwarded:
            setattr(self, name, self._forwarder(name))

    def _forwarder(self, name: str) -> Callable[..., int]:
        def forward(*args: Any, **kwargs: Any) -> int:
            request = self._process.new_id()
            self._before_call(name, request, args)
            self._process.call(self._target, name, args, kwargs, request)
            return request

        forward.__name__ = name
        return forward

    def _before_call(self, name: str, request: int, args: tuple[Any, ...]) -> None:
        pass

    @property
    def process(self) -> InferenceProcess:
        return self._process

    def _emit_remote(self, name: str, args: tuple[Any, ...]) -> None:
        if name in self._signal_names:
            getattr(self, name).emit(*args)


class RemoteGenerationWorker(_Remote, GenerationWorker):
    """GenerationWorker whose work runs in the inference process (see module docstring)."""

    _target = GENERATION_TARGET

    def __init__(self, process: InferenceProcess) -> None:
        GenerationWorker.__init__(self)
        self._remote_model = False
        self._outstanding: set[int] = set()
        self._attach(process, GenerationWorker, public_methods(GenerationWorker))
        self.model_installed.connect(self._on_installed)
        for name in FINAL_SIGNALS:
            getattr(self, name).connect(self._on_final)
        process.died.connect(self._on_died)

    @property
    def has_model(self) -> bool:
        return self._remote_model

    def _before_call(self, name: str, request: int, args: tuple[Any, ...]) -> None:
        if name.startswith("submit_"):
            self._outstanding.add(request)

    def _on_installed(self, _info: dict[str, Any]) -> None:
        self._remote_model = True

    def _on_final(self, request: Any, *_rest: Any) -> None:
        self._outstanding.discard(request)

    def _on_died(self, message: str) -> None:
        """Every request still open fails (the writer sees why); the model must be loaded again."""
        self._remote_model = False
        for request in sorted(self._outstanding):
            self.failed.emit(request, message)
        self._outstanding.clear()


class RemoteModelLoader(_Remote, ModelLoaderWorker):
    """ModelLoaderWorker whose loads run in the inference process; `loaded` carries a key that the
    RemoteGenerationWorker's install() hands back to the child, where the model object stays."""

    _target = LOADER_TARGET

    def __init__(self, process: InferenceProcess, paths: AppPaths) -> None:
        ModelLoaderWorker.__init__(self, paths)
        self._attach(process, ModelLoaderWorker, public_methods(ModelLoaderWorker))

    def _before_call(self, name: str, request: int, args: tuple[Any, ...]) -> None:
        # The backend is a plain attribute the model controller sets before each load.
        self._process.send(("setattr", self._target, "backend", self.backend))


class RemoteVoiceWorker(_Remote, VoiceWorker):
    """VoiceWorker whose voice models load and score in the inference process, so turning the gutter
    on never imports torch in the window. Only its commands cross (submit_score, cancel): text in,
    [(start, end, score)] out, all plain data.

    A crash of the child fails the open request with the reason; the model controller restarts the
    child, and the next edit's request loads the voice models there again."""

    _target = VOICE_TARGET

    def __init__(self, process: InferenceProcess) -> None:
        VoiceWorker.__init__(self, process.paths)
        self._open: int | None = None  # the newest request, until its last scores or its failure arrive
        self._started = 0.0  # when the open request's scoring began (for last_seconds, as in the child)
        self._attach(process, VoiceWorker, ["submit_score", "cancel"])
        self.scores_ready.connect(self._on_scores)
        self.failed.connect(self._on_failed)
        self.models_ready.connect(self._on_models_ready)
        process.died.connect(self._on_died)

    def _before_call(self, name: str, request: int, args: tuple[Any, ...]) -> None:
        if name == "cancel":
            self._open = None
        elif name == "submit_score":
            self._open, self._started = request, time.perf_counter()
            if not self._process.is_running():
                # Queued, as an answer from the child would be: the caller has its request id first.
                self._open = None
                QTimer.singleShot(0, lambda: self.failed.emit(request, "the model process is not running, so the "
                                  "gutter cannot score (restart cw_desktop if it does not come back)"))

    def _on_models_ready(self, _name: str, _base: str) -> None:
        self._started = time.perf_counter()  # the child's own clock starts after the load too

    def _on_scores(self, request: int, _document: str, _spans: list, done: bool) -> None:
        if done and request == self._open:
            self._open = None
            self.last_seconds = time.perf_counter() - self._started

    def _on_failed(self, request: Any, _message: str) -> None:
        if request == self._open:
            self._open = None

    def _on_died(self, message: str) -> None:
        if self._open is not None:
            request, self._open = self._open, None
            self.failed.emit(request, f"{message}; the gutter scores again after your next edit")


def wants_process(setting: str) -> bool:
    """ModelSettings.inference_process: "auto" (on, except where tests ask for threads), "on", "off"."""
    if setting == "off":
        return False
    if setting == "auto" and os.environ.get("CW_DESKTOP_INFERENCE_PROCESS", "") == "0":
        return False
    return True
