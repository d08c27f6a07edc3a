"""`cw-desktop train --preferences` and `--continue MODEL --minutes M`, in-process on a tiny GPT-2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared_data import WRITERS, require_corpus
from cw_desktop.cli import run_cli
from cw_desktop.core.suggestion_log import SuggestionLog, make_event


def write_manuscripts(folder: Path, chars: int = 24_000) -> Path:
    require_corpus()
    text = (WRITERS / "austen" / "Northanger Abbey.txt").read_text(encoding="utf-8")
    start = text.index("CHAPTER 1")
    folder.mkdir(parents=True)
    (folder / "northanger.txt").write_text(text[start:start + chars], encoding="utf-8")
    return folder


def write_log(data: Path, places: int) -> None:
    log = SuggestionLog(data / "suggestions.jsonl")
    for index in range(places):
        context = f"Letter {index}. Catherine looked out of the window and"
        log.append(make_event(model="bundled", outcome="accepted", suggestion=" saw the carriage at the door",
                              accepted_text=" saw the carriage at the door", context=context))
        log.append(make_event(model="bundled", outcome="rejected", suggestion=" zz qq zz qq", context=context))


def base_args(data: Path, folder: Path, tiny_model_dir: Path) -> list[str]:
    return ["--data", str(data), "train", str(folder), "--base", str(tiny_model_dir), "--mode", "full",
            "--block-size", "32", "--lr", "1e-3", "--no-samples", "--json-progress"]


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_too_few_pairs_is_a_clear_message_and_nothing_is_trained(tmp_path, tiny_model_dir, capsys) -> None:
    folder = write_manuscripts(tmp_path / "books")
    write_log(tmp_path / "data", 3)
    code = run_cli([*base_args(tmp_path / "data", folder, tiny_model_dir), "--max-steps", "2", "--preferences"])
    captured = capsys.readouterr()
    assert code == 1
    error = [e for e in events(captured.out) if e["event"] == "error"]
    assert error and "Only 3 pair" in error[0]["message"] and "Nothing was trained" in error[0]["message"]
    assert not [e for e in events(captured.out) if e["event"] in ("step", "done")]
    models = tmp_path / "data" / "models"
    assert not models.exists() or not any(models.iterdir())


def test_preferences_then_tonight_on_what_changed(tmp_path, tiny_model_dir, capsys) -> None:
    folder = write_manuscripts(tmp_path / "books")
    data = tmp_path / "data"
    write_log(data, 30)
    tuned = tmp_path / "tuned"
    code = run_cli([*base_args(data, folder, tiny_model_dir), "--max-steps", "2", "--preferences",
                    "--output", str(tuned)])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tuned / "report.json").read_text())
    section = report["preferences"]
    assert section["pairs"] == 30 and section["train_pairs"] + section["held_out_pairs"] == 30
    assert section["held_out_pairs"] >= 1 and isinstance(section["adopted"], bool)
    for key in ("held_out_accuracy", "held_out_margin", "perplexity"):
        assert set(section[key]) == {"before", "after"}
    assert "Learning from your choices" in (tuned / "report.md").read_text()
    assert (tuned / "training_manifest.json").is_file()
    capsys.readouterr()

    # Nothing changed since: a clear message, no run.
    code = run_cli(["--data", str(data), "train", str(folder), "--continue", str(tuned), "--minutes", "5",
                    "--json-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "Nothing in" in out and "Nothing was trained" in out
    assert not [e for e in events(out) if e["event"] in ("plan", "step")]

    # A new chapter: trained on it alone, within the budget, on the same held-out chapters.
    (folder / "new.txt").write_text((folder / "northanger.txt").read_text()[-6000:].upper(), encoding="utf-8")
    code = run_cli(["--data", str(data), "train", str(folder), "--continue", str(tuned), "--minutes", "5",
                    "--block-size", "32", "--no-samples", "--output", str(tmp_path / "tonight"), "--json-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    tonight = json.loads((tmp_path / "tonight" / "report.json").read_text())
    assert tonight["continued"]["changed_files"] == ["new.txt"] and tonight["base_model"] == str(tuned.resolve())
    assert tonight["held_out_chapters"] == report["held_out_chapters"]
    assert tonight["mode"] == "full"  # the continued fine-tune's own mode


def test_continue_refuses_a_base_and_a_missing_model(tmp_path, capsys) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    assert run_cli(["--data", str(tmp_path / "data"), "train", str(folder), "--continue", str(tmp_path),
                    "--base", "other", "--json-progress"]) == 1
    assert "leave out --base" in capsys.readouterr().out
    assert run_cli(["--data", str(tmp_path / "data"), "train", str(folder), "--continue", str(tmp_path / "no"),
                    "--json-progress"]) == 1
    assert "no model folder there" in capsys.readouterr().out
