"""The training log file a writer follows over ssh: one line per step interval, flushed at once,
the effective batch of a multi-process run, and a final line that says how the run ended."""

from __future__ import annotations

from cw_desktop.core.train_log import TRAIN_LOG_FILE, TrainLog

HP = {"batch_size": 2, "grad_accum": 3, "block_size": 128, "lr": 2e-4}


def body(line: str) -> str:
    return line.split("Z ", 1)[1]


def step(n: int, total: int = 10) -> dict:
    return {"event": "step", "step": n, "max_steps": total, "loss": 3.25, "lr": 1e-4, "tokens_per_s": 1234.5,
            "eta_s": 600.0, "elapsed_s": 1.0}


def test_lines_are_written_and_flushed_as_they_happen(tmp_path) -> None:
    log = TrainLog(every=4)
    log({"event": "stage", "stage": "scan", "message": "Reading /books"})  # before the run folder is known
    log({"event": "plan", "max_steps": 10, "mode": "top", "hyperparameters": HP, "run_dir": str(tmp_path / "run"),
         "processes": 2})
    path = tmp_path / "run" / TRAIN_LOG_FILE
    lines = path.read_text().splitlines()  # readable now, before the run ends (what tail -f shows)
    assert [body(line) for line in lines[:2]] == ["cw-desktop train started", "Reading /books"]
    assert "batch 2 per process x 2 processes x 3 accumulation = 12 blocks of 128 tokens (1,536 tokens) per step" \
        in lines[2]
    for n in range(1, 11):
        log(step(n))
    steps = [body(line) for line in path.read_text().splitlines() if " step " in f" {body(line)}"]
    assert [s.split()[1] for s in steps] == ["1/10", "4/10", "8/10", "10/10"]  # first, every 4th, last
    assert steps[0] == "step 1/10 loss 3.2500 1,234 tokens/s ETA 10 min"
    log({"event": "cancelled", "step": 10, "checkpoint": "c.pt", "run_dir": str(tmp_path / "run")})
    log.close(3)
    last = body(path.read_text().splitlines()[-1])
    assert last.startswith("STOPPED at step 10") and "--resume" in last


def test_a_run_that_dies_without_a_final_event_still_gets_a_final_line(tmp_path) -> None:
    log = TrainLog(tmp_path / "explicit.log")
    log(step(1))
    log.close(1)
    last = body((tmp_path / "explicit.log").read_text().splitlines()[-1])
    assert last == "FAILED: training ended with exit code 1; the terminal shows why"
    # Appending: a resumed run continues the same file after a separator line.
    again = TrainLog(tmp_path / "explicit.log")
    again({"event": "error", "message": "The folder /books does not exist"})
    again.close(1)
    lines = [body(line) for line in (tmp_path / "explicit.log").read_text().splitlines()]
    assert lines[-2:] == ["cw-desktop train started", "FAILED: The folder /books does not exist"]

