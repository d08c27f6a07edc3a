"""Opening one dialog on its own, without the editor (screenshots, manual testing):
`python -m cw_desktop.dialogs.finetune`, `python -m cw_desktop.dialogs.model_manager`."""

from __future__ import annotations

import argparse
import sys

from PySide6.QtWidgets import QApplication, QDialog

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the app's folder options (--data, --config, --cache)."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--data")
    result.add_argument("--config")
    result.add_argument("--cache")
    return result


def start(args: argparse.Namespace) -> tuple[QApplication, AppPaths, Settings]:
    """The application (light theme), the folders from the options, and the settings found there."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from cw_desktop.gui.theme import apply_theme

    apply_theme(app, "light")  # type: ignore[arg-type]
    paths = AppPaths.default(config=args.config, data=args.data, cache=args.cache).ensure()
    return app, paths, Settings.load(paths.settings_file)  # type: ignore[return-value]


def run(app: QApplication, dialog: QDialog) -> int:
    """Show the dialog until it closes; a model it asks the editor to use is printed instead."""
    dialog.use_model_requested.connect(lambda spec: print(f"use model: {spec}"))  # type: ignore[attr-defined]
    dialog.show()
    return app.exec()
