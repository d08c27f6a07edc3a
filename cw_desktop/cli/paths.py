"""`cw-desktop paths`: where settings, data and cached models live."""

from __future__ import annotations

import argparse

from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("paths", help="print the settings, data and cache folders")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    print(f"settings: {paths.settings_file}")
    print(f"data:     {paths.data_dir}")
    print(f"models:   {paths.models_dir}")
    print(f"cache:    {paths.cache_dir}")
    return 0
