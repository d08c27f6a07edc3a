"""`cw-desktop scan FOLDER [--json] [--model SPEC]`: what fine-tuning would use from a manuscripts folder.

Lists every file (used, or skipped with the reason), then totals of files, words and tokens for
the chosen model, and an estimate of the training time on this machine. Never writes to FOLDER.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cw_desktop.cli import ProgressBar, fail
from cw_desktop.core.file_names import display_name
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="show which manuscripts in a folder fine-tuning would use",
        description="Scan a manuscripts folder (read-only): per file whether it is used or skipped and "
                    "why, its words after cleaning; totals of words and tokens, and a training-time estimate.")
    parser.add_argument("folder", type=Path, help="the folder that holds your manuscripts")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--model", default="bundled", metavar="SPEC",
                        help="count tokens with this model's tokenizer (default: bundled)")
    parser.add_argument("--max-file-mb", type=float, default=50.0, metavar="MB",
                        help="skip files larger than this, and .docx/.odt/.epub files that unpack to "
                             "more than this (default: 50)")
    parser.add_argument("--follow-links", action="store_true",
                        help="also read what links lead to outside the folder (default: report them, skipped)")
    parser.set_defaults(handler=run)


def load_tokenizer(spec: str, paths: AppPaths) -> tuple[Any | None, str]:
    """(tokenizer or None, a note saying which tokenizer or why none). Loads only the tokenizer."""
    from cw_desktop.ml.loading import ModelLoadError, resolve_folder

    # The bundled model is converted once on first use (~30 s); show it rather than hang silently.
    preparing = ProgressBar("Preparing model ")
    try:
        folder, _entry = resolve_folder(spec, paths, on_progress=lambda f, stage: preparing.update(f, stage))
        if not folder.is_dir():
            return None, f"model folder not found: {folder}"
        from cw_desktop.ml.loading import auto_tokenizer

        tokenizer = auto_tokenizer(folder)
    except ModelLoadError as exc:
        return None, f"model '{spec}' unavailable: {exc}"
    except Exception as exc:  # a broken tokenizer file must not stop the scan report
        return None, f"tokenizer of '{spec}' could not be loaded: {type(exc).__name__}: {exc}"
    finally:
        preparing.close()
    return tokenizer, f"tokenizer of '{spec}'"


def printable(path: str) -> str:
    """Real file names can hold control characters (a carriage return from a Mac title); show them
    escaped so the table stays one line per file."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in path)


def print_file_table(files: list[Any]) -> None:
    """One line per file; the words column is as wide as its largest number (a 10-digit count
    used to push the path column out of line)."""
    width = min(max([len(printable(f.path)) for f in files] + [4]), 70)
    words_width = max([len(f"{f.words:,}") for f in files] + [len("words")])
    print(f"{'status':8} {'words':>{words_width}}  {'path':{width}}  reason")
    for f in files:
        reason = "" if f.reason is None else f.reason + (f" ({f.detail})" if f.detail else "")
        print(f"{f.status:8} {f.words:>{words_width},}  {printable(f.path):{width}}  {reason}".rstrip())


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from cw_desktop.core.units import format_duration
    from cw_desktop.ml.corpus import CorpusError, estimate_training, load_corpus

    progress = ProgressBar("Scanning ")

    def on_file(done: int, total: int, relative: str) -> None:
        progress.update(done / max(1, total), printable(relative)[-60:])

    try:
        corpus = load_corpus(args.folder, max_file_mb=args.max_file_mb, on_file=on_file,
                             follow_outside_links=args.follow_links)
    except CorpusError as exc:
        progress.close()
        return fail(str(exc))
    progress.close()
    tokenizer, tokenizer_note = load_tokenizer(args.model, paths)
    counting = ProgressBar("Counting tokens ")
    estimate = estimate_training(corpus, tokenizer, on_progress=lambda f: counting.update(f))
    counting.close()
    estimate["tokenizer"] = display_name(tokenizer_note)  # it may name a path given on the command line
    estimate["model"] = args.model

    if args.json:
        # Every string is a display name (valid Unicode), so the JSON always encodes.
        json.dump({"folder": display_name(corpus.folder), "files": [f.as_dict() for f in corpus.files],
                   "totals": {"files": len(corpus.files), **estimate}}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0

    print_file_table(corpus.files)
    print()
    print(f"Files:  {len(corpus.files)} ({len(corpus.used)} used, {len(corpus.skipped)} skipped)")
    print(f"Words:  {corpus.words:,}")
    approx = "" if estimate["tokens_exact"] else "~"
    how = tokenizer_note if estimate["tokens_exact"] else f"estimated as words x 1.33; {tokenizer_note}"
    print(f"Tokens: {approx}{estimate['tokens']:,} ({how})")
    print(f"Training time (estimate): ~{format_duration(estimate['estimated_seconds'], rough=True)} for "
          f"{estimate['epochs']:g} epoch of a full fine-tune at ~{estimate['tokens_per_second']:.0f} tokens/s "
          "on this machine; LoRA or top-layer modes are faster.")
    if not corpus.documents:
        print("Nothing usable was found: add .txt, .md, .docx, .odt, .rtf, .html or .epub manuscripts.")
    return 0
