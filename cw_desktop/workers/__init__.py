"""The bridge between ml/ and the GUI: QtCore-only worker objects living in QThreads."""

# First, before any widget exists: PySide6 6.12.0 on Python 3.11 loses a reference to None on every
# void Qt call (and to True on every emit) and eventually aborts the interpreter (see qt_fixes).
from cw_desktop.workers import qt_fixes as _qt_fixes  # noqa: F401
