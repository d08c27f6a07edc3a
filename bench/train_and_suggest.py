"""Suggestions while a fine-tune runs on the same cores: latency with and without a concurrent
trainer, for the CPU split the editor uses (ml.plan: trainer on all cores but one, suggestions on the
rest) against both at full width (before the split).

A typing session on the bundled model (the draft grows by a few characters per pause, one
suggestion per pause, as in bench/latency.py) is replayed in this process under each condition with
a fresh engine; the trainer is the real `cw-desktop train --json-progress` child in top mode (the
CPU default), started before the session and stopped after it. Its own tokens/s during the session
come from its step events, so the cost of the split to training is shown too.

    .venv/bin/python bench/train_and_suggest.py [--pauses N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import common
from common import Section, median, ms, p90, table

# (label, trainer threads (None: its default, -1: the editor's split), editor torch threads (same), trainer
# running, trainer niceness)
CONDITIONS: list[tuple[str, int | None, int | None, bool, int]] = [
    ("no training", None, None, False, 0),
    ("training, both on all cores (before)", None, None, True, 0),
    ("training, split: trainer cores-1, editor the rest", -1, -1, True, 0),
    ("training, split + trainer at lower priority (nice 10)", -1, -1, True, 10),
]


class Trainer:
    """The CLI trainer as a child process; records the time of each step event."""

    def __init__(self, root: Path, folder: Path, threads: int | None, niceness: int = 0) -> None:
        args = [str(common.PYTHON), "-m", "cw_desktop", "--config", str(root / "config"), "--data",
                str(root / f"data-{time.monotonic_ns()}"), "--cache", str(common.shared_paths().cache_dir),
                "train", str(folder), "--base", "bundled", "--mode", "top", "--max-steps", "100000",
                "--no-samples", "--json-progress"]
        if threads is not None:
            args += ["--threads", str(threads)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(args, cwd=common.REPO, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True,
                                        preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
        self.steps: list[tuple[float, int]] = []  # (time, tokens seen so far)
        self.training = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        tokens = 0
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "plan":
                hp = event["hyperparameters"]
                self.tokens_per_step = hp["block_size"] * hp["batch_size"] * hp["grad_accum"]
            if event.get("event") == "step":
                tokens += self.tokens_per_step
                self.steps.append((time.perf_counter(), tokens))
                self.training.set()

    def tokens_per_s(self, start: float, end: float) -> float:
        inside = [(t, n) for t, n in self.steps if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def session(loaded: Any, draft: str, chunks: list[str], threads: int | None) -> tuple[list[float], list[float]]:
    import torch

    from cw_desktop.ml.backends import make_generator
    from cw_desktop.ml.generation import preset

    settings = preset("prose", seed=0)
    engine = make_generator(loaded)  # the editor's engine for this model (llama.cpp or torch)
    if hasattr(engine, "set_threads"):  # llama.cpp keeps its own count, as the editor's worker sets it
        engine.set_threads(threads)
    engine.suggest(draft, settings)  # opening the document: the one full prefill
    torch.manual_seed(0)
    first_times, full_times = [], []
    for chunk in chunks:
        draft += chunk
        first: list[float] = []
        started = time.perf_counter()
        engine.suggest(draft, settings, on_token=lambda *_: first or first.append(time.perf_counter()))
        ended = time.perf_counter()
        first_times.append((first[0] if first else ended) - started)
        full_times.append(ended - started)
    return first_times, full_times


def run(pauses: int = 12, backend: str = "auto") -> Section:
    import torch

    from cw_desktop.ml.backends.selection import load_for_inference

    from cw_desktop.ml.plan import cpu_threads, editor_threads_while_training, trainer_threads_beside_editor
    from gui_stall import writing_folder

    common.header("suggestions while training")
    section = Section("5b. Suggestions while a fine-tune runs", ".venv/bin/python bench/train_and_suggest.py")
    loaded = load_for_inference("bundled", common.shared_paths(), backend=backend)
    text = common.prose()
    draft = common.text_with_tokens(loaded.tokenizer, text, 1000)
    rng = random.Random(0)
    chunks, position = [], len(draft)
    for _ in range(pauses):
        size = rng.randint(2, 8)
        chunks.append(text[position:position + size])
        position += size
    default_threads = torch.get_num_threads()
    rows, data = [], {}
    with tempfile.TemporaryDirectory(prefix="cw-bench-train-suggest-") as tmp:
        root = Path(tmp)
        folder = writing_folder(root)
        for label, trainer_threads, editor_threads, training, niceness in CONDITIONS:
            trainer_threads = trainer_threads_beside_editor() if trainer_threads == -1 else trainer_threads
            editor_threads = editor_threads_while_training() if editor_threads == -1 else editor_threads
            trainer = Trainer(root, folder, trainer_threads, niceness) if training else None
            if trainer is not None and not trainer.training.wait(timeout=600):
                trainer.stop()
                raise RuntimeError("the trainer did not reach its first step within 10 minutes")
            torch.set_num_threads(editor_threads or default_threads)
            load = common.load_average()
            started = time.perf_counter()
            first, full = session(loaded, draft, chunks, editor_threads)
            ended = time.perf_counter()
            speed = trainer.tokens_per_s(started, ended) if trainer else float("nan")
            if trainer is not None:
                trainer.stop()
            torch.set_num_threads(default_threads)
            data[label] = {"first": first, "full": full, "trainer_tokens_per_s": speed, "load": load,
                           "trainer_threads": trainer_threads or cpu_threads() if training else 0,
                           "editor_threads": editor_threads or default_threads}
            print(f"  {label}: first {ms(median(first))}, full {ms(median(full))}, trainer {speed:.0f} tok/s",
                  flush=True)
            idle = median(data[CONDITIONS[0][0]]["full"])
            rows.append([label, data[label]["trainer_threads"] or "–", data[label]["editor_threads"],
                         ms(median(first)), ms(p90(first)), ms(median(full)), ms(p90(full)),
                         f"{median(full) / idle:.2f}x",
                         "–" if speed != speed else f"{speed:.0f}", load])
    section.add(f"{pauses} pauses of a typing session on a 1,000-token draft (prose preset), bundled model on "
                f"{loaded.backend}, "
                f"{cpu_threads()} cores; trainer: `cw-desktop train --mode top` on three Austen extracts:\n\n" + table(
        ["condition", "trainer threads", "editor threads", "first token median", "first token p90",
         "suggestion median", "suggestion p90", "vs no training", "trainer tokens/s", "load average before"], rows))
    section.data = data
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pauses", type=int, default=12)
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "llamacpp"))
    args = parser.parse_args()
    section = run(args.pauses, args.backend)
    print(section.markdown())
    section.save("train_and_suggest")


if __name__ == "__main__":
    main()
