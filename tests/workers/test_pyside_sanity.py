"""The installed PySide6 must not leak references to None/True (PySide6 6.12.0 on Python 3.11 does,
and the editor then aborts after a few thousand Qt calls with "none_dealloc")."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()


def test_void_calls_and_emits_keep_reference_counts() -> None:
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(500):
        probe.setObjectName("probe")
        probe.ping.emit()
    # Other threads may create or drop a few references meanwhile; a leak loses one per call.
    assert none_before - sys.getrefcount(None) < 100, "PySide6 leaks None: pin a fixed release in pyproject.toml"
    assert true_before - sys.getrefcount(True) < 100, "PySide6 leaks True: pin a fixed release in pyproject.toml"
