"""What every worker shares: the Worker base (cancel flag, exceptions turned into messages), owning
a QThread and stopping it without ever destroying it while it runs, and awaiting a worker's answer
from asyncio.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, SignalInstance


class Worker(QObject):
    """Base of the QThread workers (scan, export, model loader, generation).

    - `failed(key, message)`: the one failure signal; the key names the job (request id, model spec,
      source folder) because a worker may answer several, and the message is for the writer.
    - `cancel()` sets a flag the running job polls (`cancel_requested`) rather than queueing a
      signal, which would wait behind the very job it should stop; `begin()` clears it.
    - `report_failure(key, exc)` turns any exception into `failed`, so a failing job reaches the
      writer instead of vanishing in the worker's thread.
    - stop_worker() below stops the thread and keeps it referenced if it is still busy.
    """

    failed = Signal(object, str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def begin(self) -> None:
        self._cancel.clear()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @staticmethod
    def failure_message(exc: BaseException, *, expected: tuple[type[BaseException], ...] = ()) -> str:
        """The exception's own text when it is one of the `expected` kinds (written for the writer),
        else its type and text, with the traceback printed for the developer."""
        if isinstance(exc, expected):
            return str(exc) or type(exc).__name__
        traceback.print_exc()
        return f"{type(exc).__name__}: {exc}"

    def report_failure(self, key: Any, exc: BaseException, *, expected: tuple[type[BaseException], ...] = (),
                       prefix: str = "") -> None:
        self.failed.emit(key, prefix + self.failure_message(exc, expected=expected))


def start_in_thread(worker: QObject, name: str) -> QThread:
    """Move `worker` into a new, running QThread that lives as long as the app.

    The thread is parented to nothing on purpose: its lifetime is managed by `stop_thread`, and a
    QThread destroyed while running aborts the process.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


def stop_thread(thread: QThread, timeout_ms: int = 10_000) -> bool:
    """Ask the thread's event loop to quit and wait for it; False if it did not stop in time."""
    if not thread.isRunning():
        return True
    thread.quit()
    return thread.wait(timeout_ms)


def cancel_and_stop(worker: Any, thread: QThread, timeout_ms: int) -> bool:
    """Cancel a worker's job, then stop its thread; False if it is still running after the timeout.

    Safe at interpreter exit, when Qt may already have deleted the thread (counts as stopped).
    """
    try:
        worker.cancel()
        return stop_thread(thread, timeout_ms)
    except RuntimeError:
        return True


# Workers whose thread did not stop in time when their owner closed (a folder scan cannot be
# interrupted mid-file): kept referenced for the rest of the session, since destroying a running
# QThread aborts the app. The quit() already queued ends them.
_finishing: list[tuple[QObject, QThread]] = []


def start_owned(worker: QObject, name: str, owner: QObject, stop_wait_ms: int) -> QThread:
    """start_in_thread for a worker that serves one window or dialog: when `owner` is destroyed
    (its window closing, say) the worker is cancelled and its thread stopped (see stop_worker)."""
    thread = start_in_thread(worker, name)
    owner.destroyed.connect(lambda *_: stop_worker(worker, thread, stop_wait_ms))
    return thread


def stop_worker(worker: Any, thread: QThread, timeout_ms: int) -> bool:
    """cancel_and_stop, and keep the pair alive if the thread is still running afterwards."""
    stopped = cancel_and_stop(worker, thread, timeout_ms)
    if not stopped:
        _finishing.append((worker, thread))
    return stopped


def signal_future(done: SignalInstance, failed: SignalInstance | None = None, *,
                  key: Any = None) -> asyncio.Future[Any]:
    """A future resolved by the next emission of `done` (or rejected by `failed`).

    With `key`, only emissions whose first argument equals `key` count: a worker answering many
    requests tags each answer with its request id. `done` resolves with its remaining arguments
    (a single value unwrapped); `failed` rejects with WorkerError(message = its last argument).
    """
    loop = asyncio.get_event_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def matches(args: tuple[Any, ...]) -> bool:
        return key is None or (bool(args) and args[0] == key)

    # A plain function connected to a worker's signal may run in the worker's thread, so the
    # future is only ever touched through the loop's thread-safe entry point.
    def on_done(*args: Any) -> None:
        if matches(args):
            values = args[1:] if key is not None else args
            loop.call_soon_threadsafe(settle, values[0] if len(values) == 1 else values, None)

    def on_failed(*args: Any) -> None:
        if matches(args):
            loop.call_soon_threadsafe(settle, None, WorkerError(str(args[-1]) if args else "failed"))

    def settle(result: Any, error: Exception | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
        try:
            done.disconnect(on_done)
            if failed is not None:
                failed.disconnect(on_failed)
        except (RuntimeError, TypeError):  # already gone with its sender
            pass

    done.connect(on_done)
    if failed is not None:
        failed.connect(on_failed)
    return future


class WorkerError(Exception):
    """A worker reported failure; the message is meant for the writer."""
