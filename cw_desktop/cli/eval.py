"""`cw-desktop eval --model SPEC FOLDER`: perplexity of any model on a folder's held-out chapters.

Uses the split function and seed of `cw-desktop train`, so the number is directly comparable with
a fine-tune's perplexity_before / perplexity_after.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cw_desktop.cli import fail
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="perplexity of a model on a folder's held-out chapters",
        description="Measure how well a model predicts the held-out chapters of a folder (the same "
                    "chapters `cw-desktop train` holds out; lower perplexity is better).")
    parser.add_argument("folder", help="folder of manuscripts")
    parser.add_argument("--model", default="bundled", metavar="SPEC",
                        help="'bundled', a known model or a model folder (default: bundled)")
    parser.add_argument("--block-size", type=int, metavar="N",
                        help="tokens per evaluation block (default: as the model was trained, else as training would)")
    parser.add_argument("--eval-share", type=float, metavar="F", help="held-out share (default: the share the model was trained with, else 0.10)")
    parser.add_argument("--seed", type=int, help="split seed (default: the model's training seed, else 1234)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    if args.block_size is not None and args.block_size < 2:
        return fail(f"--block-size must be at least 2 (got {args.block_size})")
    if args.eval_share is not None and not 0 < args.eval_share < 1:
        return fail(f"--eval-share must be between 0 and 1 (got {args.eval_share})")
    from cw_desktop.ml.evaluation import evaluate_folder
    from cw_desktop.ml.loading import ModelLoadError, load_model

    try:
        loaded = load_model(args.model, paths)
        result = evaluate_folder(loaded, Path(args.folder), eval_share=args.eval_share, seed=args.seed,
                                 block_size=args.block_size)
    except (ModelLoadError, ValueError, OSError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['model_name']}: perplexity {result['perplexity']:.2f} on {result['held_out_chapters']} "
              f"held-out chapters of {result['folder']} ({result['eval_tokens']:,} tokens, "
              f"{result['held_out_words']:,} words; block {result['block_size']})")
    sys.stdout.flush()
    return 0
