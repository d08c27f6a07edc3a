"""Wait on a worker's signal safely from a test.

qtbot.waitSignal connects a plain callable, which PySide runs in the *emitting* (worker) thread,
where it touches the test's event loop and timer from the wrong thread. A QObject living in the
test's thread receives the signal through a queued connection instead and re-emits it there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class Relay(QObject):
    fired = Signal(tuple)

    def __init__(self, signal: SignalInstance) -> None:
        super().__init__()
        signal.connect(self.forward)

    def forward(self, *args: Any) -> None:
        self.fired.emit(args)


_KEEP_ALIVE: list[Relay] = []  # a relay must outlive the wait it serves


def relay(signal: SignalInstance) -> Relay:
    """Use as qtbot.waitSignal(relay(worker.done).fired); the blocker's args[0] is the original args."""
    _KEEP_ALIVE.append(Relay(signal))
    return _KEEP_ALIVE[-1]
