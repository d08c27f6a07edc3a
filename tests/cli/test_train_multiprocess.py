"""`cw-desktop train` unchanged under `accelerate launch --num_processes 2` (DDP over gloo on CPU).

Two processes with 2 blocks each must train exactly what one process with 4 blocks trains (same
data, same effective batch of 4 x 1 accumulation), and the held-out perplexity must be the whole
split's, gathered from both. The tiny GPT-2 has dropout off, so the only difference left is the
order of floating-point sums: the figures must agree to 1e-4 relative (measured: ~1e-8).
Only the main process may write: one checkpoint, one report, one log line per event; and a
two-process run stopped by SIGTERM must resume from its checkpoint with two processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import REPO, WRITERS, require_corpus

STEPS = 40
COMMON = ["--mode", "full", "--max-steps", str(STEPS), "--block-size", "32", "--grad-accum", "1", "--lr", "3e-3",
          "--no-samples", "--threads", "1"]
TOLERANCE = 1e-4  # relative, on the final held-out loss and perplexity


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO),
            "OMP_NUM_THREADS": "1", "HF_HOME": str(tmp_path / "hf-home")}  # no accelerate config of the user's


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(*train_args: str) -> list[str]:
    """accelerate launch with 2 processes; on a machine without GPUs, --multi_gpu means torchrun's
    launcher and the processes join over gloo on the CPU (--cpu would start only one process)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(free_port()), "-m", "cw_desktop", *train_args]


def protocol(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-no-dropout") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def manuscripts(tmp_path_factory) -> Path:
    require_corpus()
    text = (WRITERS / "austen" / "Northanger Abbey.txt").read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("mp-books") / "books"
    folder.mkdir()
    start = text.index("CHAPTER 1")
    (folder / "northanger.txt").write_text(text[start:start + 30_000], encoding="utf-8")
    return folder


def test_two_processes_train_like_one_with_the_same_effective_batch_and_resume(
        tmp_path, no_dropout_model, manuscripts, app_paths) -> None:
    from cw_desktop.ml import training as tr

    # The reference: one process, 4 blocks per step (in this process: one launch fewer).
    overrides = {"mode": "full", "max_steps": STEPS, "block_size": 32, "batch_size": 4, "grad_accum": 1, "lr": 3e-3}
    single = tr.train(tr.TrainConfig(folder=manuscripts, paths=app_paths, base=str(no_dropout_model),
                                     output=tmp_path / "single", overrides=overrides, samples=False, threads=1))
    assert single.status == "done" and single.report is not None

    data = tmp_path / "data"
    args = ["--data", str(data), "train", str(manuscripts), "--base", str(no_dropout_model), "--output",
            str(tmp_path / "double"), *COMMON, "--batch-size", "2", "--json-progress"]
    # Stopped by SIGTERM (as a Ctrl-C or a scheduler's kill reaches the whole process group).
    errors = tmp_path / "first.err"  # a file, not a pipe nobody reads while the run goes on
    with errors.open("w") as stderr_file:
        first = subprocess.Popen(launch(*args), stdout=subprocess.PIPE, stderr=stderr_file, text=True,
                                 env=env(tmp_path), start_new_session=True)
    assert first.stdout is not None
    events = []
    try:
        for line in first.stdout:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "step":
                    os.killpg(first.pid, signal.SIGTERM)
                    break
        events += protocol(first.stdout.read())
        first.wait(timeout=120)
    finally:
        if first.poll() is None:  # the test failed mid-way: leave no training processes behind
            os.killpg(first.pid, signal.SIGKILL)
    stderr = errors.read_text()
    plan = next(e for e in events if e["event"] == "plan")
    assert plan["processes"] == 2 and plan["hyperparameters"]["batch_size"] == 2
    cancelled = events[-1]
    assert cancelled["event"] == "cancelled", stderr[-3000:]
    assert 1 <= cancelled["step"] < STEPS and Path(cancelled["checkpoint"]).is_file()
    run_dir = Path(cancelled["run_dir"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "run.json", "train.log"]
    assert not (tmp_path / "double").exists()
    assert [e["event"] for e in events].count("cancelled") == 1  # one voice: the main process's

    resumed = subprocess.run(launch(*args, "--resume"), capture_output=True, text=True, env=env(tmp_path),
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    events = protocol(resumed.stdout)
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps[0] == cancelled["step"] + 1 and steps[-1] == STEPS  # continued, not restarted
    assert [e["event"] for e in events].count("done") == 1
    report = json.loads((tmp_path / "double" / "report.json").read_text())
    assert report == events[-1]["report"] and report["processes"] == 2 and report["steps"] == STEPS
    assert not run_dir.exists()  # finished: the checkpoint is gone, the log moved into the model

    # The same training as the single process with the same effective batch, measured on the whole split.
    assert report["eval_tokens"] == single.report["eval_tokens"]
    assert report["perplexity_before"] == pytest.approx(single.report["perplexity_before"], rel=TOLERANCE)
    assert report["eval_loss_after"] == pytest.approx(single.report["eval_loss_after"], rel=TOLERANCE)
    assert report["perplexity_after"] == pytest.approx(single.report["perplexity_after"], rel=TOLERANCE)
    assert report["perplexity_after"] < report["perplexity_before"]

    log = (tmp_path / "double" / "train.log").read_text()
    assert log.count("cw-desktop train started") == 2  # two sessions, each logged by one process only
    assert "batch 2 per process x 2 processes x 1 accumulation = 4 blocks" in log
    assert f"STOPPED at step {cancelled['step']}" in log
    assert log.rstrip().splitlines()[-1].split("Z ", 1)[1].startswith("DONE: saved")


def test_mixed_precision_comes_from_the_flag_else_from_accelerate_launch(monkeypatch) -> None:
    from cw_desktop.cli.train import mixed_precision_from

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    assert mixed_precision_from(argparse.Namespace(mixed_precision=None)) is None  # the plan decides
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # what accelerate launch exports from its config
    assert mixed_precision_from(argparse.Namespace(mixed_precision=None)) == "bf16"
    assert mixed_precision_from(argparse.Namespace(mixed_precision="no")) == "no"
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp8")  # not one the trainer supports: the plan decides
    assert mixed_precision_from(argparse.Namespace(mixed_precision=None)) is None
