"""The fine-tuning pipeline on a machine without a display: train, scan and eval never import Qt,
and progress goes to a log file that `tail -f` over ssh can follow.

Each command runs in a child process in which importing PySide6 fails (as on a server where it is
not installed); the child also reports whether any Qt module got loaded anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import REPO, WRITERS, require_corpus

# PySide6 absent: any import of it raises ImportError. At exit the child prints the Qt modules loaded.
NO_QT = """
import atexit, sys
sys.modules["PySide6"] = None
atexit.register(lambda: print("QT-MODULES", sorted(name for name, module in sys.modules.items()
                                                   if module is not None and name.startswith(("PySide6", "shiboken"))),
                              file=sys.stderr))
from cw_desktop.app import main
sys.exit(main(sys.argv[1:]))
"""


def headless(*args: str, tmp_path: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO),
                   "OMP_NUM_THREADS": "1"}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):  # no display at all
        environment.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", NO_QT, "--data", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, env=environment, timeout=timeout)
    assert "QT-MODULES []" in proc.stderr, proc.stderr[-3000:]
    return proc


@pytest.fixture
def manuscripts(tmp_path) -> Path:
    require_corpus()
    text = (WRITERS / "austen" / "Northanger Abbey.txt").read_text(encoding="utf-8")
    folder = tmp_path / "books"
    folder.mkdir()
    start = text.index("CHAPTER 1")
    (folder / "northanger.txt").write_text(text[start:start + 30_000], encoding="utf-8")
    return folder


def test_train_help_needs_no_qt(tmp_path) -> None:
    proc = headless("train", "--help", tmp_path=tmp_path)
    assert proc.returncode == 0 and "--log-file" in proc.stdout and "--mixed-precision" in proc.stdout


def test_scan_train_and_eval_run_without_qt_and_log_to_a_file(tmp_path, manuscripts, tiny_model_dir) -> None:
    scan = headless("scan", str(manuscripts), "--model", str(tiny_model_dir), "--json", tmp_path=tmp_path)
    assert scan.returncode == 0, scan.stderr[-2000:]
    assert json.loads(scan.stdout)["totals"]["files_used"] == 1

    log = tmp_path / "logs" / "train.log"
    train = headless("train", str(manuscripts), "--base", str(tiny_model_dir), "--output", str(tmp_path / "tuned"),
                     "--mode", "full", "--max-steps", "6", "--block-size", "32", "--batch-size", "2",
                     "--no-samples", "--threads", "1", "--log-file", str(log), "--log-every", "2", tmp_path=tmp_path)
    assert train.returncode == 0, train.stderr[-2000:]
    lines = log.read_text().splitlines()
    # One line per interval of 2 steps (and the first), each with the loss, the speed and the time left.
    step_lines = [line for line in lines if " step " in f" {line.split('Z ', 1)[1]}" and "loss" in line
                  and "tokens/s" in line]
    assert [line.split("Z step ", 1)[1].split(" ", 1)[0] for line in step_lines] == ["1/6", "2/6", "4/6", "6/6"]
    assert all("ETA" in line for line in step_lines)
    assert any("held-out loss" in line for line in lines) and "plan: mode full, 6 steps" in log.read_text()
    assert lines[-1].split("Z ", 1)[1].startswith(f"DONE: saved {tmp_path / 'tuned'}")
    assert not (tmp_path / "tuned" / "train.log").exists()  # an explicit log file stays where it was asked

    evaluation = headless("eval", "--model", str(tmp_path / "tuned"), str(manuscripts), "--json", tmp_path=tmp_path)
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    assert json.loads(evaluation.stdout)["perplexity"] > 1


def test_a_failed_run_ends_its_log_with_the_reason(tmp_path, tiny_model_dir) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "idea.txt").write_text("A short idea for a story about the sea.\n" * 20, encoding="utf-8")
    log = tmp_path / "train.log"
    proc = headless("train", str(notes), "--base", str(tiny_model_dir), "--log-file", str(log), tmp_path=tmp_path)
    assert proc.returncode == 1
    last = log.read_text().splitlines()[-1]
    assert "FAILED: Not enough text to fine-tune on" in last and str(notes) in last
