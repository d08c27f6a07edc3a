"""5. Fine-tuning throughput: the project's training loop vs Hugging Face `Trainer` (run_clm style), per
training mode, plus the held-out perplexity each mode reaches in the same wall-clock budget.

Same model (bundled SmolLM2-135M), same data (three Austen extracts in a manuscripts folder, read,
cleaned, split by chapter and packed into blocks by the project's pipeline — run_clm's "group texts
into blocks"), same block size, micro-batch, gradient accumulation, number of steps, learning-rate
schedule shape, AdamW betas and gradient clipping, the same torch thread count; the same trainable
parameters per mode (cw_desktop.ml.training.apply_mode, LoRA without dropout). Each run is a fresh
process, so its peak RSS is its own. tokens/s counts from the end of step 1 to the last step: the
first step pays one-off allocation costs in both trainers. The runs of the two sides alternate
(ours, Trainer, Trainer, ours, ...) so a change in the machine's load hits both; medians are kept.
With the defaults (2 runs per side for full, 3 for lora and top, no perplexity table) it takes
~7 minutes on an idle 2-core machine; --with-budget adds the perplexity-per-budget table (~4 minutes more).

    .venv/bin/python bench/finetune_throughput.py [--quick] [--steps N] [--budget S] [--modes full,lora,top] [--with-budget] [--repeats N]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import Section, median, table

BLOCK = 256
BATCH = 2
ACCUM = 1

PREPARE = """
import json, math, resource, time, warnings
from pathlib import Path
import torch
warnings.filterwarnings("ignore")
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml import dataset as ds, training as tr
from cw_desktop.ml.corpus import load_corpus
from cw_desktop.ml.evaluation import evaluate
from cw_desktop.ml.loading import load_model
from cw_desktop.ml.plan import cpu_threads

torch.set_num_threads(cpu_threads())  # both sides: our loop sets the same count again, the Trainer keeps it
paths = AppPaths.default(data={data!r}, cache={cache!r})
loaded = load_model("bundled", paths)
corpus = load_corpus(Path({folder!r}))
split = ds.split_units(ds.document_units(corpus.documents), seed=ds.DEFAULT_SEED, source={folder!r})
tokens = ds.tokenize_split(split, loaded.tokenizer)
hp = tr.plan_training(tokens.train_tokens, tr.ModelInfo.of(loaded), "cpu", {overrides!r})
data = ds.pack_split(tokens, hp.block_size)
torch.manual_seed(hp.seed)
model = tr.apply_mode(loaded.model, hp)
step_times = []
"""

OURS = PREPARE + """
class Measured(Exception):
    pass  # the last step is timed: end without the loop's final evaluation (the Trainer run has none)

budget = {budget}
def on_event(event):
    if event.get("event") == "step":
        step_times.append(time.perf_counter())
        if not budget and event["step"] == event["max_steps"]:
            raise Measured
started = time.perf_counter()
stop = (lambda: time.perf_counter() - started > budget) if budget else None
try:
    tr.run_training(model, data, hp, Path({run_dir!r}), on_event=on_event, should_stop=stop)
except Measured:
    pass
steps = len(step_times)
tokens_per_step = hp.block_size * hp.batch_size * hp.grad_accum
speed = (steps - 1) * tokens_per_step / (step_times[-1] - step_times[0]) if steps > 1 else float("nan")
out = {{"tokens_per_s": speed, "steps": steps, "tokens_per_step": tokens_per_step,
        "rss_mb": {peak},
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad), "hp": hp.to_dict(),
        "train_tokens": data.train_tokens, "eval_tokens": data.eval_tokens}}
if budget:
    model = tr.plain_model(model)
    out["perplexity"] = evaluate(model, data.eval_ids, hp.block_size).perplexity
    out["seconds"] = time.perf_counter() - started
print(json.dumps(out))
"""

HF_TRAINER = PREPARE + """
from transformers import Trainer, TrainerCallback, TrainingArguments

class Blocks(torch.utils.data.Dataset):
    # run_clm's output: fixed-length blocks of the concatenated token stream, labels = inputs.
    def __init__(self, blocks):
        self.blocks = blocks
    def __len__(self):
        return len(self.blocks)
    def __getitem__(self, i):
        return {{"input_ids": self.blocks[i], "labels": self.blocks[i]}}

class Clock(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        step_times.append(time.perf_counter())

args = TrainingArguments(output_dir={run_dir!r}, per_device_train_batch_size=hp.batch_size,
                         gradient_accumulation_steps=hp.grad_accum, max_steps=hp.max_steps, learning_rate=hp.lr,
                         weight_decay=hp.weight_decay, adam_beta1=0.9, adam_beta2=0.95, adam_epsilon=1e-8,
                         max_grad_norm=hp.grad_clip, lr_scheduler_type="cosine", warmup_steps=hp.warmup_steps,
                         logging_strategy="no", save_strategy="no", eval_strategy="no", report_to=[],
                         dataloader_num_workers=0, use_cpu=True, seed=hp.seed, disable_tqdm=True)
trainer = Trainer(model=model, args=args, train_dataset=Blocks(data.train_blocks()), callbacks=[Clock()])
trainer.train()
steps = len(step_times)
tokens_per_step = hp.block_size * hp.batch_size * hp.grad_accum
speed = (steps - 1) * tokens_per_step / (step_times[-1] - step_times[0]) if steps > 1 else float("nan")
print(json.dumps({{"tokens_per_s": speed, "steps": steps, "tokens_per_step": tokens_per_step,
                  "rss_mb": {peak},
                  "torch_threads": torch.get_num_threads()}}))
"""

BASE_PPL = PREPARE + """
model.eval()
print(json.dumps({{"perplexity": evaluate(model, data.eval_ids, hp.block_size).perplexity,
                  "eval_tokens": data.eval_tokens}}))
"""


def writing_folder(root: Path) -> Path:
    from gui_stall import writing_folder as make

    return make(root)


def run(quick: bool = False, steps: int | None = None, budget: float | None = None,
        modes: tuple[str, ...] | None = None, with_budget: bool = False, repeats: int | None = None) -> Section:
    common.header("fine-tuning throughput")
    started = time.perf_counter()
    from cw_desktop.ml.plan import DEFAULT_CPU_MODE, MODES

    steps = steps or (4 if quick else 8)
    budget = budget or (20.0 if quick else 40.0)
    # A full-mode run takes twice as long as a LoRA one and four times a top one: 2 runs per side for it,
    # 3 for the others (the median of 3 resists one run hit by a load spike), ~7 minutes on 2 idle cores.
    runs_per_mode = {mode: repeats or (1 if quick else 2 if mode == "full" else 3) for mode in MODES}
    modes = modes or tuple(MODES)
    section = Section("5. Fine-tuning throughput", f".venv/bin/python bench/finetune_throughput.py{' --quick' if quick else ''}")
    common.load_bundled()
    cache = str(common.shared_paths().cache_dir)
    rows, data = [], {}
    with tempfile.TemporaryDirectory(prefix="cw-bench-train-") as tmp:
        root = Path(tmp)
        folder = str(writing_folder(root))

        runs = itertools.count()

        def script(template: str, mode: str, run_budget: float = 0.0, own_schedule: bool = False) -> str:
            run_dir = root / f"run-{mode}-{next(runs)}"
            run_dir.mkdir()
            overrides: dict[str, Any] = {"mode": mode, "block_size": BLOCK, "batch_size": BATCH, "grad_accum": ACCUM,
                                         "max_steps": steps if not run_budget else 100_000}
            if not own_schedule:
                # No evaluation or checkpoint inside the measured steps: the HF Trainer run has none either.
                overrides.update(eval_interval=10**9, checkpoint_interval=10**9)
            return template.format(data=str(root / "data"), cache=cache, folder=folder, overrides=overrides,
                                   budget=run_budget, run_dir=str(run_dir), peak=common.PEAK_RSS_MB)

        for mode in modes:
            # Alternated (ours, Trainer, Trainer, ours, ...) so both sides see the same drift in load;
            # the median speed of each side is reported.
            runs_of: dict[str, list[dict[str, Any]]] = {"ours": [], "hf": []}
            for repeat in range(runs_per_mode[mode]):
                for side in (("ours", "hf") if repeat % 2 == 0 else ("hf", "ours")):
                    run_started = time.perf_counter()
                    runs_of[side].append(common.run_python(script(OURS if side == "ours" else HF_TRAINER, mode)))
                    print(f"  {mode} {side}: {runs_of[side][-1]['tokens_per_s']:.0f} tok/s "
                          f"({time.perf_counter() - run_started:.0f} s, load {common.load_average()})", flush=True)
            ours, theirs = ({**items[0], "tokens_per_s": median([r["tokens_per_s"] for r in items]),
                             "rss_mb": max(r["rss_mb"] for r in items)} for items in (runs_of["ours"], runs_of["hf"]))
            data[f"ours-{mode}"], data[f"hf-{mode}"] = ours, theirs
            data[f"all-{mode}"] = {side: [r["tokens_per_s"] for r in items] for side, items in runs_of.items()}
            rows.append([mode + (" (default on CPU)" if mode == DEFAULT_CPU_MODE else ""), f"{ours['trainable'] / 1e6:.1f} M",
                         f"{ours['tokens_per_s']:.0f}", f"{theirs['tokens_per_s']:.0f}",
                         f"{ours['tokens_per_s'] / theirs['tokens_per_s']:.2f}x",
                         f"{ours['rss_mb']:.0f} MB", f"{theirs['rss_mb']:.0f} MB"])
        if "full" in modes and with_budget:
            scheduled = common.run_python(script(OURS, "full", own_schedule=True))
            data["ours-full-own-schedule"] = scheduled
            rows.append(["full, with the trainer's own schedule (eval + checkpoint every max_steps/5)", "",
                         f"{scheduled['tokens_per_s']:.0f}", f"{data['hf-full']['tokens_per_s']:.0f}",
                         f"{scheduled['tokens_per_s'] / data['hf-full']['tokens_per_s']:.2f}x",
                         f"{scheduled['rss_mb']:.0f} MB", ""])
        first = data[f"ours-{modes[0]}"]
        section.add(f"{', '.join(f'{runs_per_mode[m]} ({m})' for m in modes)} run(s) per side, alternated, "
                    f"median shown; "
                    f"{steps} optimizer steps of {first['tokens_per_step']} tokens (block {BLOCK} x batch {BATCH} x "
                    f"accumulation {ACCUM}); {first['train_tokens']:,} training tokens, bundled model:\n\n" + table(
            ["mode", "trainable params", "ours tokens/s", "HF Trainer tokens/s", "ours / Trainer", "ours peak RSS",
             "Trainer peak RSS"], rows))
        section.add("Single runs (tokens/s, in run order): " + "; ".join(
            f"{mode} ours {' / '.join(f'{v:.0f}' for v in data[f'all-{mode}']['ours'])}, Trainer "
            f"{' / '.join(f'{v:.0f}' for v in data[f'all-{mode}']['hf'])}" for mode in modes) + ".")

        if not with_budget:  # throughput only (the perplexity-per-budget table takes minutes more)
            section.data = data
            return finish(section, data, modes, started)
        base = common.run_python(script(BASE_PPL, modes[0]))
        budget_rows = [["(base model, untrained)", "–", "–", f"{base['perplexity']:.2f}"]]
        for mode in modes:
            result = common.run_python(script(OURS, mode, budget))
            data[f"budget-{mode}"] = result
            budget_rows.append([mode, result["steps"], f"{result['steps'] * result['tokens_per_step']:,}",
                                f"{result['perplexity']:.2f}"])
        section.add(f"Held-out perplexity after the same wall-clock training budget ({budget:.0f} s of the project's "
                    f"loop per mode, then evaluated on the {base['eval_tokens']:,} held-out tokens):\n\n" + table(
            ["mode", "steps in budget", "tokens seen", "held-out perplexity"], budget_rows))
    section.data = data
    return finish(section, data, modes, started)


def finish(section: Section, data: dict[str, Any], modes: tuple[str, ...], started: float) -> Section:
    section.add(f"Load average at the end: {common.load_average()}; the benchmark took "
                f"{(time.perf_counter() - started) / 60:.1f} min.")
    for mode in modes:
        speed = data[f"ours-{mode}"]["tokens_per_s"] / data[f"hf-{mode}"]["tokens_per_s"]
        section.target(f"fine-tuning tokens/s vs HF Trainer, {mode}", ">= 1.0x", f"{speed:.2f}x", speed >= 1.0)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--budget", type=float)
    parser.add_argument("--modes")
    parser.add_argument("--with-budget", action="store_true", help="add the perplexity-per-budget table")
    parser.add_argument("--no-budget", action="store_true", help="(the default) no perplexity-per-budget table")
    parser.add_argument("--repeats", type=int, help="runs per side and mode, alternated (median kept); default 2 (full) / 3")
    args = parser.parse_args()
    section = run(args.quick, args.steps, args.budget, tuple(args.modes.split(",")) if args.modes else None,
                  with_budget=args.with_budget and not args.no_budget, repeats=args.repeats)
    print(section.markdown())
    section.save("finetune_throughput")


if __name__ == "__main__":
    main()
