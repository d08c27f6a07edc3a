"""Train tonight on what changed: the manifest, the fixed held-out split, the budget, and whole
continued runs on a tiny GPT-2 (what the data pipeline receives is checked, not just the report)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from shared_data import WRITERS, require_corpus
from cw_desktop.core.training_manifest import MANIFEST_FILE, changes_since, is_fine_tune_of, read_manifest
from cw_desktop.ml import continuation as cont
from cw_desktop.ml import dataset as ds
from cw_desktop.ml import plan
from cw_desktop.ml import training as tr

SPLIT_OPTIONS = {"min_eval_words": 50, "min_train_words": 200, "min_total_words": 300}


def austen_pieces(count: int, words: int = 450) -> list[str]:
    require_corpus()
    text = " ".join((WRITERS / "austen" / "Persuasion.txt").read_text(encoding="utf-8").split())
    start = text.index("Chapter 1")
    all_words = text[start:].split()
    pieces = []
    for index in range(count):
        chunk = all_words[index * words:(index + 1) * words]
        # Two paragraphs each, so a file is one chapter of plain prose.
        pieces.append(" ".join(chunk[:words // 2]) + "\n\n" + " ".join(chunk[words // 2:]))
    return pieces


def write_folder(folder: Path, files: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(austen_pieces(files)):
        (folder / f"chapter{index:02d}.txt").write_text(text, encoding="utf-8")
    return folder


def config(folder: Path, app_paths, tiny_model_dir: Path, output: Path, **changes) -> tr.TrainConfig:
    settings = dict(folder=folder, paths=app_paths, base=str(tiny_model_dir), output=output,
                    overrides={"mode": "full", "max_steps": 3, "block_size": 32, "lr": 1e-3}, samples=False,
                    eval_share=0.3, split_options=SPLIT_OPTIONS)
    settings.update(changes)
    return tr.TrainConfig(**settings)


@pytest.fixture
def received(monkeypatch) -> list[ds.Split]:
    """Every split the trainer tokenises: exactly what the data pipeline is given."""
    seen: list[ds.Split] = []
    original = ds.tokenize_split

    def spy(split, tokenizer, extra=()):
        seen.append(split)
        return original(split, tokenizer, extra)

    monkeypatch.setattr(ds, "tokenize_split", spy)
    return seen


def test_continued_runs_train_only_on_changed_files_and_keep_the_held_out_split(
        tmp_path, app_paths, tiny_model_dir, received) -> None:
    folder = write_folder(tmp_path / "novel")
    first = tr.train(config(folder, app_paths, tiny_model_dir, tmp_path / "first"))
    assert first.status == "done"
    manifest = read_manifest(tmp_path / "first")
    assert manifest is not None and len(manifest["files"]) == 6
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"])
    held_out = manifest["held_out_chapters"]
    assert held_out == sorted(u.key for u in received[0].eval) and held_out
    held_files = {key.split("#")[0] for key in held_out}
    assert {f["path"] for f in manifest["files"] if f["held_out"]} == held_files
    assert is_fine_tune_of(tmp_path / "first", folder)

    # Tonight: one training chapter edited, one new chapter, and a held-out chapter edited too.
    trained = sorted({u.key.split("#")[0] for u in received[0].train})
    edited, untouched = trained[0], trained[1:]
    (folder / edited).write_text((folder / edited).read_text() + "\n\nShe wrote one more line tonight.")
    (folder / "chapter99.txt").write_text(austen_pieces(8)[7], encoding="utf-8")
    held_file = sorted(held_files)[0]
    (folder / held_file).write_text((folder / held_file).read_text() + "\n\nAn edit to a held-out chapter.")

    second = tr.train(config(folder, app_paths, tiny_model_dir, tmp_path / "second",
                             base=str(tmp_path / "first"), continue_from=tmp_path / "first", minutes=5))
    assert second.status == "done"
    given = received[-1]
    assert {u.key.split("#")[0] for u in given.train} == {edited, "chapter99.txt"}  # nothing untouched
    assert not {u.key.split("#")[0] for u in given.train} & set(untouched)
    assert sorted(u.key for u in given.eval) == held_out  # the edited held-out chapter stays held out
    report = json.loads((tmp_path / "second" / "report.json").read_text())
    assert sorted(report["continued"]["changed_files"]) == sorted([edited, "chapter99.txt", held_file])
    assert report["continued"]["method"] == "fingerprints"
    assert report["held_out_chapters"] == held_out and report["perplexity_before"] > 0
    assert read_manifest(tmp_path / "second")["held_out_chapters"] == held_out

    # A second night: only a new file; the held-out split is still the original one.
    (folder / "chapter98.txt").write_text(austen_pieces(10)[9], encoding="utf-8")
    third = tr.train(config(folder, app_paths, tiny_model_dir, tmp_path / "third",
                            base=str(tmp_path / "second"), continue_from=tmp_path / "second"))
    assert third.status == "done"
    assert {u.key.split("#")[0] for u in received[-1].train} == {"chapter98.txt"}
    assert sorted(u.key for u in received[-1].eval) == held_out


def test_nothing_changed_means_no_run(tmp_path, app_paths, tiny_model_dir, received) -> None:
    folder = write_folder(tmp_path / "novel")
    assert tr.train(config(folder, app_paths, tiny_model_dir, tmp_path / "first")).status == "done"
    runs_before = sorted(app_paths.runs_dir.iterdir()) if app_paths.runs_dir.exists() else []
    with pytest.raises(cont.NothingChangedError, match="Nothing in .* changed since .* Nothing was trained"):
        tr.train(config(folder, app_paths, tiny_model_dir, tmp_path / "again", base=str(tmp_path / "first"),
                        continue_from=tmp_path / "first"))
    assert not (tmp_path / "again").exists() and len(received) == 1
    assert (sorted(app_paths.runs_dir.iterdir()) if app_paths.runs_dir.exists() else []) == runs_before


def test_only_held_out_changes_leave_nothing_to_train(tmp_path) -> None:
    from dataclasses import dataclass

    @dataclass
    class Doc:
        path: str
        chapters: list[str]

    model = tmp_path / "model"
    model.mkdir()
    folder = write_folder(tmp_path / "novel", 3)
    from cw_desktop.core.training_manifest import build_manifest, write_manifest

    names = sorted(p.name for p in folder.iterdir())
    write_manifest(model, build_manifest(folder, names, [f"{names[0]}#0"], seed=1, eval_share=0.3))
    (folder / names[0]).write_text("Edited held-out chapter.\n\nMore.")
    docs = [Doc(name, [(folder / name).read_text()]) for name in names]
    with pytest.raises(cont.NothingChangedError, match="Only held-out chapters changed"):
        cont.continuation_split(docs, model, folder, names)


def test_an_older_fine_tune_falls_back_to_modification_times(tmp_path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    folder = write_folder(tmp_path / "novel", 3)
    old = time.time() - 3600
    for path in folder.iterdir():
        os.utime(path, (old, old))
    made = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(old + 60))
    (model / "report.json").write_text(json.dumps({"created": made, "folder": str(folder),
                                                   "held_out_chapters": ["chapter00.txt#0"]}))
    (folder / "chapter02.txt").write_text("A new scene.\n\nWritten after the fine-tune.")
    changes = changes_since(model, folder, ["chapter00.txt", "chapter01.txt", "chapter02.txt"])
    assert changes.changed == ["chapter02.txt"] and changes.method == "modification times"
    assert "predates file fingerprints" in changes.note and changes.held_out_chapters == ["chapter00.txt#0"]
    assert not (model / MANIFEST_FILE).exists()


def test_the_budget_cuts_the_plan_to_what_fits() -> None:
    info = plan.ModelInfo(parameters=135_000_000, layers=30, context_length=2048)
    hp = plan.plan_training(400_000, info, "cpu", {"epochs": 6.0})
    for minutes in (5, 30):
        fitted = cont.steps_within(hp, info, 6_000, minutes * 60)
        assert plan.estimate_seconds(fitted, info, 6_000) <= minutes * 60
        assert 1 <= fitted.max_steps < hp.max_steps and fitted.eval_interval == max(1, fitted.max_steps // 4)
    assert cont.steps_within(hp, info, 6_000, 30 * 60).max_steps > cont.steps_within(hp, info, 6_000, 5 * 60).max_steps
    assert cont.steps_within(hp, info, 6_000, 10 ** 9).max_steps == hp.max_steps  # never more than planned
