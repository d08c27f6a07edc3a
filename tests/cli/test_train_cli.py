"""`cw-desktop train` / `cw-desktop eval` as the GUI runs them: a separate process speaking the
JSON progress protocol, stopped by SIGTERM, resumed, and evaluated on the same held-out split."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import REPO, WRITERS, require_corpus

STAGES = ["scan", "clean", "tokenize", "baseline", "train", "evaluate", "samples", "save"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cw_desktop", *args]


def env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}


def write_manuscripts(folder: Path, chars: int = 30_000) -> Path:
    require_corpus()
    text = (WRITERS / "austen" / "Northanger Abbey.txt").read_text(encoding="utf-8")
    start = text.index("CHAPTER 1")
    folder.mkdir(parents=True)
    (folder / "northanger.txt").write_text(text[start:start + chars], encoding="utf-8")
    return folder


def parse_lines(stdout: str) -> list[dict]:
    events = [json.loads(line) for line in stdout.splitlines()]  # every stdout line is JSON
    assert all(isinstance(e, dict) and "event" in e for e in events)
    return events


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir) -> dict:
    root = tmp_path_factory.mktemp("train-cli")
    folder = write_manuscripts(root / "manuscripts")
    output = root / "tuned"
    proc = subprocess.run(
        cli("--data", str(root / "data"), "train", str(folder), "--base", str(tiny_model_dir), "--output",
            str(output), "--mode", "full", "--max-steps", "16", "--block-size", "64", "--lr", "3e-3",
            "--json-progress"),
        capture_output=True, text=True, env=env(), timeout=240)
    return {"root": root, "folder": folder, "output": output, "proc": proc, "events": parse_lines(proc.stdout)}


def test_json_progress_protocol_lines_in_order(finished_run) -> None:
    proc, events = finished_run["proc"], finished_run["events"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    kinds = [e["event"] for e in events]
    assert [e["stage"] for e in events if e["event"] == "stage"] == STAGES
    order = ["scan", "plan", "baseline", "step", "eval", "done"]
    assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order)
    assert kinds[-1] == "done"
    scan = events[kinds.index("scan")]
    assert scan["files_used"] == 1 and scan["train_tokens"] > scan["eval_tokens"] > 0
    assert scan["estimated_seconds"] > 0
    plan = events[kinds.index("plan")]
    assert plan["max_steps"] == 16 and plan["mode"] == "full" and plan["hyperparameters"]["block_size"] == 64
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 17))
    for step in steps:
        assert set(step) == {"event", "step", "max_steps", "loss", "lr", "tokens_per_s", "eta_s", "elapsed_s"}
        assert step["max_steps"] == 16 and step["tokens_per_s"] > 0 and step["eta_s"] >= 0
    evals = [e for e in events if e["event"] == "eval"]
    assert evals[-1]["step"] == 16 and all(e["perplexity"] > 1 for e in evals)
    done = events[-1]
    assert done["output"] == str(finished_run["output"])
    assert done["report"]["perplexity_after"] < done["report"]["perplexity_before"]


def test_output_folder_holds_model_and_reports(finished_run, tiny_model_dir) -> None:
    output = finished_run["output"]
    assert (output / "config.json").is_file() and (output / "model.safetensors").is_file()
    assert (output / "tokenizer.json").is_file()
    report = json.loads((output / "report.json").read_text())
    assert report == finished_run["events"][-1]["report"]
    assert report["base_model"] == str(tiny_model_dir)
    assert report["folder"] == str(finished_run["folder"].resolve())
    assert report["files_used"] == ["northanger.txt"] and report["files_skipped"] == []
    assert report["context_length"] == 256
    assert report["heldout_overlap_dropped"] == 0  # one book: nothing on the training side repeats a held-out chapter
    markdown = (output / "report.md").read_text()
    assert f"{report['perplexity_before']:.2f}" in markdown and f"{report['perplexity_after']:.2f}" in markdown
    # The writer's folder is untouched.
    assert sorted(p.name for p in finished_run["folder"].iterdir()) == ["northanger.txt"]


def test_eval_cli_reproduces_the_training_perplexities(finished_run, tiny_model_dir) -> None:
    report = json.loads((finished_run["output"] / "report.json").read_text())
    data = str(finished_run["root"] / "data")
    tuned = subprocess.run(cli("--data", data, "eval", "--model", str(finished_run["output"]),
                               str(finished_run["folder"]), "--json"),
                           capture_output=True, text=True, env=env(), timeout=120)
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    assert json.loads(tuned.stdout)["perplexity"] == pytest.approx(report["perplexity_after"], rel=1e-3)
    base = subprocess.run(cli("--data", data, "eval", "--model", str(tiny_model_dir), str(finished_run["folder"]),
                              "--block-size", "64", "--json"),
                          capture_output=True, text=True, env=env(), timeout=120)
    assert json.loads(base.stdout)["perplexity"] == pytest.approx(report["perplexity_before"], rel=1e-3)


def test_sigterm_cancels_with_checkpoint_and_resume_finishes(tmp_path, tiny_model_dir) -> None:
    folder = write_manuscripts(tmp_path / "manuscripts")
    base_args = ["--data", str(tmp_path / "data"), "train", str(folder), "--base", str(tiny_model_dir),
                 "--mode", "full", "--max-steps", "100", "--block-size", "32", "--batch-size", "2", "--grad-accum", "1",
                 "--no-samples", "--json-progress"]
    proc = subprocess.Popen(cli(*base_args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "step":
            proc.send_signal(signal.SIGTERM)
            break
    events += parse_lines(proc.stdout.read())
    assert proc.wait(timeout=60) == 3
    cancelled = events[-1]
    assert cancelled["event"] == "cancelled" and 1 <= cancelled["step"] < 100
    assert cancelled["checkpoint"] and Path(cancelled["checkpoint"]).is_file()
    assert Path(cancelled["run_dir"]).parent == tmp_path / "data" / "runs"

    resumed = subprocess.run(cli(*base_args, "--resume"), capture_output=True, text=True, env=env(), timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = parse_lines(resumed.stdout)
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert steps[0] == cancelled["step"] + 1 and steps[-1] == 100
    assert events[-1]["event"] == "done" and events[-1]["report"]["steps"] == 100
    assert not Path(cancelled["run_dir"]).exists()  # finished: checkpoints removed


def test_too_little_text_is_a_json_error_with_exit_1(tmp_path, tiny_model_dir) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "idea.txt").write_text("A short idea for a story about the sea.\n" * 20, encoding="utf-8")
    proc = subprocess.run(cli("--data", str(tmp_path / "data"), "train", str(folder), "--base", str(tiny_model_dir),
                              "--json-progress"), capture_output=True, text=True, env=env(), timeout=120)
    assert proc.returncode == 1
    events = parse_lines(proc.stdout)
    assert events[-1]["event"] == "error"
    assert "Not enough text" in events[-1]["message"] and str(folder) in events[-1]["message"]
    assert "Traceback" not in proc.stderr


def test_human_mode_prints_a_summary(tmp_path, tiny_model_dir) -> None:
    folder = write_manuscripts(tmp_path / "manuscripts")
    proc = subprocess.run(cli("--data", str(tmp_path / "data"), "train", str(folder), "--base", str(tiny_model_dir),
                              "--max-steps", "4", "--block-size", "64", "--no-samples"),
                          capture_output=True, text=True, env=env(), timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "perplexity" in proc.stdout and "Saved" in proc.stdout
    saved = Path(proc.stdout.split("Saved ", 1)[1].split("\n", 1)[0])
    assert saved.parent == tmp_path / "data" / "models" and (saved / "report.json").is_file()
    missing = subprocess.run(cli("--data", str(tmp_path / "data"), "train", str(tmp_path / "nope")),
                             capture_output=True, text=True, env=env(), timeout=120)
    assert missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_threads_option_reaches_the_trainer(tmp_path, monkeypatch, capsys) -> None:
    from cw_desktop.cli import run_cli
    from cw_desktop.ml import training

    seen: list[int | None] = []

    def fake_train(config, on_event=None, should_stop=None):
        seen.append(config.threads)
        return training.TrainResult("cancelled")

    monkeypatch.setattr(training, "train", fake_train)
    folder = tmp_path / "books"
    folder.mkdir()
    base = ["--data", str(tmp_path / "data"), "train", str(folder), "--json-progress"]
    assert run_cli([*base, "--threads", "1"]) == 3 and seen == [1]
    assert run_cli(base) == 3 and seen == [1, None]  # no budget given: all cores
    assert run_cli([*base, "--threads", "0"]) == 1
    assert "--threads must be at least 1" in capsys.readouterr().out
