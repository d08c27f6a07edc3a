"""Screenshots of the fine-tuning dialog and the model manager during a real, short run.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots_finetune.py \
        --data /tmp/cwd-dialogs --cache /tmp/cwd-shared/cache --folder ../shared/corpus/writers/poe --max-steps 30

Drives the real dialog exactly as a writer would (folder, scan, model, Advanced steps, training in
the separate trainer process, blind rating) and saves docs/screenshots/finetune-{1..4}-*.png and
model-manager.png. Takes as long as the training run (about 10-20 minutes for the bundled model).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

import cw_desktop.dialogs  # noqa: F401  (installs the PySide6 refcount fix first)
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings
from cw_desktop.dialogs.finetune import FineTuneDialog
from cw_desktop.dialogs.model_manager import ModelManagerDialog

REPO = Path(__file__).resolve().parents[1]


def run_loop_for(ms: int) -> None:
    """Let Qt work for `ms` (an event loop that sleeps when idle, unlike a processEvents() busy loop,
    which would take CPU from the trainer)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(app: QApplication, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        run_loop_for(250)


def settle(app: QApplication, seconds: float = 0.5) -> None:
    run_loop_for(int(seconds * 1000))


def shoot(app: QApplication, widget: QWidget, path: Path) -> None:
    settle(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(path))
    print(f"saved {path}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cache")
    parser.add_argument("--config")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--base", default="bundled")
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--until-model-page", action="store_true",
                        help="stop after the scan and model pages (no training: a minute, not 10-20)")
    parser.add_argument("--shot-after-evals", type=int, default=3,
                        help="take the training screenshot after this many held-out evaluations")
    args = parser.parse_args()
    out = Path(args.out)

    app = QApplication(sys.argv[:1])
    from cw_desktop.gui.theme import apply_theme

    apply_theme(app, "light")
    paths = AppPaths.default(config=args.config or Path(args.data) / "config", data=args.data,
                             cache=args.cache).ensure()
    settings = Settings()
    settings.model.spec = args.base
    dialog = FineTuneDialog(paths, settings)
    dialog.resize(1040, 800)
    dialog.show()

    # 1. Folder and scan report.
    dialog.folder_page.folder_edit.setText(str(Path(args.folder).resolve()))
    dialog.scan()
    wait_for(app, lambda: dialog.report is not None, 600, "the scan")
    shoot(app, dialog, out / "finetune-1-scan.png")

    # 2. Model and (opened) Advanced settings.
    dialog.next_button.click()
    dialog.model_page.advanced_toggle.setChecked(True)
    dialog.model_page.steps_spin.setValue(args.max_steps)
    shoot(app, dialog, out / "finetune-2-model.png")
    if args.until_model_page:
        dialog.reject()
        return 0

    # 3. Training, once the chart has a few held-out points.
    dialog.next_button.click()
    chart = dialog.training_page.chart
    # The baseline point plus N held-out evaluations; a run that ends first skips this picture.
    wait_for(app, lambda: chart.eval_series.count() >= 1 + args.shot_after_evals or dialog.step == 3
             or not dialog.is_training_running(), 4 * 3600, "training progress")
    if dialog.step == 2:
        shoot(app, dialog, out / "finetune-3-training.png")
    wait_for(app, lambda: dialog.step == 3 or (dialog.process is not None and not dialog.is_training_running()),
             4 * 3600, "the end of training")
    if dialog.step != 3:
        shoot(app, dialog, out / "finetune-3-training-failed.png")
        return 1

    # 4. Results: the first two pairs rated, identities still hidden.
    results = dialog.results
    for pair, (preferred, scores) in zip(results.pairs[:2], [("right", (4, 4, 3)), ("left", (3, 5, 3))]):
        pair.preference_buttons[preferred].setChecked(True)
        for selectors in pair.scores.values():
            for selector, value in zip(selectors.values(), scores):
                selector.set_value(value)
    shoot(app, dialog, out / "finetune-4-results.png")
    for pair in results.pairs[2:]:
        pair.preference_buttons["same"].setChecked(True)
        for selectors in pair.scores.values():
            for selector in selectors.values():
                selector.set_value(3)
    results.reveal_and_save()
    shoot(app, dialog, out / "finetune-4-results-revealed.png")
    dialog.use_button.click()

    settings.model.spec = str(dialog.output)
    manager = ModelManagerDialog(paths, settings)
    manager.resize(1300, 360)
    manager.show()
    manager.select_spec(str(dialog.output))
    shoot(app, manager, out / "model-manager.png")
    manager.reject()
    dialog.reject()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
