"""`cw-desktop voice FILE --model X`: how much each paragraph sounds like the writer's fine-tune.

Prints one line per paragraph: its number, the score (mean log p_tuned - log p_base per token, in
nats; higher = closer to the voice the model was tuned on), the tokens scored and its opening words.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cw_desktop.cli import fail
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "voice", help="score each paragraph of a file by how much it sounds like your fine-tuned model",
        description="Score each paragraph of FILE by the mean per-token log-likelihood ratio of a fine-tuned "
                    "model over its base (higher: closer to the voice it was tuned on). The file is only read.")
    parser.add_argument("file", help="a plain-text or Markdown document")
    parser.add_argument("--model", required=True, metavar="SPEC",
                        help="the fine-tuned model: a model folder or a LoRA adapter folder")
    parser.add_argument("--base", metavar="SPEC", help="compare with this model instead of the one the fine-tune names")
    parser.add_argument("--no-context", action="store_true",
                        help="score each block without the end of the paragraph before it")
    parser.add_argument("--block-tokens", type=int, default=512, metavar="N",
                        help="tokens per forward pass (paragraphs are packed; default 512)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    if args.block_tokens < 32:
        return fail(f"--block-tokens must be at least 32 (got {args.block_tokens})")
    from cw_desktop.core.documents import DocumentError, read_text_file

    try:
        text = read_text_file(Path(args.file)).text
    except DocumentError as exc:
        return fail(str(exc))
    from cw_desktop.ml.loading import ModelLoadError
    from cw_desktop.ml.voice import load_voice_models, scorer_for, split_paragraphs

    try:
        models = load_voice_models(args.model, paths, base_spec=args.base)
    except (ModelLoadError, ValueError) as exc:
        return fail(str(exc))
    scorer = scorer_for(models, block_tokens=args.block_tokens, previous_context=not args.no_context)
    paragraphs = split_paragraphs(text)
    started = time.perf_counter()
    scores = scorer.score(paragraphs)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps([{"paragraph": s.index + 1, "score": s.score, "tokens": s.tokens, "start": s.start,
                           "end": s.end} for s in scores], indent=1))
        return 0
    print(f"{models.name} vs {models.base_name}: {len(paragraphs)} paragraphs in {seconds:.1f} s "
          "(score = nats per token, higher = closer to the tuned voice)")
    for paragraph, result in zip(paragraphs, scores):
        opening = " ".join(paragraph.text.split()[:8])
        shown = f"{result.score:+.3f}" if result.score is not None else "   —  "
        print(f"{result.index + 1:5d}  {shown}  {result.tokens:5d}  {opening}")
    sys.stdout.flush()
    return 0
