"""Training throughput with one process vs two (accelerate launch, DDP over gloo) on this machine.

The same `cw-desktop train` command, the same data and the same effective batch: one process with
`--threads N --batch-size 2B` against `accelerate launch --multi_gpu --num_processes 2` with
`--threads N/2 --batch-size B` each (on a machine without GPUs --multi_gpu selects torchrun's
launcher; the processes join over gloo). tokens/s is the report's: training tokens of all processes
over the training time (evaluations excluded). Runs alternate (1, 2, 1, 2, ...) so both see the
same machine load; the load average is printed beside each run.

    .venv/bin/python bench/train_processes.py [--model bundled|PATH] [--mode top] [--steps 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO.parent / "shared" / "corpus" / "writers" / "austen" / "Northanger Abbey.txt"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(processes: int, args: argparse.Namespace, folder: Path, root: Path, index: int) -> dict:
    threads = max(1, os.cpu_count() or 1) // processes
    output = root / f"out-{processes}p-{index}"
    # --cache: the already-prepared bundled model (with --data alone the cache moves under it).
    train = ["--data", str(root / "data"), "--cache", args.cache, "train", str(folder), "--base", args.model,
             "--output", str(output),
             "--mode", args.mode, "--max-steps", str(args.steps), "--block-size", str(args.block),
             "--batch-size", str(args.batch // processes), "--grad-accum", "1", "--no-samples",
             "--threads", str(threads), "--json-progress"]
    if processes == 1:
        command = [sys.executable, "-m", "cw_desktop", *train]
    else:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                   str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", str(free_port()), "-m", "cw_desktop", *train]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": str(REPO), "HF_HOME": str(root / "hf-home")}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{processes}-process run failed:\n{proc.stderr[-3000:]}")
    report = json.loads((output / "report.json").read_text())
    shutil.rmtree(output)
    hp = report["hyperparameters"]
    return {"processes": processes, "threads": threads, "tokens_per_s": report["tokens_per_s"],
            "effective_batch": hp["batch_size"] * processes * hp["grad_accum"],
            "first_eval_loss": round(report["history"][0]["eval_loss"], 5),
            "training_s": report["training_seconds"], "wall_s": round(wall, 1),
            "perplexity_after": report["perplexity_after"], "load": round(load_before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--mode", default="top")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "cw_desktop"),
                        help="the cache folder holding the prepared bundled model")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4, help="effective blocks per step (split over processes)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cw-train-processes-"))
    folder = root / "books"
    folder.mkdir()
    text = AUSTEN.read_text(encoding="utf-8")
    start = text.index("CHAPTER 1")
    # Enough text that the plan never shrinks the batch (it keeps >= 16 steps per epoch).
    (folder / "northanger.txt").write_text(text[start:start + 100_000], encoding="utf-8")
    rows = []
    try:
        for index in range(args.rounds):
            for processes in (1, 2):
                rows.append(run(processes, args, folder, root, index))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for processes in (1, 2):
        mine = [r["tokens_per_s"] for r in rows if r["processes"] == processes]
        print(f"{processes} process(es): tokens/s {sorted(mine)} (median {sorted(mine)[len(mine) // 2]})")


if __name__ == "__main__":
    main()
