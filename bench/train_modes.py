"""Training modes side by side: same data, same wall-clock budget, held-out perplexity reached.

    .venv/bin/python bench/train_modes.py [--data /tmp/cwd-shared] [--budget 240] [--modes full lora top]

The modes run one after the other in one process (data, split and the base model's perplexity
computed once), with the project's trainer (cw_desktop.ml.training.run_training) and its default learning rate for the
mode, held constant after warmup so a time-based stop is fair to every mode. Prints a Markdown
table for docs/training-modes.md.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO.parent / "shared" / "corpus" / "writers" / "austen"


class PeakRss:
    """Samples this process's resident memory while a mode trains (ru_maxrss only ever grows)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.5):
            with open("/proc/self/statm") as statm:
                self.peak = max(self.peak, int(statm.read().split()[1]) * page)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="/tmp/cwd-shared")
    parser.add_argument("--budget", type=float, default=180.0, help="training seconds per mode")
    parser.add_argument("--modes", nargs="+", default=["full", "lora", "top"])
    parser.add_argument("--train-units", type=int, default=40, help="training chapters in the slice")
    parser.add_argument("--interleaved", type=int, metavar="ROUNDS",
                        help="only throughput: alternate a few steps of each mode for ROUNDS rounds and "
                             "print median tokens/s and the ratio to full (robust to a busy machine)")
    args = parser.parse_args()
    if args.interleaved:
        return interleaved(args)

    from cw_desktop.core.paths import AppPaths
    from cw_desktop.ml import dataset as ds
    from cw_desktop.ml import training as tr
    from cw_desktop.ml.corpus import load_corpus
    from cw_desktop.ml.evaluation import evaluate
    from cw_desktop.ml.loading import load_model

    tr.configure_threads()
    paths = AppPaths.default(data=args.data)
    loaded = load_model("bundled", paths)
    corpus = load_corpus(AUSTEN)
    split = ds.split_units(ds.document_units(corpus.documents))
    split = ds.Split(split.train[:args.train_units], split.eval)  # a slice: minutes see only part anyway
    tokens = ds.tokenize_split(split, loaded.tokenizer)
    info = tr.ModelInfo.of(loaded)
    block = tr.plan_training(tokens.train_tokens, info, "cpu").block_size
    data = ds.pack_split(tokens, block)
    before = evaluate(loaded.model, data.eval_ids, block)
    print(f"held-out: {data.eval_tokens} tokens, ppl {before.perplexity:.3f}; train slice {data.train_tokens} "
          f"tokens", file=sys.stderr, flush=True)
    rows = []
    for mode in args.modes:
        loaded = load_model("bundled", paths)
        hp = tr.plan_training(tokens.train_tokens, info, "cpu", {"mode": mode, "max_steps": 10**6})
        hp.min_lr = hp.lr  # constant after warmup: the stop is by time, not by a schedule's end
        hp.warmup_steps = 5
        hp.eval_interval = hp.checkpoint_interval = 10**9
        model = tr.apply_mode(loaded.model, hp)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        load_start = os.getloadavg()[0]
        started = time.perf_counter()
        with PeakRss() as rss, tempfile.TemporaryDirectory() as run_dir:
            result = tr.run_training(model, data, hp, Path(run_dir),
                                     should_stop=lambda: time.perf_counter() - started > args.budget)
        after = evaluate(tr.plain_model(model), data.eval_ids, hp.block_size)
        rows.append({"mode": mode, "steps": result.state.step, "tokens": result.state.tokens_seen,
                     "tokens_per_s": result.state.tokens_seen / max(1e-6, result.state.elapsed_s),
                     "trainable_params": trainable, "lr": hp.lr, "ppl_before": before.perplexity,
                     "ppl_after": after.perplexity, "peak_rss_mb": rss.peak / 2**20,
                     "load": (load_start + os.getloadavg()[0]) / 2})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        del model, loaded
    hp = tr.plan_training(tokens.train_tokens, info, "cpu")
    print(f"Block {hp.block_size}, micro-batch {hp.batch_size}, grad accum {hp.grad_accum}; "
          f"{data.train_tokens:,} training tokens, {data.eval_tokens:,} held-out tokens; {args.budget:.0f} s each.\n")
    print("| mode | lr | trainable params | steps | tokens/s | held-out ppl before | after | change | "
          "peak RSS MB | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        change = (r["ppl_after"] - r["ppl_before"]) / r["ppl_before"] * 100
        print(f"| {r['mode']} | {r['lr']:g} | {r['trainable_params'] / 1e6:.1f} M | {r['steps']} | "
              f"{r['tokens_per_s']:.0f} | {r['ppl_before']:.2f} | {r['ppl_after']:.2f} | {change:+.1f}% | "
              f"{r['peak_rss_mb']:.0f} | {r['load']:.1f} |")
    return 0


def interleaved(args: argparse.Namespace, steps_per_turn: int = 2) -> int:
    """Throughput ratios measured turn by turn, so every mode sees the same machine load."""
    import statistics

    import torch

    from cw_desktop.core.paths import AppPaths
    from cw_desktop.ml import training as tr
    from cw_desktop.ml.loading import load_model

    tr.configure_threads()
    paths = AppPaths.default(data=args.data)
    models, optimizers = {}, {}
    for mode in args.modes:
        loaded = load_model("bundled", paths)
        hp = tr.Hyperparameters(mode=mode, top_layers=4)
        models[mode] = tr.apply_mode(loaded.model, hp).train()
        optimizers[mode] = torch.optim.AdamW(tr.optimizer_groups(models[mode], 0.1), lr=1e-5)
    hp = tr.plan_training(1_000_000, tr.ModelInfo.of(loaded), "cpu")
    x = torch.randint(0, loaded.tokenizer.vocab_size, (hp.batch_size, hp.block_size))  # [B, T]
    speeds: dict[str, list[float]] = {mode: [] for mode in args.modes}
    for _round in range(args.interleaved + 1):  # round 0 warms up and is discarded
        for mode in args.modes:
            started = time.perf_counter()
            for _ in range(steps_per_turn):
                models[mode](input_ids=x, labels=x).loss.backward()
                optimizers[mode].step()
                optimizers[mode].zero_grad(set_to_none=True)
            if _round:
                speeds[mode].append(steps_per_turn * x.numel() / (time.perf_counter() - started))
    full = statistics.median(speeds.get("full") or [1.0])
    print(f"| mode | median tokens/s | x full | load avg {os.getloadavg()[0]:.1f} |")
    print("|---|---|---|---|")
    for mode, values in speeds.items():
        print(f"| {mode} | {statistics.median(values):.0f} | {statistics.median(values) / full:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
