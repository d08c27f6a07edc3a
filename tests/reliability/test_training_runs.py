"""Training runs under hostile conditions: a crafted checkpoint, two trainings into one folder, a
full disk while saving, a kill before the first checkpoint, and the stale run folders it leaves."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from manuscripts import chapter_docs, write_manuscripts
from shared_data import REPO
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.run_lock import RUN_LOCK_FILE, FolderInUseError, FolderLock, output_lock_file
from cw_desktop.ml import checkpoint as ckpt
from cw_desktop.ml import dataset as ds
from cw_desktop.ml import training as tr
from cw_desktop.ml.loading import load_model


def small_hp(**changes) -> tr.Hyperparameters:
    hp = tr.Hyperparameters(mode="full", block_size=32, batch_size=2, grad_accum=1, lr=3e-3, min_lr=3e-4,
                            warmup_steps=1, max_steps=6, eval_interval=3, checkpoint_interval=3, patience=10,
                            device="cpu")
    for key, value in changes.items():
        setattr(hp, key, value)
    return hp


@pytest.fixture(scope="module")
def tiny_data(tiny_model_dir, session_app_paths) -> ds.PackedData:
    split = ds.split_units(ds.document_units(chapter_docs()), eval_share=0.15)
    return ds.prepare_data(split, load_model(str(tiny_model_dir), session_app_paths).tokenizer, 32)


def run_loop(tiny_model_dir, paths, data, run_dir: Path, hp=None, **kwargs) -> tuple[tr.LoopResult, list[dict]]:
    hp = hp or small_hp()
    loaded = load_model(str(tiny_model_dir), paths)
    torch.manual_seed(hp.seed)
    events: list[dict] = []
    result = tr.run_training(tr.apply_mode(loaded.model, hp), data, hp, run_dir, on_event=events.append, **kwargs)
    return result, events


# -- item 6: a checkpoint never runs code ----------------------------------------------------------

class Payload:
    """What an attacker would plant: unpickling it writes a marker file (i.e. runs code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_crafted_checkpoint_is_refused_and_never_runs(tiny_model_dir, app_paths, tiny_data, tmp_path) -> None:
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save({"trainable": {}, "optimizer": Payload(marker), "state": {}, "rng": {}}, run_dir / tr.CHECKPOINT_FILE)
    with pytest.raises(ckpt.CheckpointError, match="refused") as info:
        run_loop(tiny_model_dir, app_paths, tiny_data, run_dir, resume=True)
    assert str(run_dir / tr.CHECKPOINT_FILE) in str(info.value)
    assert not marker.exists(), "unpickling the checkpoint ran the attacker's code"


def test_checkpoints_hold_plain_data_only(tiny_model_dir, app_paths, tiny_data, tmp_path) -> None:
    result, _ = run_loop(tiny_model_dir, app_paths, tiny_data, tmp_path, should_stop=lambda: True)
    payload = torch.load(result.checkpoint, weights_only=True)  # what read_checkpoint does
    assert payload["format"] == ckpt.FORMAT and isinstance(payload["rng"]["python"]["state"], list)


def test_a_damaged_checkpoint_is_a_clear_error(tiny_model_dir, app_paths, tiny_data, tmp_path) -> None:
    (tmp_path / tr.CHECKPOINT_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ckpt.CheckpointError, match="unreadable"):
        run_loop(tiny_model_dir, app_paths, tiny_data, tmp_path, resume=True)


# -- item 14: a full disk ----------------------------------------------------------------------

def test_disk_full_while_checkpointing_keeps_the_last_good_one(tiny_model_dir, app_paths, tiny_data, tmp_path,
                                                              monkeypatch) -> None:
    hp = small_hp(checkpoint_interval=2, max_steps=6)
    run_dir = tmp_path / "run"
    real_save = torch.save
    saves = []

    def save_then_fill_the_disk(obj, target, *args, **kwargs):
        saves.append(target)
        if len(saves) == 1:
            return real_save(obj, target, *args, **kwargs)
        Path(target).write_bytes(b"half a checkpoint")  # what a write cut short leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_then_fill_the_disk)
    with pytest.raises(OSError) as info:
        run_loop(tiny_model_dir, app_paths, tiny_data, run_dir, hp=hp)
    message = str(info.value)
    assert message.startswith(f"No space left on {run_dir}") and "MB free" in message and "needed about" in message
    assert "previous checkpoint is kept" in message
    assert [p.name for p in run_dir.iterdir()] == [tr.CHECKPOINT_FILE]  # no temp file left behind
    monkeypatch.setattr(torch, "save", real_save)
    resumed, events = run_loop(tiny_model_dir, app_paths, tiny_data, run_dir, hp=hp, resume=True)
    assert resumed.status == "done"
    assert next(e["step"] for e in events if e["event"] == "step") == 3  # from the step-2 checkpoint


@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 4352 vs 4240"),
    "safetensors",
])
def test_disk_full_while_saving_the_model_is_one_clear_line(tmp_path, tiny_model_dir, app_paths, monkeypatch,
                                                             failure) -> None:
    from cw_desktop.core import disk_space

    loaded = load_model(str(tiny_model_dir), app_paths)
    if failure == "safetensors":
        from safetensors import SafetensorError

        failure = SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                  'message: "No space left on device" })')
    monkeypatch.setattr(disk_space, "free_bytes", lambda path: 1024)  # the disk is full now

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(loaded.model, "save_pretrained", fail)
    output = tmp_path / "models" / "tuned"
    with pytest.raises(disk_space.DiskFullError) as info:
        tr.save_model_folder(loaded.model, loaded.tokenizer, output, {}, lambda folder, report: None)
    assert str(info.value).startswith(f"No space left on {output.parent} (needed about ")
    assert "0 MB free" in str(info.value) and "inline_container" not in str(info.value)
    assert not output.exists() and list(output.parent.iterdir()) == []  # staging folder removed


def test_an_unrelated_write_error_is_not_called_a_full_disk(tmp_path) -> None:
    from cw_desktop.core.disk_space import DiskFullError, reporting_disk_full

    with pytest.raises(OSError) as info:
        with reporting_disk_full(tmp_path, 10, "a file"):
            raise PermissionError(errno.EACCES, "Permission denied")
    assert not isinstance(info.value, DiskFullError)


# -- item 15: wall-clock checkpoints and stale run folders -------------------------------------

def test_checkpoints_come_by_wall_clock_too(tiny_model_dir, app_paths, tiny_data, tmp_path) -> None:
    hp = small_hp(checkpoint_interval=1000, eval_interval=1000, max_steps=4)
    result, events = run_loop(tiny_model_dir, app_paths, tiny_data, tmp_path, hp=hp, checkpoint_every_s=0.0)
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [1, 2, 3]  # never after the last step
    _, events = run_loop(tiny_model_dir, app_paths, tiny_data, tmp_path / "b", hp=hp)
    assert not [e for e in events if e["event"] == "checkpoint"]  # the 3-minute default: not in 4 fast steps


def make_run(paths: AppPaths, name: str, *, checkpoint: bool, age_s: float = 3600, output: str = "",
             lock: dict | None = None) -> Path:
    run_dir = paths.runs_dir / name
    run_dir.mkdir(parents=True)
    (run_dir / tr.RUN_FILE).write_text(json.dumps({"name": name, "folder": "/books", "base": "bundled",
                                                   "output": output or str(paths.models_dir / name)}))
    if checkpoint:
        (run_dir / tr.CHECKPOINT_FILE).write_bytes(b"x" * 1000)
    if lock is not None:
        (run_dir / RUN_LOCK_FILE).write_text(json.dumps(lock))
    old = time.time() - age_s
    for file in [run_dir, *run_dir.iterdir()]:
        os.utime(file, (old, old))
    return run_dir


def test_runs_lists_states_and_cleans_only_stale_folders(app_paths, capsys) -> None:
    from cw_desktop.app import main

    resumable = make_run(app_paths, "interrupted", checkpoint=True)
    stale = make_run(app_paths, "killed-early", checkpoint=False)
    starting = make_run(app_paths, "just-started", checkpoint=False, age_s=0)
    running = make_run(app_paths, "running", checkpoint=False)
    FolderLock(running / RUN_LOCK_FILE, "run").acquire()  # held by this (live) process
    dead = make_run(app_paths, "crashed-owner", checkpoint=False,  # pid above Linux's pid_max: gone
                    lock={"pid": 2 ** 22 + 12345, "host": socket.gethostname(), "started": "2020-01-01"})
    args = ["--data", str(app_paths.data_dir), "--config", str(app_paths.config_dir), "runs"]
    assert main([*args, "--json"]) == 0
    listed = {Path(r["run_dir"]).name: r["state"] for r in json.loads(capsys.readouterr().out)["runs"]}
    assert listed == {"interrupted": "resumable", "killed-early": "stale", "just-started": "running",
                      "running": "running", "crashed-owner": "stale"}
    assert stale.exists()  # listing never deletes
    assert main([*args, "--clean-stale"]) == 0
    out = capsys.readouterr().out
    assert "removed  killed-early" in out and "removed  crashed-owner" in out
    assert not stale.exists() and not dead.exists()
    assert resumable.exists() and running.exists() and starting.exists()


def test_a_running_run_is_not_offered_for_resume(app_paths) -> None:
    from cw_desktop.core.model_registry import list_interrupted_runs

    run_dir = make_run(app_paths, "busy", checkpoint=True)
    assert [r.name for r in list_interrupted_runs(app_paths)] == ["busy"]
    with FolderLock(run_dir / RUN_LOCK_FILE, "run"):
        assert list_interrupted_runs(app_paths) == []


# -- item 13: one training per run folder and output folder ------------------------------------

def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path) -> None:
    lock_file = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.stdin.read()"],
                              stdin=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        lock_file.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "now"}))
        with pytest.raises(FolderInUseError, match=f"process {holder.pid}"):
            FolderLock(lock_file, "The output folder X").acquire()
    finally:
        holder.communicate(b"")
    with FolderLock(lock_file, "The output folder X") as lock:  # its owner is gone: stale
        assert json.loads(lock_file.read_text())["pid"] == os.getpid() and lock.held
    assert not lock_file.exists()


def cli_env() -> dict[str, str]:
    return {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}


def test_a_second_training_into_the_same_output_is_refused(tmp_path, tiny_model_dir) -> None:
    folder = write_manuscripts(tmp_path / "manuscripts")
    output = tmp_path / "tuned"
    # The first training holds the output folder (it is this process: alive for the whole test).
    with FolderLock(output_lock_file(output), f"The output folder {output}"):
        proc = subprocess.run([sys.executable, "-m", "cw_desktop", "--data", str(tmp_path / "data"), "train",
                               str(folder), "--base", str(tiny_model_dir), "--output", str(output),
                               "--max-steps", "2", "--json-progress"],
                              capture_output=True, text=True, env=cli_env(), timeout=240)
    assert proc.returncode == 4, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events == [{"event": "error", "message": events[0]["message"]}]  # refused before any work
    assert f"The output folder {output} is in use by another training (process {os.getpid()}" in events[0]["message"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "runs").exists() or not any((tmp_path / "data" / "runs").iterdir())


def test_resuming_a_run_that_is_still_training_is_refused(tmp_path, tiny_model_dir, app_paths) -> None:
    folder = write_manuscripts(tmp_path / "manuscripts")
    run_dir = make_run(app_paths, "busy", checkpoint=True)
    config = tr.TrainConfig(folder=folder, paths=app_paths, base=str(tiny_model_dir), resume=run_dir)
    with FolderLock(run_dir / RUN_LOCK_FILE, "x"):
        with pytest.raises(FolderInUseError, match=f"The training run folder {run_dir} is in use"):
            tr.train(config)


def test_the_training_dialog_gets_the_in_use_message(qtbot, tmp_path, tiny_model_dir, app_paths) -> None:
    """Through the real worker: the trainer's refusal reaches `failed` with its message and code."""
    from cw_desktop.workers.training_process import TrainingProcess, cli_prefix, train_arguments

    folder = write_manuscripts(tmp_path / "manuscripts")
    output = tmp_path / "tuned"
    process = TrainingProcess.for_cli(app_paths, train_arguments(str(folder), str(tiny_model_dir), output=str(output),
                                                                 max_steps=2), prefix=cli_prefix())
    failures: list[dict] = []
    process.failed.connect(failures.append)
    with FolderLock(output_lock_file(output), f"The output folder {output}"):
        with qtbot.waitSignal(process.finished, timeout=120_000):
            process.start()
    assert len(failures) == 1 and failures[0]["exit_code"] == 4
    assert failures[0]["message"].startswith(f"The output folder {output} is in use by another training")


def test_locks_are_released_when_a_run_ends(tmp_path, tiny_model_dir, app_paths) -> None:
    folder = write_manuscripts(tmp_path / "manuscripts")
    output = tmp_path / "tuned"
    config = tr.TrainConfig(folder=folder, paths=app_paths, base=str(tiny_model_dir), output=output,
                            overrides={"mode": "full", "max_steps": 3, "block_size": 32}, samples=False)
    result = tr.train(config, should_stop=lambda: False)
    assert result.status == "done" and not output_lock_file(output).exists()
    with pytest.raises(ValueError, match="already exists and is not empty"):
        tr.train(config)  # the lock is free again: the ordinary check answers
    assert not output_lock_file(output).exists()


def test_the_cli_reports_a_full_disk_in_one_line_and_the_run_resumes(tmp_path, tiny_model_dir, monkeypatch,
                                                                      capsys) -> None:
    from cw_desktop.app import main

    folder = write_manuscripts(tmp_path / "manuscripts")
    data = tmp_path / "data"
    args = ["--data", str(data), "train", str(folder), "--base", str(tiny_model_dir), "--mode", "full",
            "--max-steps", "4", "--block-size", "32", "--no-samples", "--checkpoint-minutes", "0.0001",
            "--output", str(tmp_path / "tuned")]
    real_save = torch.save
    calls = []

    def full_after_the_first(obj, target, *a, **kw):
        calls.append(target)
        if len(calls) > 1:
            raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
                               "file data/3: file write failed")
        return real_save(obj, target, *a, **kw)

    from cw_desktop.core import disk_space

    monkeypatch.setattr(torch, "save", full_after_the_first)
    monkeypatch.setattr(disk_space, "free_bytes", lambda path: 0)
    assert main([*args, "--json-progress"]) == 1
    captured = capsys.readouterr()
    error = json.loads(captured.out.splitlines()[-1])
    assert error["event"] == "error" and error["message"].startswith("No space left on ")
    assert "previous checkpoint is kept" in error["message"] and "inline_container" not in error["message"]
    assert "Traceback" not in captured.err
    run_dir = next((data / "runs").iterdir())
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".checkpoint")] == []
    monkeypatch.setattr(torch, "save", real_save)
    monkeypatch.undo()
    assert main([*args, "--resume"]) == 0  # the step-1 checkpoint was kept and resumes
    assert (tmp_path / "tuned" / "report.json").is_file()


def test_a_garbled_lock_file_is_taken_over_once_it_is_not_brand_new(tmp_path) -> None:
    lock_file = tmp_path / "run.lock"
    lock_file.write_text("{not json")
    with pytest.raises(FolderInUseError, match="being locked"):  # may be a competitor mid-write
        FolderLock(lock_file, "The run folder").acquire()
    old = time.time() - 60
    os.utime(lock_file, (old, old))
    with FolderLock(lock_file, "The run folder") as lock:
        assert lock.held
