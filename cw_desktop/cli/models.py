"""`cw-desktop models list|prepare|download`: what models exist and how to get them."""

from __future__ import annotations

import argparse
import json

from cw_desktop.cli import ProgressBar, fail
from cw_desktop.core.file_names import display_name
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, prepare or download models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the catalog, with what is available on this machine")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    prepare = actions.add_parser("prepare", help="one-time conversion of the bundled model")
    prepare.add_argument("name", choices=["bundled"])
    prepare.set_defaults(handler=run_prepare)
    download = actions.add_parser("download", help="download a hub model (needs a network)")
    download.add_argument("name", help="gpt2, distilgpt2, gpt2-medium or any hub id")
    download.set_defaults(handler=run_download)


def model_rows(paths: AppPaths) -> list[dict[str, object]]:
    from cw_desktop.core.catalog import load_catalog
    from cw_desktop.core.model_registry import REPORT_FILE
    from cw_desktop.ml.loading import ModelLoadError, find_bundled_gguf, is_bundled_prepared, is_downloaded

    rows: list[dict[str, object]] = []
    for entry in load_catalog():
        if entry.source == "bundled-gguf":
            try:
                find_bundled_gguf(entry)
                state = "ready" if is_bundled_prepared(paths) else "installed (converts on first use)"
            except ModelLoadError:
                state = f"missing: {entry.install}"
        else:
            state = "downloaded" if is_downloaded(paths, entry) else f"not downloaded (cw-desktop models download {entry.key})"
        rows.append({"key": entry.key, "name": entry.name, "parameters": entry.parameters,
                     "licence": entry.licence, "context_length": entry.context_length,
                     "disk_size_mb": entry.disk_size_mb, "state": state})
    if paths.models_dir.is_dir():
        for folder in sorted(p for p in paths.models_dir.iterdir() if (p / "config.json").is_file()):
            report = {}
            try:
                report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
            rows.append({"key": str(folder), "name": report.get("name", folder.name), "parameters": "",
                         "licence": "", "context_length": report.get("context_length", ""),
                         "disk_size_mb": "", "state": f"fine-tuned from {report.get('base_model', '?')}"})
    return rows


def run_list(args: argparse.Namespace, paths: AppPaths) -> int:
    rows = model_rows(paths)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print_table(rows)
    return 0


# (row key, heading, right-aligned): the key is what `--model` takes, so it is never cut; every
# column is as wide as its longest value (fine-tuned models are keyed by their full folder path).
_COLUMNS = (("key", "MODEL", False), ("name", "NAME", False), ("parameters", "SIZE", True),
            ("context_length", "CONTEXT", True), ("licence", "LICENCE", False), ("state", "STATE", False))


def print_table(rows: list[dict[str, object]]) -> None:
    cells = [[display_name(str(row[key])) for key, _heading, _right in _COLUMNS] for row in rows]
    headings = [heading for _key, heading, _right in _COLUMNS]
    widths = [max(len(text) for text in column) for column in zip(headings, *cells)]
    for line in [headings, *cells]:
        parts = [text.rjust(width) if right else text.ljust(width)
                 for text, width, (_key, _heading, right) in zip(line, widths, _COLUMNS)]
        print(" ".join(parts).rstrip())


def _run_with_progress(label: str, job) -> int:
    """Run a model-preparing job with a progress bar; print the resulting folder or a clean error."""
    from cw_desktop.ml.loading import ModelLoadError

    bar = ProgressBar(label)
    try:
        folder = job(bar.update)
    except ModelLoadError as exc:
        return fail(str(exc))
    finally:
        bar.close()
    print(folder)
    return 0


def run_prepare(args: argparse.Namespace, paths: AppPaths) -> int:
    from cw_desktop.ml.loading import prepare_bundled

    return _run_with_progress("bundled ", lambda progress: prepare_bundled(paths.ensure(), on_progress=progress))


def run_download(args: argparse.Namespace, paths: AppPaths) -> int:
    from cw_desktop.ml.loading import download_hub_model

    return _run_with_progress(f"{args.name} ",
                              lambda progress: download_hub_model(paths.ensure(), args.name, on_progress=progress))
