"""Command-line interface: `cw-desktop SUBCOMMAND ...`. Each subcommand is a module in this package
with `register(subparsers)`; the module's handler gets the parsed args and the AppPaths.

Subcommand modules import torch/transformers inside their handlers, never at module level, so
`cw-desktop --help` and the GUI start-up stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from cw_desktop import __version__
from cw_desktop.core.paths import AppPaths

Handler = Callable[[argparse.Namespace, AppPaths], int]


def add_path_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="DIR", help="settings folder (default: the platform's config dir)")
    parser.add_argument("--data", metavar="DIR", help="data folder: fine-tuned models, recovery files, logs")
    parser.add_argument("--cache", metavar="DIR", help="cache folder: converted and downloaded models")


def subcommand_modules() -> list[str]:
    import cw_desktop.cli as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cw-desktop",
        description="A local creative-writing assistant. With no subcommand, opens the editor.")
    parser.add_argument("--version", action="version", version=f"cw-desktop {__version__}")
    add_path_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in subcommand_modules():
        module = importlib.import_module(f"cw_desktop.cli.{name}")
        module.register(subparsers)
    return parser


def tolerate_undecodable_output() -> None:
    """A path whose name is not valid UTF-8 reaches messages as a str with lone surrogates; under a
    UTF-8 locale stdout is strict and printing it raised UnicodeEncodeError (a raw traceback
    instead of the report). Escape such characters instead; C-locale streams (surrogateescape)
    already write the name's own bytes and are left alone."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def run_cli(argv: Sequence[str]) -> int:
    tolerate_undecodable_output()
    parser = build_parser()
    args = parser.parse_args(list(argv))
    paths = AppPaths.default(config=args.config, data=args.data, cache=args.cache)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args, paths)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def fail(message: str, code: int = 1) -> int:
    """Print a user-facing error (no traceback) and return an exit code."""
    print(f"cw-desktop: error: {message}", file=sys.stderr)
    return code


class ProgressBar:
    """A one-line text progress bar on stderr, quiet when stderr is not a terminal."""

    def __init__(self, label: str = "", width: int = 30, stream=None) -> None:
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_line = ""

    def update(self, fraction: float, message: str = "") -> None:
        fraction = max(0.0, min(1.0, fraction))
        filled = int(self.width * fraction)
        line = f"{self.label}[{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}% {message}"
        if self.interactive:
            self.stream.write("\r" + line[:120].ljust(len(self._last_line)))
            self.stream.flush()
        elif message != getattr(self, "_last_message", None):
            self.stream.write(line + "\n")
            self._last_message = message
        self._last_line = line[:120]

    def close(self) -> None:
        if self.interactive and self._last_line:
            self.stream.write("\n")
            self.stream.flush()
