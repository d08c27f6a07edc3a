"""Which adapter a project's documents use: the writer's choice for the nearest folder, else the
newest adapter trained on that folder; a damaged choices file costs the choices, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

from cw_desktop.core.adapters import CHOICES_FILE, AdapterChoices, adapter_base, clamp_strength, under_bases
from cw_desktop.core.model_registry import ModelInfo


def make_adapter(models: Path, name: str, base: str, trained_on: Path | None = None, created: str = "") -> Path:
    folder = models / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (folder / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    (folder / "report.json").write_text(json.dumps({"folder": str(trained_on) if trained_on else "",
                                                    "created": created}))
    return folder


def test_the_nearest_chosen_folder_wins_then_the_trained_on_folder(tmp_path: Path) -> None:
    data, models = tmp_path / "data", tmp_path / "data" / "models"
    novel = tmp_path / "writing" / "novel"
    (novel / "part two").mkdir(parents=True)
    old = make_adapter(models, "old", "bundled", novel, "2026-01-01")
    new = make_adapter(models, "new", "bundled", novel, "2026-06-01")
    chosen = make_adapter(models, "chosen", "bundled")
    choices = AdapterChoices(data)
    found = choices.choice_for(novel / "part two" / "ch1.txt")
    assert found is not None and found.adapter == new and not found.chosen and found.project == novel.resolve()
    choices.set(tmp_path / "writing", chosen, 0.6)  # a folder further up: the trained-on folder is nearer
    assert choices.choice_for(novel / "ch1.txt").adapter == new
    choices.set(novel / "part two", None)  # "the base alone" for this part
    assert choices.choice_for(novel / "part two" / "ch1.txt").adapter is None
    assert choices.choice_for(tmp_path / "writing" / "essay.txt").adapter == chosen
    assert choices.choice_for(tmp_path / "elsewhere.txt") is None
    assert old.exists() and adapter_base(chosen) == "bundled"


def test_a_damaged_choices_file_or_strength_is_survived(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / CHOICES_FILE).write_text("{not json")
    assert AdapterChoices(data).choice_for(tmp_path / "a.txt") is None
    assert clamp_strength("high") == 1.0 and clamp_strength(9) == 1.5 and clamp_strength(-1) == 0.0
    assert clamp_strength(float("nan")) == 1.0


def test_adapters_are_ordered_under_their_base(tmp_path: Path) -> None:
    models = tmp_path / "models"
    base_folder = models / "base-model"
    base_folder.mkdir(parents=True)
    adapter = make_adapter(models, "voice", str(base_folder))
    orphan = make_adapter(models, "orphan", "/nowhere")
    infos = [ModelInfo("bundled", "Bundled", "base", None),
             ModelInfo(str(adapter), "voice", "fine-tuned", adapter),
             ModelInfo(str(orphan), "orphan", "fine-tuned", orphan),
             ModelInfo(str(base_folder), "base-model", "fine-tuned", base_folder)]
    assert [i.name for i in under_bases(infos)] == ["Bundled", "base-model", "voice", "orphan"]
