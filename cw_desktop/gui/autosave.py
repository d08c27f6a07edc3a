"""When and how recovery copies are written, so a crash (even kill -9) costs at most a few seconds.

- AutosaveScheduler fires a couple of seconds after typing stops, and never later than
  MAX_WAIT_MS after the first unprotected edit even while typing goes on (the window's 30 s
  timer and the autosave on focus loss stay as a backstop);
- RecoveryWriter writes the copies on one background thread when they are large (serialising
  and fsyncing megabytes would stall typing), in order: a removal after a save can never be
  overtaken by an older copy still being written.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer, Signal

from cw_desktop.core.documents import RecoveryEntry, RecoveryStore

IDLE_MS = 2000  # "typing stopped"
MAX_WAIT_MS = 4000  # continuous typing is still copied this often
BACKGROUND_FROM_CHARS = 200_000  # smaller batches are written at once (a few ms)


class AutosaveScheduler(QObject):
    """Debounces edits into `due` (idle timer) with an upper bound (max-wait timer)."""

    due = Signal()

    def __init__(self, parent: QObject | None = None, idle_ms: int = IDLE_MS, max_wait_ms: int = MAX_WAIT_MS) -> None:
        super().__init__(parent)
        self.idle = QTimer(self, singleShot=True, interval=idle_ms)
        self.max_wait = QTimer(self, singleShot=True, interval=max_wait_ms)
        self.idle.timeout.connect(self._fire)
        self.max_wait.timeout.connect(self._fire)

    def poke(self) -> None:
        """Something worth protecting changed."""
        self.idle.start()
        if not self.max_wait.isActive():
            self.max_wait.start()

    def stop(self) -> None:
        self.idle.stop()
        self.max_wait.stop()

    def _fire(self) -> None:
        self.stop()
        self.due.emit()


class RecoveryWriter(QObject):
    """Writes and removes recovery copies in order on one thread; reports each batch on `batch_done`.

    `batch_done(written, errors)` arrives on the GUI thread; errors maps doc_id -> message.
    """

    batch_done = Signal(int, dict)

    def __init__(self, store: RecoveryStore, parent: QObject | None = None,
                 background_from_chars: int = BACKGROUND_FROM_CHARS) -> None:
        super().__init__(parent)
        self.store = store
        self.background_from_chars = background_from_chars
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cw-recovery")

    def write_batch(self, entries: list[RecoveryEntry]) -> None:
        if self._pool is None:
            return
        future = self._pool.submit(self._write_all, entries)
        if sum(len(e.text) + len(e.memory) for e in entries) < self.background_from_chars:
            self.batch_done.emit(*future.result())
        else:
            # Emitted from the writer thread: Qt queues it to the GUI-thread receivers.
            future.add_done_callback(lambda done: self.batch_done.emit(*done.result()))

    def remove(self, doc_id: str) -> None:
        """Remove a copy after every earlier write has landed (waits for them)."""
        if self._pool is None:
            self.store.remove(doc_id)
            return
        self._wait(self._pool.submit(self.store.remove, doc_id))

    def flush(self) -> None:
        if self._pool is not None:
            self._pool.submit(lambda: None).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _write_all(self, entries: list[RecoveryEntry]) -> tuple[int, dict]:
        written, errors = 0, {}
        for entry in entries:
            try:
                self.store.write(entry)
                written += 1
            except (OSError, ValueError) as exc:  # ValueError: text with lone surrogates
                errors[entry.doc_id] = str(exc)
        return written, errors

    @staticmethod
    def _wait(future: Future) -> None:
        try:
            future.result()
        except OSError:
            pass  # a copy that cannot be removed is offered once more after a crash: harmless
