"""`cw-desktop runs [--clean-stale]`: the training run folders, and removing the dead ones.

A run folder holds an interrupted training's checkpoint (resumable) or, when the training was
killed before its first checkpoint, nothing usable (stale). Stale folders are removed only when
asked; running and resumable ones never are.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="list training run folders; remove stale ones",
                                   description="List the training run folders (running, resumable, stale).")
    parser.add_argument("--clean-stale", action="store_true",
                        help="delete the stale run folders (killed before their first checkpoint)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from cw_desktop.core.runs import clean_stale_runs, list_run_folders

    removed = clean_stale_runs(paths) if args.clean_stale else []
    runs = list_run_folders(paths)
    if args.json:
        print(json.dumps({"runs_dir": str(paths.runs_dir),
                          "runs": [{"run_dir": str(r.run_dir), "state": r.state, "reason": r.reason,
                                    "size_bytes": r.size_bytes, "modified": r.modified} for r in runs],
                          "removed": [str(r.run_dir) for r in removed]}, indent=2))
        return 0
    for gone in removed:
        print(f"removed  {gone.run_dir.name}  ({gone.reason}, {gone.size_bytes / 1e6:.1f} MB)")
    if not runs:
        print(f"No training runs in {paths.runs_dir}")
        return 0
    for r in runs:
        when = datetime.fromtimestamp(r.modified).strftime("%Y-%m-%d %H:%M")
        print(f"{r.state:<10} {r.run_dir.name}  {when}  {r.size_bytes / 1e6:.1f} MB  {r.reason}")
    stale = sum(r.state == "stale" for r in runs)
    if stale:
        print(f"{stale} stale run folder(s): remove them with `cw-desktop runs --clean-stale`")
    return 0
