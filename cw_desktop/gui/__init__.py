"""Main window and widgets (QtWidgets)."""
