"""Choosing the inference backend at load time, with or without llama.cpp installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cw_desktop.core.settings import Settings
from cw_desktop.ml.backends import make_generator
from cw_desktop.ml.generation import GenerationSettings, Generator
from cw_desktop.ml.backends.selection import load_for_inference
from cw_desktop.ml.loading import load_model


def test_the_editor_asks_for_the_fast_backend_by_default(tmp_path: Path) -> None:
    assert Settings().model.inference_backend == "auto"
    (tmp_path / "settings.toml").write_text('[model]\ninference_backend = "torch"\n')
    assert Settings.load(tmp_path / "settings.toml").model.inference_backend == "torch"


def test_without_llamacpp_auto_falls_back_to_torch_and_says_why(tiny_model_dir: Path, app_paths,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cw_desktop.ml.backends.selection.llamacpp_available", lambda: False)
    loaded = load_for_inference(str(tiny_model_dir), app_paths, backend="auto")
    assert loaded.backend == "torch" and "not installed" in loaded.backend_note
    engine = make_generator(loaded)
    assert type(engine) is Generator
    assert engine.suggest("Once upon a time", GenerationSettings(max_new_tokens=3, temperature=0.0))[0].tokens > 0


def test_torch_is_what_training_and_evaluation_get(tiny_model_dir: Path, app_paths) -> None:
    """load_model's default stays torch: the trainer and the evaluator need a torch model."""
    import torch

    assert isinstance(load_model(str(tiny_model_dir), app_paths).model, torch.nn.Module)


def test_status_line_says_which_backend_answers() -> None:
    from cw_desktop.workers.model_loader import describe_model

    assert describe_model({"name": "SmolLM2", "backend": "llamacpp"}) == "SmolLM2 · llama.cpp"
    fallback = describe_model({"name": "Neo", "backend": "torch", "backend_note": "llama.cpp not used: no converter"})
    assert "PyTorch" in fallback and "no converter" in fallback
