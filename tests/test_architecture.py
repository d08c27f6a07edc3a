"""Layering rules that keep the model code usable without a GUI (and the GUI from blocking on it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


# -- the module graph: cycles, layers, size ------------------------------------------------------

# Which top-level parts of the package each part may import (itself included). core < ml <
# workers < gui/dialogs, with cli beside workers; the GUI reaches the model only through workers.
ALLOWED = {
    "core": {"core"},
    "ml": {"core", "ml"},
    "workers": {"core", "ml", "workers"},
    "cli": {"core", "ml", "cli"},
    "gui": {"core", "workers", "gui", "dialogs"},
    "dialogs": {"core", "workers", "gui", "dialogs"},
}
MAX_LINES = 600
# Modules over MAX_LINES that are being split right now (none: keep it that way).
TOO_LONG_FOR_NOW: set[str] = set()


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """{module: package modules it imports}, counting imports inside functions too (a lazy import
    is still a dependency); `from pkg import name` counts as pkg.name when that is a module."""
    paths = {module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.add(candidate if candidate in paths else base)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or round a loop (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def layer_violations(graph: dict[str, set[str]], package: str) -> list[str]:
    def part(module: str) -> str | None:
        pieces = module.split(".")
        return pieces[1] if len(pieces) > 1 and pieces[0] == package else None

    found = []
    for module, targets in sorted(graph.items()):
        allowed = ALLOWED.get(part(module) or "")
        if allowed is None:  # the package root, app.py, __main__.py: the entry points above every layer
            continue
        found += [f"{module} imports {t}" for t in sorted(targets) if part(t) in ALLOWED and part(t) not in allowed]
    return found


def test_no_import_cycles() -> None:
    graph = module_graph(PACKAGE, "cw_desktop")
    assert len(graph) > 50 and "cw_desktop.ml.plan" in graph["cw_desktop.ml.training"]  # the walk really saw them
    assert import_cycles(graph) == []


def test_no_upward_imports_between_layers() -> None:
    assert layer_violations(module_graph(PACKAGE, "cw_desktop"), "cw_desktop") == []


def test_no_module_over_600_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= TOO_LONG_FOR_NOW, f"split these modules: {long}"


def plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fakepkg"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_cycle_check_finds_a_planted_cycle(tmp_path: Path) -> None:
    # core/a -> core/b (absolute, inside a function) -> core/c (relative) -> core/a (`from pkg import module`)
    root = plant(tmp_path, {
        "__init__.py": "", "core/__init__.py": "",
        "core/a.py": "def f():\n    import fakepkg.core.b\n",
        "core/b.py": "from .c import thing\n",
        "core/c.py": "from fakepkg.core import a\nthing = 1\n",
        "core/d.py": "from fakepkg.core import a, b\n",  # imports into the loop, not part of it
    })
    graph = module_graph(root, "fakepkg")
    assert import_cycles(graph) == [["fakepkg.core.a", "fakepkg.core.b", "fakepkg.core.c"]]
    (root / "core" / "c.py").write_text("thing = 1\n")
    assert import_cycles(module_graph(root, "fakepkg")) == []


@pytest.mark.parametrize(("importer", "line", "bad"), [
    ("core/x.py", "from fakepkg.ml import model\n", True),  # core reaching up into ml
    ("ml/x.py", "import fakepkg.workers.job\n", True),
    ("gui/x.py", "def later():\n    from fakepkg.ml.model import Model\n", True),  # the GUI never imports ml
    ("cli/x.py", "from fakepkg.workers import job\n", True),  # cli sits beside workers, not above
    ("workers/x.py", "from fakepkg.ml.model import Model\n", False),
    ("dialogs/x.py", "from fakepkg.workers.job import Job\n", False),
])
def test_the_layer_check_finds_a_planted_upward_import(tmp_path: Path, importer: str, line: str, bad: bool) -> None:
    files = {"__init__.py": "", importer: line, "ml/model.py": "", "workers/job.py": ""}
    found = layer_violations(module_graph(plant(tmp_path, files), "fakepkg"), "fakepkg")
    assert bool(found) == bad, found
