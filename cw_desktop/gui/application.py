"""Start the editor: QApplication + a qasync event loop, the window first, the model afterwards.

Nothing here (or in anything it imports) imports torch or transformers: the window must appear
within a couple of seconds. The model runs in a child process started first of all
(workers/inference_process.py), or, with `[model] inference_process = "off"`, on threads of this one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cw_desktop import APP_AUTHOR, APP_NAME, __version__
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.workers.inference_process import InferenceProcess, wants_process

# Test/benchmark hook: when set to a file path, the app writes {"seconds", "torch_imported"} there
# as soon as the window is on screen, then quits.
STARTUP_PROBE_ENV = "CW_DESKTOP_STARTUP_PROBE"
ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cw-desktop", description="Open the cw_desktop editor.")
    parser.add_argument("files", nargs="*", type=Path, help="text or Markdown files to open")
    parser.add_argument("--data", help="data folder (models, recovery copies, suggestion log)")
    parser.add_argument("--config", help="settings folder")
    parser.add_argument("--cache", help="cache folder (converted and downloaded models)")
    parser.add_argument("--model", help="model to use ('bundled', a catalog name or a model folder); "
                        "becomes the default once it loads")
    # Qt's own options (-platform, -style, ...) pass through to QApplication.
    args, unknown = parser.parse_known_args(argv)
    args.qt_args = unknown
    return args


def run_gui(argv: list[str]) -> int:
    started = time.perf_counter()
    args = parse_args(list(argv))
    paths = AppPaths.default(config=args.config, data=args.data, cache=args.cache).ensure()
    settings = Settings.load(paths.settings_file)
    inference = None
    if wants_process(settings.model.inference_process):
        # First of all: the child imports torch on the other core while this one builds the window.
        inference = InferenceProcess(paths, expect=(args.model or settings.model.spec, settings.model.inference_backend))
        inference.start()

    app = QApplication.instance() or QApplication([sys.argv[0], *args.qt_args])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_AUTHOR)
    app.setApplicationVersion(__version__)
    icon = _app_icon()
    if icon is not None:
        app.setWindowIcon(icon)

    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    from cw_desktop.gui.main_window import MainWindow

    window = MainWindow(paths, settings, inference=inference)
    window.show()
    for problem in settings.problems:
        print(f"cw-desktop: {problem}", file=sys.stderr)
    for file in args.files:
        window.open_path(file)
    from cw_desktop.gui.status_trace import attach_from_environment

    attach_from_environment(window, started, dict(os.environ))

    probe = os.environ.get(STARTUP_PROBE_ENV)
    if probe:
        QTimer.singleShot(0, lambda: _write_probe(Path(probe), time.perf_counter() - started, app))
    else:
        # After the first paint: the recovery question and the model load come once the window is up.
        QTimer.singleShot(0, lambda: window.start(args.model))

    quit_event = asyncio.Event()
    app.aboutToQuit.connect(quit_event.set)
    with loop:
        loop.run_until_complete(quit_event.wait())
    if not window.shutdown(timeout_ms=3000):
        # A model load cannot be interrupted half-way; everything the writer typed is already saved or
        # in the recovery folder, so leave without waiting for it (and without Qt's abort on a live thread).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _write_probe(path: Path, seconds: float, app: QApplication) -> None:
    path.write_text(json.dumps({"seconds": seconds, "torch_imported": "torch" in sys.modules,
                                "transformers_imported": "transformers" in sys.modules}))
    app.quit()


def _app_icon() -> QIcon | None:
    for name in ("app.svg", "app.png", "cw_desktop.svg", "cw_desktop.png"):
        file = ICON_DIR / name
        if file.is_file():
            return QIcon(str(file))
    return None
