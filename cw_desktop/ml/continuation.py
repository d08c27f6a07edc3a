"""Train tonight on what changed: continue a fine-tune on the files changed since it was made, on
the same held-out chapters, within a time budget.

The trainer (ml/training.py) calls these at three points: the split (changed files only on the
training side, the recorded held-out chapters on the other), the plan (as many steps as fit in the
budget, by the same speed estimate the dialog shows), and the save (the manifest that lets the next
run know what changed; core/training_manifest.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cw_desktop.core.training_manifest import Changes, build_manifest, changes_since, chapter_file, write_manifest
from cw_desktop.ml import dataset as ds
from cw_desktop.ml.plan import Hyperparameters, ModelInfo, estimate_seconds


REPORT_NAME_HINT = "training_manifest.json or held_out_chapters in report.json"


class NothingChangedError(ValueError):
    """No file changed since the fine-tune: nothing to train (the message says so)."""


@dataclass
class ContinuationSplit:
    split: ds.Split  # train: units of changed files; eval: the recorded held-out chapters
    changes: Changes
    trained_before: list[ds.Unit]  # all training-side units now: what the model has learnt, for the copy guard


def held_out(unit_key: str, recorded: set[str]) -> bool:
    """A chapter recorded as held out, or one a held-out piece was cut from (a small folder's split
    holds out runs of paragraphs, "<path>#<chapter>.<piece>"): never trained on."""
    return unit_key in recorded or any(key.startswith(unit_key + ".") for key in recorded)


def continuation_split(documents: Sequence[Any], model_folder: Path, folder: Path, used_files: Sequence[str]) -> ContinuationSplit:
    """The fixed split of a continued fine-tune; NothingChangedError when there is nothing new to learn."""
    changes = changes_since(model_folder, folder, used_files)
    if not changes.held_out_chapters:
        raise ValueError(f"{model_folder} does not record which chapters it held out (no {REPORT_NAME_HINT}), so a "
                         "continued run could not be compared with it; start a new fine-tune instead.")
    recorded = set(changes.held_out_chapters)
    units = ds.document_units(documents)
    evaluation = [u for u in units if held_out(u.key, recorded)]
    if not evaluation:
        raise ValueError(f"None of the chapters {model_folder.name} held out is in {folder} any more, so its "
                         "perplexity could not be compared; start a new fine-tune instead.")
    since = f"since {changes.since}" if changes.since else "since the fine-tune was made"
    if not changes.changed:
        raise NothingChangedError(f"Nothing in {folder} changed {since}: no new or edited files, so there is "
                                  "nothing new to train on. Nothing was trained.")
    changed = set(changes.changed)
    training_side = [u for u in units if not held_out(u.key, recorded)]
    train, dropped = ds.drop_heldout_overlap([u for u in training_side if chapter_file(u.key) in changed], evaluation)
    if not train:
        raise NothingChangedError(f"Only held-out chapters changed in {folder} {since} ({', '.join(changes.changed)}); "
                                  "they stay held out so the numbers compare, so there is nothing new to train on. "
                                  "Nothing was trained.")
    return ContinuationSplit(ds.Split(train, evaluation, dropped), changes, training_side)


def steps_within(hp: Hyperparameters, info: ModelInfo, eval_tokens: int, seconds: float) -> Hyperparameters:
    """The plan cut to the steps that fit in `seconds` by the trainer's own estimate (estimate_seconds:
    training, evaluations and the fixed costs), never more than the plan had; evaluations and
    checkpoints stay at four per run."""
    def fits(steps: int) -> bool:
        trial = replace(hp, max_steps=steps, eval_interval=max(1, steps // 4))
        return estimate_seconds(trial, info, eval_tokens) <= seconds

    low, high = 1, max(1, hp.max_steps)
    if fits(high):
        steps = high
    else:
        while low < high:  # the largest step count that fits (1 when even that does not)
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        steps = low
    interval = max(1, steps // 4)
    return replace(hp, max_steps=steps, eval_interval=interval, checkpoint_interval=interval,
                   warmup_steps=max(1, min(hp.warmup_steps, steps // 10)),
                   epochs=round(hp.epochs * steps / max(1, hp.max_steps), 3))


def budget_overrides(overrides: dict[str, Any], minutes: float | None) -> dict[str, Any]:
    """With a budget and no explicit length, plan several passes over the (few) changed files; the
    budget then decides how many steps fit."""
    if minutes and overrides.get("max_steps") is None and overrides.get("epochs") is None:
        return {**overrides, "epochs": max(3.0, float(math.ceil(minutes / 10)))}
    return overrides


def continuation_report(result: ContinuationSplit, model_folder: Path) -> dict[str, Any]:
    """report.json's "continued" section."""
    return {"from": str(model_folder), "since": result.changes.since, "method": result.changes.method,
            "changed_files": result.changes.changed, "removed_files": result.changes.removed,
            "held_out_chapters_fixed": len(result.split.eval)}


def source_manifest(folder: Path, used_files: Sequence[str], split: ds.Split, continued: ContinuationSplit | None,
                    *, seed: int, eval_share: float, continued_from: Path | None = None) -> dict[str, Any]:
    """The fingerprints of the files as this run read them (taken at the start: a file edited during
    the run then counts as changed next time, never as already learnt) and the held-out chapters,
    which a continued run carries over unchanged."""
    held = continued.changes.held_out_chapters if continued else [u.key for u in split.eval]
    return build_manifest(folder, used_files, held, seed=seed, eval_share=eval_share,
                          continued_from=str(continued_from) if continued_from else None)


def with_manifest(write_report: Callable[[Path, dict[str, Any]], None],
                  manifest: dict[str, Any]) -> Callable[[Path, dict[str, Any]], None]:
    """The trainer's report writer, extended to put the manifest beside report.json."""

    def write(model_folder: Path, report: dict[str, Any]) -> None:
        write_report(model_folder, report)
        write_manifest(model_folder, manifest)

    return write
