"""Work around a reference-counting bug of PySide6/shiboken 6.12.0 on Python 3.11.

Shiboken 6.12 returns None from every void C++ method (setText, start, processEvents, ...) and True
from Signal.emit() WITHOUT taking a reference, as if they were immortal objects - which they are
only from Python 3.12 on (PEP 683). On 3.11 each such call lowers the reference count of None (or
True) by one; a GUI makes thousands of them a minute, so after a while the count reaches zero and
the interpreter aborts with "Fatal Python error: none_dealloc" (or "bool_dealloc"). In the test
suite it shows as a crash after "N passed", or mid-test during long qtbot.waitUntil loops.

The fix gives None, True and False the immortality shiboken assumes: their counts are raised by
2**40 once, which no program lives long enough to use up (a million leaked references a second
would take 12 days). It is applied only when the leak is measured at import, so it switches itself
off with a fixed PySide6 or on Python 3.12+. Imported by cw_desktop.workers (and thereby .gui and
.dialogs) before any widget exists.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

HEADROOM = 1 << 40
_PROBES = 64


class _Probe(QObject):
    ping = Signal()


def _drop(measure: object, call: object) -> int:
    """How many references to `measure` _PROBES calls of `call` lose."""
    before = sys.getrefcount(measure)
    for _ in range(_PROBES):
        call()  # type: ignore[operator]
    return before - sys.getrefcount(measure)


def leaks() -> dict[str, bool]:
    probe = _Probe()
    return {"none": _drop(None, lambda: probe.setObjectName("probe")) >= _PROBES,
            "bool": _drop(True, probe.ping.emit) >= _PROBES}


def _raise_refcount(obj: object, amount: int) -> bool:
    """Add `amount` to obj's reference count; False (and nothing changed) if the layout is unexpected."""
    if hasattr(sys, "gettotalrefcount"):  # a debug build may lay PyObject out differently
        return False
    count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every PyObject
    before = sys.getrefcount(obj)
    count.value += amount
    if sys.getrefcount(obj) - before != amount:
        count.value -= amount
        return False
    return True


def install() -> list[str]:
    """Make None/True/False effectively immortal if this PySide6 leaks them; returns what was fixed."""
    if sys.version_info >= (3, 12) or getattr(sys, "_cw_singletons_immortal", False):
        return []
    found = leaks()
    fixed = []
    if found["none"] and _raise_refcount(None, HEADROOM):
        fixed.append("None")
    if found["bool"] and _raise_refcount(True, HEADROOM) and _raise_refcount(False, HEADROOM):
        fixed.append("True/False")
    sys._cw_singletons_immortal = True  # type: ignore[attr-defined]  # once per process, not per reload
    return fixed


FIXED = install()
