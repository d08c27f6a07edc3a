"""One module per dialog (QtWidgets)."""
