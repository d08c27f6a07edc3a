"""The one-folder bundle's recipe (packaging/) is consistent: fast checks, without building it.

Building and starting the bundle is `make dist` + `make dist-smoke` (minutes, not in CI); these
catch the usual ways the recipe rots: a catalog model whose architecture the bundle would not
ship, a trim rule that would delete something the app loads, a desktop entry a menu rejects.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import struct
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "packaging"))
import bundle_manifest as manifest  # noqa: E402

# The keys of a [Desktop Entry] group (freedesktop Desktop Entry Specification 1.5).
DESKTOP_KEYS = {"Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden", "OnlyShowIn",
                "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal", "Actions", "MimeType",
                "Categories", "Implements", "Keywords", "StartupNotify", "StartupWMClass", "URL",
                "PrefersNonDefaultGPU", "SingleMainWindow"}
LIST_KEYS = {"OnlyShowIn", "NotShowIn", "Actions", "MimeType", "Categories", "Implements", "Keywords"}


def desktop_entry() -> dict[str, str]:
    lines = [line for line in manifest.DESKTOP_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "[Desktop Entry]"
    entry = {}
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        assert key not in entry, f"{key} given twice"
        entry[key] = value
    return entry


def test_desktop_entry_has_valid_keys_and_runs_the_bundled_program() -> None:
    entry = desktop_entry()
    unknown = {key for key in entry if key.split("[")[0] not in DESKTOP_KEYS and not key.startswith("X-")}
    assert not unknown, f"keys the Desktop Entry Specification does not define: {unknown}"
    assert entry["Type"] == "Application" and entry["Name"]
    # install-desktop-entry.sh rewrites "Exec=cw-desktop" to the installed link; the icon it installs
    # is named after the program.
    assert entry["Exec"].split()[0] == manifest.APP_NAME
    assert entry["Icon"] == manifest.APP_NAME
    assert entry["Terminal"] == "false"
    for key in LIST_KEYS & entry.keys():
        assert entry[key].endswith(";"), f"{key} is a list and must end with ';'"


def test_install_script_installs_every_icon_the_bundle_ships() -> None:
    script = manifest.INSTALL_SCRIPT.read_text(encoding="utf-8")
    loops = re.findall(r"for size in ([\d ]+); do", script)
    assert len(loops) == 2  # install and --uninstall
    for sizes in loops:
        assert tuple(int(s) for s in sizes.split()) == manifest.ICON_SIZES
    for size in manifest.ICON_SIZES:
        assert (manifest.ICON_DIR / f"cw_desktop-{size}.png").is_file()
    assert (manifest.ICON_DIR / "cw_desktop.svg").is_file()
    assert "Exec=cw-desktop" in script  # the sed that points Exec at the installed program


def transformers_mapping(module: str, name: str) -> dict[str, str]:
    """A name -> class table of transformers' auto classes, read from its source (importing
    transformers takes seconds; the tables are literal lists)."""
    spec = importlib.util.find_spec("transformers")
    assert spec and spec.origin
    source = Path(spec.origin).parent / "models" / "auto" / f"{module}.py"
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == name for t in node.targets):
            assert isinstance(node.value, ast.Call)
            return dict(ast.literal_eval(node.value.args[0]))
    raise AssertionError(f"{name} not found in {source}")


def test_every_catalog_model_names_a_causal_lm_transformers_has() -> None:
    causal_lms = transformers_mapping("modeling_auto", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES")
    package = Path(importlib.util.find_spec("transformers").origin).parent  # type: ignore[union-attr, arg-type]
    types = manifest.bundled_model_types()
    assert {"llama", "gpt2"} <= set(types)
    for model_type in types:
        assert model_type in causal_lms, f"transformers has no causal LM of type {model_type!r}"
        for module in manifest.architecture_modules(model_type):
            relative = Path(*module.split(".")[1:])
            assert (package / relative / "__init__.py").is_file() or (package / f"{relative}.py").is_file(), module
            assert manifest.keep_transformers_module(module, types)


def test_a_catalog_entry_without_model_type_is_refused(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models.a]\nmodel_type = "gpt2"\n[models.b]\nname = "B"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['b'\]"):
        manifest.catalog_model_types(catalog)


def gguf_architecture(path: Path) -> str:
    """general.architecture from a GGUF header (GGUFReader would map every tensor: far slower)."""
    with open(path, "rb") as handle:
        magic, _version, _tensors, count = struct.unpack("<4sIQQ", handle.read(24))
        assert magic == b"GGUF"
        for _ in range(count):
            key = handle.read(struct.unpack("<Q", handle.read(8))[0]).decode()
            kind = struct.unpack("<I", handle.read(4))[0]
            if kind != 8:  # llama.cpp writes general.* string keys first; a number here means no architecture
                break
            value = handle.read(struct.unpack("<Q", handle.read(8))[0]).decode()
            if key == "general.architecture":
                return value
    raise AssertionError(f"{path} names no general.architecture among its leading string keys")


def test_the_bundled_models_catalog_type_is_its_gguf_architecture() -> None:
    """The bundled model's code is shipped by its catalog model_type: it must be what the file holds."""
    from cw_desktop.core.catalog import find_entry
    from cw_desktop.ml.loading import find_bundled_gguf

    assert find_entry("bundled").extra["model_type"] == gguf_architecture(find_bundled_gguf())


def test_only_the_needed_architectures_are_bundled() -> None:
    types = manifest.bundled_model_types()
    assert manifest.keep_transformers_module("transformers.modeling_utils", types)
    assert manifest.keep_transformers_module("transformers.models.auto.tokenization_auto", types)
    assert manifest.keep_transformers_module("transformers.models.llama.modeling_llama", types)
    assert not manifest.keep_transformers_module("transformers.models.bert.modeling_bert", types)


def test_trim_rules_never_drop_what_the_app_loads() -> None:
    dropped = {path: manifest.trim_reason(path) for path in manifest.MUST_KEEP}
    assert not {path: reason for path, reason in dropped.items() if reason}


@pytest.mark.parametrize("path", [
    "torch/include/ATen/ATen.h", "torch/test/atest", "torch/bin/test_api", "torch/lib/libtorchbind_test.so",
    "torch/share/cmake/Torch/TorchConfig.cmake", "torch/_C/__init__.pyi", "tokenizers/__pycache__/x.pyc",
    "PySide6/Qt/translations/qtbase_de.qm", "PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt/qml/QtQuick/qmldir",
])
def test_trim_rules_drop_test_data_headers_and_unused_qt(path: str) -> None:
    assert manifest.trim_reason(path)


def test_spec_and_scripts_are_in_place() -> None:
    spec = REPO / "packaging" / "cw_desktop.spec"
    compile(spec.read_text(encoding="utf-8"), str(spec), "exec")  # a syntax error fails here, not after a build
    for path in (manifest.CATALOG, manifest.DESKTOP_FILE, manifest.INSTALL_SCRIPT, REPO / "packaging" / "build-dist.sh",
                 REPO / "packaging" / "cw_desktop_main.py", REPO / "scripts" / "dist-smoke.sh"):
        assert path.is_file(), path
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^dist:", makefile, re.M) and re.search(r"^dist-smoke:", makefile, re.M)
    test_target = re.search(r"^test:.*?(?=^\S)", makefile, re.M | re.S)
    assert test_target and "dist" not in test_target.group(0)  # too slow for CI


def test_the_bundle_program_runs_a_module_like_python_dash_m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor starts its trainer and its model process as `sys.executable -m MODULE`; in the bundle
    sys.executable is packaging/cw_desktop_main.py frozen, which must do what `python -m` does."""
    spec = importlib.util.spec_from_file_location("cw_desktop_main", REPO / "packaging" / "cw_desktop_main.py")
    assert spec and spec.loader
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    (tmp_path / "probe_child.py").write_text(
        "import sys, pathlib\n"
        "if __name__ == '__main__':\n"
        "    pathlib.Path(sys.argv[1]).write_text(' '.join(sys.argv[2:]))\n"
        "    sys.exit(5)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["/opt/cw-desktop/cw-desktop"])
    with pytest.raises(SystemExit) as exited:
        entry.run(["-m", "probe_child", str(tmp_path / "out.txt"), "3", "7"])
    assert exited.value.code == 5
    assert (tmp_path / "out.txt").read_text() == "3 7"
