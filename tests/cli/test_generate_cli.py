"""The CLI commands a writer runs: generate, models list, paths; errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cw_desktop.app import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_generate_prints_a_continuation(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--data", str(tmp_path), "generate", "--model", str(tiny_model_dir),
                         "--seed", "1", "--max-new-tokens", "8", "--stop", "none", "Once upon a time")
    assert code == 0, err
    assert out.strip(), "nothing was printed"
    assert "Traceback" not in err


def test_generate_reads_stdin_and_memory(tiny_model_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    import io

    memory = tmp_path / "memory.txt"
    memory.write_text("Characters: Anna.", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("The sea was"))
    code, out, _ = run(capsys, "--data", str(tmp_path), "generate", "--model", str(tiny_model_dir),
                       "--seed", "2", "--max-new-tokens", "6", "--memory-file", str(memory), "-")
    assert code == 0 and out.strip()


def test_generate_same_seed_same_output(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    args = ["--data", str(tmp_path), "generate", "--model", str(tiny_model_dir), "--seed", "5",
            "--max-new-tokens", "8", "--stop", "none", "The storm"]
    assert run(capsys, *args)[1] == run(capsys, *args)[1]


def test_generate_with_alternatives(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--data", str(tmp_path), "generate", "--model", str(tiny_model_dir),
                       "--seed", "1", "--alternatives", "3", "--max-new-tokens", "5", "Once")
    assert code == 0
    assert [line[:3] for line in out.splitlines() if line.startswith("[")] == ["[1]", "[2]", "[3]"]


def test_generate_missing_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--data", str(tmp_path), "generate", "--model", str(tmp_path / "nope"), "Hi")
    assert code == 1
    assert "not found" in err and str(tmp_path / "nope") in err
    assert "Traceback" not in err and out == ""


def test_generate_hub_model_offline_explains(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--data", str(tmp_path), "generate", "--model", "gpt2", "Hi")
    assert code == 1 and "models download gpt2" in err


def test_models_list_shows_the_catalog(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--data", str(tmp_path), "models", "list", "--json")
    assert code == 0
    rows = {row["key"]: row for row in json.loads(out)}
    assert {"bundled", "gpt2", "distilgpt2", "gpt2-medium"} <= set(rows)
    assert rows["gpt2"]["state"].startswith("not downloaded")
    assert rows["bundled"]["licence"] == "Apache-2.0"


def test_models_list_includes_fine_tuned(tmp_path: Path, tiny_model_dir: Path, capsys) -> None:
    import shutil

    target = tmp_path / "models" / "austen-tuned"
    shutil.copytree(tiny_model_dir, target)
    (target / "report.json").write_text(json.dumps({"name": "Austen style", "base_model": "bundled"}))
    code, out, _ = run(capsys, "--data", str(tmp_path), "models", "list")
    assert code == 0 and "Austen style" in out and "fine-tuned from bundled" in out


def test_paths_honours_overrides(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--config", str(tmp_path / "c"), "--data", str(tmp_path / "d"), "paths")
    assert code == 0
    assert str(tmp_path / "c" / "settings.toml") in out and str(tmp_path / "d") in out


def test_help_lists_subcommands(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("generate", "models", "paths"):
        assert command in out


def test_generate_on_llama_cpp_does_not_import_torch(tmp_path: Path) -> None:
    """`cw generate` gets the editor's quick engine: nothing before the model load pulls in torch
    (seconds of imports the llama.cpp engine never uses); here the load fails, so only that is left."""
    import subprocess
    import sys

    script = ("import sys\n"
              "from cw_desktop.app import main\n"
              f"code = main(['--data', {str(tmp_path)!r}, 'generate', '--model', {str(tmp_path / 'nope')!r}, 'Hi'])\n"
              "print(code, sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip().splitlines()[-1] == "1 []", run.stdout + run.stderr
