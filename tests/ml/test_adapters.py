"""Per-project LoRA adapters: one base in memory, adapters switched beside it, a strength that scales
their change (0 = exactly the base), and an exact weighted merge of two adapters."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.core.model_registry import folder_size, list_models
from cw_desktop.ml.adapters import adapter_name, load_adapters, merge_adapters
from cw_desktop.ml.generation import Generator, preset
from cw_desktop.ml.loading import ModelLoadError, load_model


@pytest.fixture(scope="module")
def two_adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = train_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapters") / "a", paragraphs("A", 40, seed=1))
    b = train_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapters") / "b", paragraphs("B", 40, seed=2))
    return a, b


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=ids).logits


@pytest.fixture(scope="module")
def probe(tiny_model_dir: Path) -> torch.Tensor:
    from cw_desktop.ml.loading import auto_tokenizer

    return torch.tensor([auto_tokenizer(tiny_model_dir)("The glimmerwyrm sang beneath the ledger.")["input_ids"]])


def test_strength_zero_gives_exactly_the_base_models_logits(tiny_model_dir, two_adapters, probe,
                                                            session_app_paths) -> None:
    base = logits(load_model(str(tiny_model_dir), session_app_paths).model, probe)
    engine = load_adapters(session_app_paths, [two_adapters[0]])
    name = engine.names[0]
    assert torch.equal(logits(engine.model, probe), base)  # loaded, not active: the base answers
    engine.activate(name, 1.0)
    full = logits(engine.model, probe)
    assert not torch.allclose(full, base, atol=1e-3)
    engine.set_strength(0.0)
    assert torch.equal(logits(engine.model, probe), base)
    engine.set_strength(0.5)
    half = logits(engine.model, probe)
    assert (half - base).abs().mean() < (full - base).abs().mean()
    engine.set_strength(1.5)
    stronger = logits(engine.model, probe)
    assert (stronger - base).abs().mean() > (full - base).abs().mean()
    engine.set_strength(7.0)  # out of range: held at the maximum
    assert engine.strength == 1.5


def test_switching_adapters_keeps_the_base_and_takes_milliseconds(tiny_model_dir, two_adapters, probe,
                                                                  session_app_paths) -> None:
    from peft import PeftModel

    engine = load_adapters(session_app_paths, list(two_adapters))
    a, b = (adapter_name(f) for f in two_adapters)
    expected = {}
    for folder, name in zip(two_adapters, (a, b)):
        alone = PeftModel.from_pretrained(load_model(str(tiny_model_dir), session_app_paths).model, str(folder))
        expected[name] = logits(alone.eval(), probe)
    seconds = []
    for name in (a, b, a, None, b):
        seconds.append(engine.activate(name, 1.0))
        got = logits(engine.model, probe)
        if name is None:
            assert torch.equal(got, logits(load_model(str(tiny_model_dir), session_app_paths).model, probe))
        else:
            assert torch.allclose(got, expected[name], atol=1e-5)
    assert max(seconds) < 0.1


def test_the_generator_answers_with_the_active_adapter(tiny_model_dir, two_adapters, session_app_paths) -> None:
    engine = load_adapters(session_app_paths, [two_adapters[0]])
    generator = Generator(engine.loaded)
    settings = preset("prose").validated()
    from dataclasses import replace

    settings = replace(settings, temperature=0.0, alternatives=1, max_new_tokens=8, seed=1)
    plain = generator.suggest("The", settings)[0].text
    engine.activate(engine.names[0], 1.5)
    generator.reset()  # the cache holds keys computed without the adapter
    tuned = generator.suggest("The", settings)[0].text
    assert tuned != plain


def test_merging_two_adapters_is_their_weighted_sum(tiny_model_dir, two_adapters, probe, session_app_paths) -> None:
    paths = session_app_paths
    only_a = merge_adapters(paths, list(two_adapters), [1.0, 0.0], "only a")
    engine = load_adapters(paths, [two_adapters[0], only_a])
    engine.activate(adapter_name(two_adapters[0]), 1.0)
    want = logits(engine.model, probe)
    engine.activate(adapter_name(only_a), 1.0)
    assert torch.allclose(logits(engine.model, probe), want, atol=1e-5)

    blend = merge_adapters(paths, list(two_adapters), [0.5, 0.5], "a and b")
    report = json.loads((blend / "report.json").read_text())
    assert report["weights"] == [0.5, 0.5] and report["kind"] == "adapter"
    assert json.loads((blend / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    # Small next to a full copy of the model, and listed as a fine-tune of its base.
    assert folder_size(blend) < folder_size(tiny_model_dir)
    listed = {info.name: info for info in list_models(paths, entries=[])}
    assert "a and b" in listed and listed["a and b"].is_fine_tuned
    # load_model still takes an adapter folder (merged into its base) for the CLI and the fast backend.
    assert load_model(str(blend), paths).model is not None


def test_an_adapter_for_another_base_is_refused_with_the_folder_named(tiny_model_dir, two_adapters, tmp_path,
                                                                      session_app_paths) -> None:
    from cw_desktop.ml.tiny import build_tiny_gpt2

    other = build_tiny_gpt2(tmp_path / "other", ["some other text"] * 5, vocab_size=300, n_embd=32)
    with pytest.raises(ModelLoadError, match=re.escape(f"The adapter in {two_adapters[0]} does not fit")):
        load_adapters(session_app_paths, [two_adapters[0]], base_spec=str(other))


def test_merge_needs_a_weight_per_adapter(two_adapters, session_app_paths) -> None:
    with pytest.raises(ValueError, match="one weight for each"):
        merge_adapters(session_app_paths, list(two_adapters), [1.0], "x")


def test_train_with_adapter_saves_a_small_adapter_that_its_project_then_uses(tiny_model_dir, app_paths,
                                                                             tmp_path) -> None:
    from cw_desktop.core.adapters import AdapterChoices
    from cw_desktop.ml import training as tr

    folder = tmp_path / "novel"
    folder.mkdir()
    (folder / "book.txt").write_text("\n\n".join(paragraphs("A", 240, seed=5)), encoding="utf-8")
    config = tr.TrainConfig(folder=folder, paths=app_paths, base=str(tiny_model_dir), output=tmp_path / "voice",
                            overrides={"mode": "lora", "max_steps": 6, "block_size": 64}, samples=False,
                            adapter=True)
    result = tr.train(config)
    assert result.status == "done"
    out = tmp_path / "voice"
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    assert json.loads((out / "report.json").read_text())["kind"] == "adapter"
    assert folder_size(out) < folder_size(tiny_model_dir)
    # Documents of the folder it was trained on use it, without the writer choosing anything.
    app_paths.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(str(out), app_paths.models_dir / "voice")
    choice = AdapterChoices(app_paths.data_dir).choice_for(folder / "chapter 2.txt")
    assert choice is not None and choice.adapter == app_paths.models_dir / "voice" and not choice.chosen


def test_the_train_cli_refuses_adapter_with_another_mode(tmp_path, capsys) -> None:
    from cw_desktop.cli import run_cli

    assert run_cli(["--data", str(tmp_path), "train", str(tmp_path), "--adapter", "--mode", "full"]) == 1
    assert "--adapter saves a LoRA adapter" in capsys.readouterr().err


def test_no_adapter_keeps_the_llama_cpp_process_free_of_torch(tmp_path: Path) -> None:
    """Opening a document without an adapter answers with the installed (llama.cpp) engine at once:
    it must not import torch first, a stall of seconds in a model process that never needed it."""
    import os
    import subprocess
    import sys

    script = ("import sys\n"
              "from cw_desktop.ml.adapters import AdapterServing\n"
              "installed = object()\n"
              "engine, account = AdapterServing().serve(installed, None, 0.5)\n"
              "assert engine is installed and account['adapter'] is None, account\n"
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
