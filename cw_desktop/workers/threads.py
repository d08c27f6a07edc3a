"""Helpers shared by the workers: owning a QThread, and awaiting a worker's answer from asyncio."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QObject, QThread, SignalInstance


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
