"""Drive the real editor window in a child process for bench/startup.py and bench/gui_stall.py.

    python bench/gui_probe.py startup OUT.json -- [cw-desktop GUI arguments]
        Runs cw_desktop.gui.application.run_gui unchanged, with MainWindow wrapped so it records
        (seconds since CW_BENCH_T0, the parent's clock just before it launched us):
        "window_shown" (first event-loop turn after show(), as the app's own startup probe) and
        "model_ready" (MainWindow.model_ready), then quits.

    python bench/gui_probe.py stall OUT.json --data D --cache C [--corpus FOLDER] [--train-base SPEC]
        Opens the window offscreen, runs a 10 ms QTimer heartbeat, and records per phase the gaps
        between beats: idle (noise floor), model load, typing with suggestions, training in the
        background (a real `cw-desktop train` child process, as the fine-tune dialog starts it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

T0 = float(os.environ.get("CW_BENCH_T0", time.time()))
HEARTBEAT_MS = 10


def since_launch() -> float:
    return time.time() - T0


# -- start-up --------------------------------------------------------------------------------------

def startup(out: Path, gui_args: list[str]) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from cw_desktop.gui import application, main_window

    marks: dict[str, Any] = {}

    def finish() -> None:
        out.write_text(json.dumps(marks))
        QApplication.instance().quit()

    class ProbedWindow(main_window.MainWindow):
        def show(self) -> None:
            super().show()
            QTimer.singleShot(0, self._bench_shown)
            self.model_ready.connect(self._bench_ready)
            self.model_failed.connect(self._bench_failed)

        def _bench_shown(self) -> None:
            marks["window_shown"] = since_launch()
            marks["torch_imported_at_window"] = "torch" in sys.modules

        def _bench_ready(self, info: dict) -> None:
            marks["model_ready"] = since_launch()
            marks["load_seconds"] = info.get("load_seconds")
            finish()

        def _bench_failed(self, spec: str, message: str) -> None:
            marks["error"] = f"{spec}: {message}"
            finish()

    main_window.MainWindow = ProbedWindow  # run_gui imports the class at call time
    return application.run_gui(gui_args)


# -- event-loop stalls -----------------------------------------------------------------------------

class Heartbeat:
    """Gaps between the beats of a 10 ms timer, grouped by phase (stall = gap - interval)."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.phase = "idle"
        self.stalls: dict[str, list[float]] = {}
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self.beat)
        self.timer.start()

    def beat(self) -> None:
        now = time.perf_counter()
        self.stalls.setdefault(self.phase, []).append(max(0.0, now - self.last - HEARTBEAT_MS / 1000))
        self.last = now

    def enter(self, phase: str) -> None:
        self.beat()
        self.phase = phase


def signal_wait(signal: Any, timeout: float) -> "asyncio.Future[Any]":
    """A future resolved by the next emission of a Qt signal (or None after `timeout` s)."""
    loop = asyncio.get_event_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(args: Any) -> None:
        if not future.done():
            future.set_result(args)

    def fire(*args: Any) -> None:
        # A worker's signal runs this in the worker's thread: hand the result to the loop's thread.
        loop.call_soon_threadsafe(settle, args)

    signal.connect(fire)
    loop.call_later(timeout, lambda: future.done() or future.set_result(None))
    return future


async def type_and_pause(window: Any, text: str, cycles: int, heartbeat: Heartbeat,
                         results: dict[str, Any], label: str) -> None:
    """Type 2-8 characters of `text` at ~12 keys/s, then wait for the suggestion; `cycles` times."""
    import random

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    editor = window.current_editor()
    rng = random.Random(0)
    position = 0
    waits = []
    for _ in range(cycles):
        size = rng.randint(2, 8)
        for char in text[position:position + size]:
            QTest.keyClick(editor, char if char != "\n" else Qt.Key.Key_Return)
            await asyncio.sleep(0.08)
        position += size
        started = time.perf_counter()
        await signal_wait(window.generation.suggestions_ready, timeout=20)
        waits.append(time.perf_counter() - started)
    results[f"{label}_suggestion_wait"] = waits


async def stall_main(out: Path, args: dict[str, str]) -> None:
    from PySide6.QtWidgets import QApplication

    from cw_desktop.core.paths import AppPaths
    from cw_desktop.core.settings import Settings
    from cw_desktop.gui.main_window import MainWindow

    paths = AppPaths.default(config=args["--data"] + "/config", data=args["--data"], cache=args["--cache"]).ensure()
    from cw_desktop.workers.inference_process import InferenceProcess, wants_process

    settings = Settings()  # the defaults a new writer gets (3 alternatives, 600 ms debounce)
    settings.model.inference_process = args.get("--inference-process", settings.model.inference_process)
    inference = InferenceProcess(paths) if wants_process(settings.model.inference_process) else None
    if inference is not None:
        inference.start()  # as run_gui does, before the window is built
    window = MainWindow(paths, settings, inference=inference)
    window.show()
    heartbeat = Heartbeat()
    results: dict[str, Any] = {"phases": {}}
    draft_file = Path(args["--draft"])
    draft = draft_file.read_text(encoding="utf-8")
    continuation = Path(args["--continuation"]).read_text(encoding="utf-8")

    def save() -> None:  # after every phase: a run cut short still leaves its numbers
        results["phases"] = heartbeat.stalls
        out.write_text(json.dumps(results))

    await asyncio.sleep(3)  # idle: the floor every other phase is compared with

    heartbeat.enter("model load")
    started = time.perf_counter()
    ready = signal_wait(window.model_ready, timeout=600)
    window.start(args.get("--model", "bundled"))
    if await ready is None:
        results["error"] = "model did not load"
    results["load_seconds"] = time.perf_counter() - started
    save()

    heartbeat.enter("open a 1,000-token draft")
    tab = window.documents.new_document(draft, title="bench")
    editor = window.current_editor()
    cursor = editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    editor.setTextCursor(cursor)
    editor.setFocus()
    await asyncio.sleep(1)

    heartbeat.enter("typing + suggestions")
    await type_and_pause(window, continuation, int(args.get("--cycles", "8")), heartbeat, results, "typing")
    save()

    corpus = args.get("--corpus")
    if corpus:
        from cw_desktop.workers.training_process import TrainingProcess, train_arguments

        # The child is busy from its first second (imports, scan, tokenising, baseline perplexity,
        # then steps): the window must stay fluid whatever stage it is in.
        train_args = train_arguments(corpus, args.get("--train-base", "bundled"),
                                     output=str(Path(args["--data"]) / "tuned"),
                                     max_steps=int(args.get("--train-steps", "6")), block_size=128, batch_size=2)
        process = TrainingProcess.for_cli(paths, train_args)
        stages: list[str] = []
        process.stage.connect(lambda event: stages.append(str(event.get("stage"))))
        process.step.connect(lambda event: stages.append(f"step {event.get('step')}"))
        ended = signal_wait(process.finished, timeout=900)
        heartbeat.enter("training running + typing + suggestions")
        process.start()
        await type_and_pause(window, continuation[200:], int(args.get("--training-cycles", "3")), heartbeat,
                             results, "training")
        heartbeat.enter("training running, window idle")
        await asyncio.sleep(3)
        heartbeat.enter("training cancelled (checkpoint)")
        process.cancel()
        await ended
        results["training_stages_seen"] = stages
        save()
    heartbeat.enter("end")
    save()
    window.prompts.unsaved_changes = lambda _title: "discard"  # the bench draft is not worth a question
    window.shutdown(timeout_ms=5000)
    QApplication.instance().quit()


def stall(out: Path, argv: list[str]) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    args = dict(zip(argv[::2], argv[1::2]))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(stall_main(out, args))
    return 0


if __name__ == "__main__":
    mode, output = sys.argv[1], Path(sys.argv[2])
    rest = [a for a in sys.argv[3:] if a != "--"]
    sys.exit(startup(output, rest) if mode == "startup" else stall(output, rest))
