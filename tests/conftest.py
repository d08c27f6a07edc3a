"""Shared fixtures: isolated app folders, a tiny GPT-2 built from scratch, the shared corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Every GUI test runs without a display, and nothing in the suite may reach a model hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from shared_data import CORPUS, FORMATS, REPO, SAMPLE_TEXT, SHARED, WRITERS, require_corpus  # noqa: F401  (re-exported)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 with a 512-token byte-level BPE vocabulary, 256 positions."""
    from cw_desktop.ml.tiny import build_tiny_gpt2

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    return build_tiny_gpt2(folder, SAMPLE_TEXT, vocab_size=512, n_layer=2, n_head=2, n_embd=64, n_positions=256)


@pytest.fixture
def app_paths(tmp_path: Path):
    from cw_desktop.core.paths import AppPaths

    return AppPaths.default(config=tmp_path / "config", data=tmp_path / "data").ensure()


@pytest.fixture(scope="session")
def session_app_paths(tmp_path_factory: pytest.TempPathFactory):
    from cw_desktop.core.paths import AppPaths

    root = tmp_path_factory.mktemp("app")
    return AppPaths.default(config=root / "config", data=root / "data").ensure()


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir: Path, session_app_paths):
    from cw_desktop.ml.loading import load_model

    return load_model(str(tiny_model_dir), session_app_paths)


@pytest.fixture(scope="session")
def bundled_paths(tmp_path_factory: pytest.TempPathFactory):
    """App folders whose cache holds the converted bundled model (converted once per session).

    Reuses the developer's already-converted copy when one exists, to keep the slow tests quick.
    """
    from cw_desktop.core.paths import AppPaths

    root = tmp_path_factory.mktemp("bundled")
    return AppPaths.default(config=root / "config", data=root / "data",
                            cache=os.environ.get("CW_TEST_BUNDLED_CACHE") or root / "cache").ensure()
