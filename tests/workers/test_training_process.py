"""TrainingProcess against a fake trainer that speaks the real progress protocol in a real child process."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from cw_desktop.workers.training_process import TrainingProcess, path_options, train_arguments

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")


def make_process(app_paths, folder: Path, *, cancel_timeout_ms: int = 20_000, **options) -> TrainingProcess:
    args = [str(FAKE_TRAINER), *path_options(app_paths), *train_arguments(str(folder), "tiny", **options)]
    return TrainingProcess(sys.executable, args, cancel_timeout_ms=cancel_timeout_ms)


@pytest.fixture(autouse=True)
def clean_fake_env():
    yield
    for key in ("FAKE_STEP_SECONDS", "FAKE_IGNORE_TERM", "FAKE_ERROR_AT", "FAKE_NOISE"):
        os.environ.pop(key, None)


def record(process: TrainingProcess) -> dict[str, list]:
    seen: dict[str, list] = {name: [] for name in
                             ("stage", "scan", "plan", "baseline", "step", "eval", "checkpoint", "done",
                              "cancelled", "failed", "log_line")}
    for name, items in seen.items():
        getattr(process, name).connect(lambda value, items=items: items.append(value))
    return seen


def test_arguments_follow_the_protocol():
    args = train_arguments("/books", "bundled", output="/m/x", mode="lora", max_steps=30, lr=1e-4,
                           include_accepted=True, resume="/runs/x")
    assert args[:4] == ["train", "/books", "--base", "bundled"]
    assert args[args.index("--max-steps") + 1] == "30"
    assert "--include-accepted" in args and args[args.index("--resume") + 1] == "/runs/x"
    assert args[-1] == "--json-progress"
    assert "--epochs" not in args  # unset options are left to the trainer's defaults


def test_a_full_run_emits_every_event_in_order(qtbot, app_paths, tmp_path):
    os.environ["FAKE_NOISE"] = "1"
    process = make_process(app_paths, tmp_path, max_steps=10)
    seen = record(process)
    with qtbot.waitSignal(process.finished, timeout=20_000):
        process.start()
    assert [e["step"] for e in seen["step"]] == list(range(1, 11))
    assert seen["baseline"][0]["perplexity"] == 80.0
    assert [e["step"] for e in seen["eval"]] == [5, 10]
    assert seen["plan"][0]["max_steps"] == 10
    assert not seen["failed"] and not seen["cancelled"]
    report = seen["done"][0]["report"]
    assert Path(seen["done"][0]["output"], "report.json").is_file() and report["perplexity_after"] == 42.5
    # Non-protocol output is shown in the log, not treated as an event or an error.
    assert "a stray line that is not JSON" in seen["log_line"]
    assert "Some warning on stderr" in seen["log_line"]


def test_cancel_stops_between_steps_and_keeps_a_checkpoint(qtbot, app_paths, tmp_path):
    os.environ["FAKE_STEP_SECONDS"] = "0.05"
    process = make_process(app_paths, tmp_path, max_steps=400)
    seen = record(process)
    process.start()
    qtbot.waitUntil(lambda: len(seen["step"]) >= 3, timeout=20_000)
    with qtbot.waitSignal(process.cancelled, timeout=20_000) as blocker:
        process.cancel()
    event = blocker.args[0]
    assert 3 <= event["step"] < 400
    assert Path(event["checkpoint"]).is_file()
    qtbot.waitUntil(lambda: not process.is_running(), timeout=10_000)
    assert not seen["failed"] and not seen["done"]


def test_a_trainer_that_ignores_sigterm_is_killed_after_the_timeout(qtbot, app_paths, tmp_path):
    os.environ["FAKE_IGNORE_TERM"] = "1"
    os.environ["FAKE_STEP_SECONDS"] = "0.05"
    process = make_process(app_paths, tmp_path, max_steps=400, cancel_timeout_ms=300)
    seen = record(process)
    process.start()
    qtbot.waitUntil(lambda: len(seen["checkpoint"]) >= 1, timeout=20_000)
    with qtbot.waitSignal(process.cancelled, timeout=20_000) as blocker:
        process.cancel()
    event = blocker.args[0]
    assert event["forced"] is True
    assert event["checkpoint"] == seen["checkpoint"][-1]["path"]  # the last one the trainer reported
    assert not seen["failed"]


def test_sigkill_mid_run_becomes_a_clear_failure(qtbot, app_paths, tmp_path):
    os.environ["FAKE_STEP_SECONDS"] = "0.05"
    process = make_process(app_paths, tmp_path, max_steps=400)
    seen = record(process)
    process.start()
    qtbot.waitUntil(lambda: len(seen["checkpoint"]) >= 1, timeout=20_000)
    with qtbot.waitSignal(process.failed, timeout=20_000) as blocker:
        os.kill(process.pid(), signal.SIGKILL)
    failure = blocker.args[0]
    assert failure["crashed"] is True
    assert "killed or crashed" in failure["message"] and "resume" in failure["message"]
    assert failure["checkpoint"] == seen["checkpoint"][-1]["path"]
    assert not seen["done"] and not seen["cancelled"]


def test_an_error_event_is_reported_once_with_its_message(qtbot, app_paths, tmp_path):
    os.environ["FAKE_ERROR_AT"] = "3"
    process = make_process(app_paths, tmp_path, max_steps=10)
    seen = record(process)
    with qtbot.waitSignal(process.finished, timeout=20_000):
        process.start()
    assert len(seen["failed"]) == 1
    assert seen["failed"][0]["message"] == "Out of patience at step 3"
    assert seen["failed"][0]["exit_code"] == 1
    assert "Traceback: fake failure" in seen["failed"][0]["log_tail"]


def test_a_missing_program_fails_with_its_name(qtbot, tmp_path):
    process = TrainingProcess(str(tmp_path / "no-such-trainer"), ["train"])
    with qtbot.waitSignal(process.failed, timeout=10_000) as blocker:
        process.start()
    assert "could not be started" in blocker.args[0]["message"]
    assert "no-such-trainer" in blocker.args[0]["message"]


def test_the_editors_trainer_leaves_a_core_to_the_suggestions(app_paths):
    from cw_desktop.ml.plan import editor_threads_while_training, trainer_threads_beside_editor

    assert (trainer_threads_beside_editor(2), editor_threads_while_training(2)) == (1, 1)
    assert (trainer_threads_beside_editor(8), editor_threads_while_training(8)) == (7, 1)
    assert (trainer_threads_beside_editor(1), editor_threads_while_training(1)) == (1, 1)
    process = TrainingProcess.for_cli(app_paths, train_arguments("/books", "bundled"))
    assert process.args[process.args.index("--threads") + 1] == str(trainer_threads_beside_editor())
    resumed = train_arguments("/books", "bundled", resume="/runs/x", threads=3)
    assert resumed[resumed.index("--threads") + 1] == "3" and resumed[-1] == "--json-progress"
