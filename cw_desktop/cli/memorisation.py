"""`cw-desktop memorisation build MODEL_DIR FOLDER`: the memorisation guard's index for a fine-tune
trained before the guard existed, so the editor marks suggestions that copy its training text."""

from __future__ import annotations

import argparse
from pathlib import Path

from cw_desktop.cli import fail
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("memorisation", help="index a fine-tune's training text to mark copied suggestions")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="write memorisation.npz into a fine-tuned model's folder",
        description="Index the training chapters of FOLDER (the split the fine-tune used, from its "
                    "report.json) into MODEL_DIR; suggestions repeating WORDS consecutive words of them "
                    "are then marked in the editor.")
    build.add_argument("model_dir", help="the fine-tuned model's folder")
    build.add_argument("folder", help="the manuscripts folder it was trained on (read only)")
    build.add_argument("--words", type=int, default=12, metavar="N",
                       help="consecutive words that make a copy (default: 12)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    if args.words < 2:
        return fail(f"--words must be at least 2 (got {args.words})")
    from cw_desktop.ml.memorisation import INDEX_FILE, build_for_model

    try:
        index = build_for_model(Path(args.model_dir), Path(args.folder), args.words)
    except (ValueError, OSError) as exc:
        return fail(str(exc))
    print(f"Indexed {index.words:,} training words ({len(index.names)} chapters, runs of {index.n} words) "
          f"into {Path(args.model_dir) / INDEX_FILE} ({index.size_bytes / 2**20:.1f} MiB)")
    return 0
