"""Layering rules that keep the model code usable without a GUI (and the GUI from blocking on it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cw_desktop"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files_in(*packages: str) -> list[Path]:
    return [p for package in packages for p in sorted((PACKAGE / package).rglob("*.py"))]


def test_core_and_ml_never_import_qt() -> None:
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if m.startswith(("PySide6", "qasync")))
                 for p in files_in("core", "ml")}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"Qt imported from plain-Python packages: {offenders}"
    assert len(files_in("core", "ml")) >= 5  # the walk really found the packages


def test_workers_use_qtcore_only() -> None:
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p)
                                                     if m.startswith(("PySide6.QtWidgets", "PySide6.QtGui")))
                 for p in files_in("workers")}
    assert not {k: v for k, v in offenders.items() if v}


def test_this_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport PySide6\n")
    assert {"PySide6.QtCore", "PySide6"} <= imported_modules(bad)


def test_cli_help_does_not_import_torch() -> None:
    """`cw-desktop --help` and the editor's first paint must not wait for torch to import."""
    import subprocess
    import sys

    code = ("import sys; from cw_desktop.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
