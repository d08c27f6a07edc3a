"""The bridge between ml/ and the GUI: QtCore-only worker objects living in QThreads."""
