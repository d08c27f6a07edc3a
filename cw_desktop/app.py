"""Entry point for `cw-desktop`: a subcommand runs the CLI, anything else opens the editor."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from cw_desktop.cli import subcommand_modules

    wants_cli = any(a in ("-h", "--help", "--version") for a in args[:1]) or any(
        a in subcommand_modules() for a in args if not a.startswith("-"))
    if wants_cli:
        from cw_desktop.cli import run_cli

        return run_cli(args)
    return gui_main(args)


def gui_main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from cw_desktop.gui.application import run_gui

    return run_gui(args)
