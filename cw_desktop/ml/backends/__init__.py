"""Inference backends behind the suggestion engine.

`torch` is the engine in ml/generation.py (and the training engine); `llamacpp` runs the
same engine logic (ml/engine.py) (prompt window, token healing, sampling, stop rules, logits hooks) on
llama.cpp, which decodes a token several times faster on a CPU because it reads quantised weights.
The backend is chosen when a model loads (ml/loading.py); `make_generator` builds the matching engine.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cw_desktop.ml.engine import Engine
    from cw_desktop.ml.loading import LoadedModel

BACKENDS = ("auto", "torch", "llamacpp")
LABELS = {"torch": "PyTorch", "llamacpp": "llama.cpp"}


def llamacpp_available() -> bool:
    """Whether the optional llama-cpp-python package is installed (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def make_generator(loaded: "LoadedModel") -> "Engine":
    """The engine for a loaded model: the llama.cpp one when the model was loaded for it."""
    if loaded.backend == "llamacpp":
        from cw_desktop.ml.backends.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(loaded)
    from cw_desktop.ml.generation import Generator

    return Generator(loaded)
