"""`cw-desktop voice FILE --model X` and `cw-desktop adapters list|merge|use`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.cli import run_cli


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("data")
    models = data / "models"
    a = train_lora_adapter(tiny_model_dir, models / "voice-a", paragraphs("A", 40, seed=1))
    b = train_lora_adapter(tiny_model_dir, models / "voice-b", paragraphs("B", 40, seed=2))
    return a, b


def test_voice_prints_a_score_per_paragraph_highest_for_the_tuned_author(adapters, tmp_path, capsys) -> None:
    document = tmp_path / "draft.txt"
    a, b = paragraphs("A", 1, seed=55)[0], paragraphs("B", 1, seed=66)[0]
    document.write_text(f"{a}\n\n{b}\n", encoding="utf-8")
    data = adapters[0].parents[1]
    assert run_cli(["--data", str(data), "voice", str(document), "--model", str(adapters[0]), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["paragraph"] for r in rows] == [1, 2]
    assert rows[0]["score"] > rows[1]["score"]
    assert run_cli(["--data", str(data), "voice", str(document), "--model", str(adapters[0])]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "2 paragraphs" in lines[0] and len(lines) == 3
    assert lines[1].split()[0] == "1" and lines[1].split()[1].startswith("+")


def test_voice_names_a_missing_file(adapters, tmp_path, capsys) -> None:
    assert run_cli(["voice", str(tmp_path / "nope.txt"), "--model", str(adapters[0])]) == 1
    assert "nope.txt: the file does not exist" in capsys.readouterr().err


def test_adapters_merge_list_and_use(adapters, tmp_path, capsys) -> None:
    data = adapters[0].parents[1]
    assert run_cli(["--data", str(data), "adapters", "merge", "voice-a", "voice-b",
                    "--weights", "0.7", "0.3", "--out", "blend"]) == 0
    assert "0.7 x voice-a + 0.3 x voice-b" in capsys.readouterr().out
    assert (data / "models" / "blend" / "adapter_model.safetensors").is_file()
    assert run_cli(["--data", str(data), "adapters", "list"]) == 0
    listing = capsys.readouterr().out
    base_line = listing.splitlines()[0]
    assert "tiny-gpt2" in base_line and all(name in listing for name in ("voice-a", "voice-b", "blend"))
    project = tmp_path / "novel"
    project.mkdir()
    assert run_cli(["--data", str(data), "adapters", "use", str(project), "blend", "--strength", "0.8"]) == 0
    from cw_desktop.core.adapters import AdapterChoices

    choice = AdapterChoices(data).choice_for(project / "chapter1.txt")
    assert choice is not None and choice.adapter.name == "blend" and choice.strength == 0.8
    assert run_cli(["--data", str(data), "adapters", "merge", "voice-a", "voice-b", "--weights", "1",
                    "--out", "x"]) == 1
    assert "one weight per adapter" in capsys.readouterr().err
