"""Learning from accept/reject: how fast the DPO step runs on the bundled model, for a realistic log.

A synthetic log of PLACES places cut from a real novel: the context is ~60 words, the writer's own
words typed over the suggestion are the next 8-15 words of the novel, the rejected suggestion is
8-15 words from elsewhere in it (fluent, but not what comes next). Pairs, split and encoding are the
app's (core/preference_pairs.py, ml/preferences.py); the step is timed for --steps steps and the
whole default run (2 passes, at most 200 steps of 4 pairs) is extrapolated from that.

    .venv/bin/python bench/preferences.py [--places 300] [--steps 10]
"""

from __future__ import annotations

import argparse
import random
import time

import common  # noqa: F401 - paths and offline mode first

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.preference_pairs import extract_pairs, split_pairs
from cw_desktop.core.suggestion_log import make_event
from cw_desktop.ml import preferences as pf
from cw_desktop.ml.loading import load_model
from cw_desktop.ml.train_loop import configure_threads


def synthetic_events(places: int, seed: int = 7) -> list[dict]:
    words = " ".join((common.WRITERS / "austen" / "Persuasion.txt").read_text(encoding="utf-8").split()).split()
    rng = random.Random(seed)
    events = []
    for _ in range(places):
        at = rng.randrange(100, len(words) - 100)
        elsewhere = rng.randrange(100, len(words) - 100)
        context = " ".join(words[at - 60:at])
        own = " " + " ".join(words[at:at + rng.randint(8, 15)])
        suggestion = " " + " ".join(words[elsewhere:elsewhere + rng.randint(8, 15)])
        events.append(make_event(model="bundled", outcome="typed_over", suggestion=suggestion, context=context,
                                 after_text=own))
    return events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--places", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    configure_threads(None)
    loaded = load_model("bundled", AppPaths.default())
    settings = pf.PreferenceSettings()
    started = time.perf_counter()
    split = split_pairs(extract_pairs(synthetic_events(args.places)))
    train = pf.encode_pairs(loaded.tokenizer, split.train, settings)
    held = pf.encode_pairs(loaded.tokenizer, split.held_out, settings)
    prepare_s = time.perf_counter() - started
    pad = loaded.tokenizer.pad_token_id
    started = time.perf_counter()
    before = pf.pairwise(loaded.model, held, pad)
    eval_s = time.perf_counter() - started
    model = pf.add_preference_adapter(loaded.model, settings)
    timed = pf.PreferenceSettings(max_steps=args.steps, epochs=100.0)
    run = pf.train_preferences(model, train, timed, pad)
    after = pf.pairwise(model, held, pad)
    reference_s = run.reference_seconds  # the one reference pass over all training pairs (inference)
    step_s = max(1e-6, (run.seconds - reference_s) / run.steps)
    default_steps = min(settings.max_steps, -(-int(settings.epochs * len(train)) // settings.batch_pairs))
    total_s = prepare_s + 2 * eval_s + reference_s + default_steps * step_s
    print(f"log: {args.places} places -> {split.total} pairs ({len(train)} train, {len(held)} held out); "
          f"prepare {prepare_s:.1f} s")
    print(f"scoring (inference, both sides): {len(held) / eval_s:.1f} pairs/s")
    print(f"DPO training: {settings.batch_pairs / step_s:.2f} pairs/s ({step_s:.2f} s per step of "
          f"{settings.batch_pairs} pairs), {run.steps} steps timed")
    print(f"default run ({default_steps} steps): ~{total_s / 60:.1f} min (before the guard's perplexity and "
          "keystroke checks)")
    print(f"held-out accuracy after {run.steps} steps: {before.accuracy:.2f} -> {after.accuracy:.2f}; "
          f"margin {before.margin:+.2f} -> {after.margin:+.2f} nats")


if __name__ == "__main__":
    main()
