"""Per-step cost of the decoding constraints (ml/constraints.py) on a 1,000-token prose context.

DRY walks back from every earlier occurrence of the last token; the banned-phrase check runs one
regular expression over the end of the text. Both run once per decoded token and row, so each must
stay well under the ~10-80 ms a decoding step of the model takes. No model is run: only the
bundled model's tokenizer.

    .venv/bin/python bench/constraints_cost.py [--model bundled|<path>]
"""

from __future__ import annotations

import argparse
import time

import common
from common import AUSTEN, Section, median, table

STEPS = 200


def run(model: str = "bundled") -> Section:
    import numpy as np
    from transformers import AutoTokenizer

    from cw_desktop.core.generation_settings import DRY_BREAKERS
    from cw_desktop.ml.constraints import BannedPhrases, DryPenalty
    from cw_desktop.ml.loading import resolve_folder

    common.header("constraints")
    folder, _entry = resolve_folder(model, common.shared_paths())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = AUSTEN.read_text(encoding="utf-8")[20_000:40_000]
    ids = tokenizer.encode(text)[:1000 + STEPS]
    scores = np.zeros((1, len(tokenizer)), dtype=np.float32)  # the engine's hooks take numpy logits
    dry = DryPenalty(0.8, 1.75, 2, DRY_BREAKERS, lambda t: tokenizer.decode([t]))
    dry.apply(scores, [ids[:1000]])  # the breaker cache fills on the first request
    dry_times = []
    for step in range(STEPS):  # the context grows by one token per step, as in decoding
        started = time.perf_counter()
        dry.apply(scores, [ids[:1000 + step]])
        dry_times.append(time.perf_counter() - started)
    bans = BannedPhrases(["suddenly", "a shiver ran down her spine", "all of a sudden", "little did she know",
                          "tapestry", "barely above a whisper", "in that moment", "couldn't help but"])
    tail = tokenizer.decode(ids[:1000])[-bans.reach:]
    suggestion = tokenizer.decode(ids[1000:1000 + 24])
    ban_times = []
    for step in range(STEPS):
        started = time.perf_counter()
        bans.find(tail + suggestion[:step % 120], len(tail))
        bans.pending(tail + suggestion[:step % 120])
        ban_times.append(time.perf_counter() - started)
    rows = [["DRY penalty (0.8, 1.75, 2), 1,000-1,200 token context", f"{median(dry_times) * 1e6:.0f} µs",
             f"{common.p90(dry_times) * 1e6:.0f} µs"],
            ["banned phrases (8), find + streaming hold-back", f"{median(ban_times) * 1e6:.0f} µs",
             f"{common.p90(ban_times) * 1e6:.0f} µs"]]
    section = Section("Decoding constraints: cost per step and row", ".venv/bin/python bench/constraints_cost.py")
    section.add(f"Tokenizer of {model}; Pride and Prejudice prose; {STEPS} steps.")
    section.add(table(["check", "median", "p90"], rows))
    section.data = {"dry_median_s": median(dry_times), "dry_max_s": max(dry_times),
                    "bans_median_s": median(ban_times), "bans_max_s": max(ban_times)}
    print(table(["check", "median", "p90"], rows), flush=True)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args()
    run(args.model).save("constraints_cost")


if __name__ == "__main__":
    main()
