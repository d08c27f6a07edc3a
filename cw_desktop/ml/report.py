"""report.json (machine-readable provenance, read back by load_model) and report.md (for people)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.file_names import display_name
from cw_desktop.core.model_registry import REPORT_FILE

REPORT_MD = "report.md"


def build_report(*, name: str, base: str, base_display: str, folder: Path, corpus: Any, data: Any, hp: Any,
                 before: Any, after: Any, loop: Any, duration_s: float, prompts: Sequence[tuple[str, str]],
                 samples_before: Sequence[str], samples_after: Sequence[str], context_length: int,
                 eval_share: float, keystrokes: tuple[float | None, float | None] = (None, None),
                 samples_copying: dict[str, Any] | None = None) -> dict[str, Any]:
    """The keys of report.json (docs/architecture.md), plus what a reader needs to trust the numbers."""
    samples = [{"form": form, "prompt": prompt,
                "before": samples_before[i] if i < len(samples_before) else "",
                "after": samples_after[i] if i < len(samples_after) else ""}
               for i, (form, prompt) in enumerate(prompts)] if (samples_before or samples_after) else []
    return {
        "name": name,
        "base_model": base,
        "base_model_name": base_display,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "folder": display_name(folder),  # valid Unicode even when the folder's name is not UTF-8
        "mode": hp.mode,
        "perplexity_before": round(before.perplexity, 4),
        "perplexity_after": round(after.perplexity, 4),
        "eval_loss_before": round(before.loss, 6),
        "eval_loss_after": round(after.loss, 6),
        "train_tokens": data.train_tokens,
        "eval_tokens": data.eval_tokens,
        "words": corpus.words,
        "eval_share": eval_share,  # with hyperparameters.seed: reproduces the split (cw-desktop eval)
        "held_out_chapters": [u.key for u in data.split.eval],
        # Training chapters left out because they repeat a held-out one (ml.dataset.drop_heldout_overlap).
        "heldout_overlap_dropped": data.split.heldout_overlap_dropped,
        "accepted_suggestions_used": data.extra_train_texts,
        "files_used": [f.path for f in corpus.files if f.status == "used"],
        "files_skipped": [{"path": f.path, "reason": f.reason} for f in corpus.files if f.status != "used"],
        "hyperparameters": hp.to_dict(),
        "steps": loop.state.step,
        "stopped": loop.status,  # "done" or "early_stopped"
        "best_step": loop.state.best_step,
        "training_seconds": round(loop.state.elapsed_s, 1),
        "duration_s": round(duration_s, 1),
        "tokens_per_s": round(loop.state.tokens_seen / max(1e-6, loop.state.elapsed_s), 1),
        "samples": samples,
        # Tuned samples repeating >= threshold_words consecutive training words (ml/memorisation.py).
        "samples_copying": samples_copying,
        # Share of typing the editor's ghost text saves on held-out chapter openings (ml/keystrokes.py).
        "keystrokes_saved": ({"base": keystrokes[0], "tuned": keystrokes[1]}
                             if None not in keystrokes else None),
        "context_length": int(context_length),
        "history": [h for h in loop.state.history if "eval_loss" in h],
    }


def write_report(folder: Path, report: dict[str, Any]) -> None:
    atomic_write_text(folder / REPORT_FILE, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(folder / REPORT_MD, report_markdown(report))


def _keystrokes_lines(saved: dict[str, float] | None) -> list[str]:
    if not saved:
        return []
    return [f"Ghost text saves ~{saved['tuned'] * 100:.0f}% of your typing on held-out chapters "
            f"(base model: {saved['base'] * 100:.0f}%), for a simulated writer who takes the words that match.", ""]


def _copying_lines(copying: dict[str, Any] | None) -> list[str]:
    if not copying or not copying.get("checked"):
        return []
    lines = [f"{copying['count']} of {copying['checked']} tuned samples repeat {copying['threshold_words']} or more "
             "words in a row from the training text."]
    lines += [f"- {s['form']} sample copies your {s['source']} ({s['words']} words)" for s in copying["samples"]]
    return lines + [""]


def _continued_lines(continued: dict[str, Any] | None) -> list[str]:
    if not continued:
        return []
    return [f"Continued from `{continued['from']}` on the {len(continued['changed_files'])} file(s) changed since "
            f"{continued['since']} (by {continued['method']}): "
            + ", ".join(f"`{path}`" for path in continued["changed_files"][:20])
            + f"; measured on the same {continued['held_out_chapters_fixed']} held-out chapter(s) as before.", ""]


def _preferences_lines(preferences: dict[str, Any] | None) -> list[str]:
    if not preferences or "held_out_accuracy" not in preferences:
        return [f"Learning from your choices stopped early: {preferences['reason']}", ""] if preferences else []
    accuracy, margin = preferences["held_out_accuracy"], preferences["held_out_margin"]
    verdict = "kept" if preferences["adopted"] else f"**not kept** ({preferences['reason']})"
    return [f"Learning from your choices ({preferences['train_pairs']} pairs, {preferences['held_out_pairs']} held "
            f"out): the writer's choice ranked first in {accuracy['before'] * 100:.0f}% -> "
            f"{accuracy['after'] * 100:.0f}% of held-out pairs (margin {margin['before']:+.2f} -> "
            f"{margin['after']:+.2f} nats); {verdict}.", ""]


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.strip().splitlines()) or "> (nothing)"


def report_markdown(report: dict[str, Any]) -> str:
    before, after = report["perplexity_before"], report["perplexity_after"]
    change = (after - before) / before * 100 if before else 0.0
    verdict = ("The tuned model predicts your held-out chapters better than the base model."
               if after < before else
               "The tuned model does NOT predict your held-out chapters better than the base model; "
               "more text or more steps may help.")
    hp = report["hyperparameters"]
    lines = [
        f"# {report['name']}",
        "",
        f"Fine-tuned from **{report.get('base_model_name') or report['base_model']}** on `{report['folder']}` "
        f"({report['created']}).",
        "",
        "## Result",
        "",
        "Perplexity on held-out chapters the model never trained on (lower is better):",
        "",
        "| | perplexity |",
        "|---|---|",
        f"| base model | {before:.2f} |",
        f"| tuned model | {after:.2f} ({change:+.1f}%) |",
        "",
        verdict,
        "",
        *_keystrokes_lines(report.get("keystrokes_saved")),
        *_copying_lines(report.get("samples_copying")),
        *_continued_lines(report.get("continued")),
        *_preferences_lines(report.get("preferences")),
        "## Data",
        "",
        f"- files: {len(report['files_used'])} used, {len(report['files_skipped'])} skipped; "
        f"{report['words']:,} words after cleaning",
        f"- {report['train_tokens']:,} training tokens; {report['eval_tokens']:,} held-out tokens "
        f"(held-out chapters: {len(report['held_out_chapters'])})",
    ]
    if report.get("accepted_suggestions_used"):
        lines.append(f"- plus {report['accepted_suggestions_used']} accepted suggestions (training side only)")
    for skipped in report["files_skipped"]:
        lines.append(f"- skipped `{skipped['path']}`: {skipped['reason']}")
    lines += [
        "",
        "## Training",
        "",
        f"- mode **{hp['mode']}**, {report['steps']} steps ({report['stopped']}), best at step {report['best_step']}",
        f"- {report['training_seconds']:.0f} s of training at {report['tokens_per_s']:.0f} tokens/s; "
        f"{report['duration_s']:.0f} s in total",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in hp.items()]
    if report["samples"]:
        lines += ["", "## Samples", "", "Same prompt, same random seed, before and after fine-tuning.", ""]
        for sample in report["samples"]:
            lines += [f"### {sample['form']}", "", "Prompt:", "", _quote(sample["prompt"]), "",
                      "Base model:", "", _quote(sample["before"]), "", "Tuned model:", "", _quote(sample["after"]), ""]
    return "\n".join(lines).rstrip() + "\n"
