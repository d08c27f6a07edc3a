"""One module per dialog (QtWidgets)."""

# Installs the PySide6 6.12 None/True refcount fix before any widget exists (see workers/qt_fixes).
import cw_desktop.workers  # noqa: F401
