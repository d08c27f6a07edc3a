"""`cw-desktop adapters list|merge|use`: LoRA adapters, small per-project add-ons to one base model."""

from __future__ import annotations

import argparse
from pathlib import Path

from cw_desktop.cli import fail
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("adapters", help="list, merge and assign LoRA adapters (per-project fine-tunes)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the adapters in the data folder, under their base models")
    merge = actions.add_parser(
        "merge", help="a new adapter that is a weighted sum of two (or more) adapters",
        description="Write a new adapter whose change to the base is the weighted sum of the given adapters' "
                    "changes (exact: the LoRA matrices are stacked).")
    merge.add_argument("adapters", nargs="+", metavar="ADAPTER", help="adapter folders or names in the data folder")
    merge.add_argument("--weights", nargs="+", type=float, required=True, metavar="W", help="one weight per adapter")
    merge.add_argument("--out", required=True, metavar="NAME", help="name of the new adapter")
    use = actions.add_parser("use", help="use an adapter for every document under a project folder")
    use.add_argument("project", help="the project's folder")
    use.add_argument("adapter", help="adapter folder or name, or 'none' for the base alone")
    use.add_argument("--strength", type=float, default=1.0, help="0 = the base, 1 = as trained, up to 1.5")
    parser.set_defaults(handler=run)


def _adapter_folder(name: str, paths: AppPaths) -> Path:
    from cw_desktop.core.adapters import is_adapter_folder

    for candidate in (Path(name).expanduser(), paths.models_dir / name):
        if is_adapter_folder(candidate):
            return candidate.resolve()
    raise ValueError(f"{name} is not a LoRA adapter folder (nor an adapter's name in {paths.models_dir})")


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    try:
        if args.action == "list":
            return _list(paths)
        if args.action == "use":
            return _use(args, paths)
        return _merge(args, paths)
    except ValueError as exc:
        return fail(str(exc))


def _list(paths: AppPaths) -> int:
    from cw_desktop.core.adapters import adapter_base, is_adapter_folder
    from cw_desktop.core.model_registry import list_fine_tuned
    from cw_desktop.core.units import format_size

    by_base: dict[str, list[str]] = {}
    for info in list_fine_tuned(paths):
        if info.folder is not None and is_adapter_folder(info.folder):
            size = format_size(info.size_bytes) if info.size_bytes is not None else "?"
            by_base.setdefault(adapter_base(info.folder), []).append(f"  {info.name}  ({size})  {info.folder}")
    if not by_base:
        print("No adapters yet: train one with `cw-desktop train FOLDER --adapter`.")
    for base, lines in sorted(by_base.items()):
        print(base or "(unknown base)")
        print("\n".join(lines))
    return 0


def _use(args: argparse.Namespace, paths: AppPaths) -> int:
    from cw_desktop.core.adapters import MAX_STRENGTH, AdapterChoices

    if not 0 <= args.strength <= MAX_STRENGTH:
        return fail(f"--strength must be between 0 and {MAX_STRENGTH} (got {args.strength})")
    project = Path(args.project).expanduser()
    if not project.is_dir():
        return fail(f"{project} is not a folder")
    adapter = None if args.adapter.lower() == "none" else _adapter_folder(args.adapter, paths)
    AdapterChoices(paths.data_dir, paths.models_dir).set(project, adapter, args.strength)
    print(f"Documents under {project} now use {adapter.name if adapter else 'the base model alone'}"
          f"{f' at strength {args.strength:g}' if adapter else ''}.")
    return 0


def _merge(args: argparse.Namespace, paths: AppPaths) -> int:
    if len(args.adapters) < 2:
        return fail("give at least two adapters to merge")
    if len(args.weights) != len(args.adapters):
        return fail(f"give one weight per adapter ({len(args.adapters)} adapters, {len(args.weights)} weights)")
    folders = [_adapter_folder(name, paths) for name in args.adapters]
    from cw_desktop.core.units import format_size
    from cw_desktop.core.model_registry import folder_size
    from cw_desktop.ml.adapters import merge_adapters
    from cw_desktop.ml.loading import ModelLoadError

    try:
        output = merge_adapters(paths.ensure(), folders, args.weights, args.out)
    except ModelLoadError as exc:
        return fail(str(exc))
    print(f"Saved {output} ({format_size(folder_size(output))}): "
          + " + ".join(f"{w:g} x {f.name}" for w, f in zip(args.weights, folders)))
    return 0
