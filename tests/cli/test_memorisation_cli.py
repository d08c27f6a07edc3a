"""`cw-desktop memorisation build`: an index for a fine-tune trained before the guard existed."""

from __future__ import annotations

import json
import shutil

from cw_desktop.cli import run_cli
from cw_desktop.ml import dataset as ds
from cw_desktop.ml.memorisation import MemorisationIndex

CHAPTERS = [" ".join(f"chapter{c} word{w} of the story" for w in range(120)) for c in range(12)]


def test_build_indexes_the_training_chapters_of_the_recorded_split(tiny_model_dir, tmp_path, capsys) -> None:
    folder = tmp_path / "manuscripts"
    folder.mkdir()
    (folder / "book.txt").write_text("\n\n".join(f"Chapter {i + 1}\n\n{t}" for i, t in enumerate(CHAPTERS)),
                                     encoding="utf-8")
    model = tmp_path / "tuned"
    shutil.copytree(tiny_model_dir, model)
    (model / "report.json").write_text(json.dumps({"eval_share": 0.25, "hyperparameters": {"seed": 99}}))
    assert run_cli(["--data", str(tmp_path / "data"), "memorisation", "build", str(model), str(folder)]) == 0
    assert "memorisation.npz" in capsys.readouterr().out
    index = MemorisationIndex.load(model)
    assert index is not None and index.n == 12
    # Held-out chapters (same seed and share as the report) are not in the index; training ones are.
    from cw_desktop.ml.corpus import load_corpus

    split = ds.split_units(ds.document_units(load_corpus(folder).documents), eval_share=0.25, seed=99)
    assert split.eval and split.train
    assert index.copies(" " + " ".join(split.train[0].text.split()[30:45])) is not None
    assert index.copies(" " + " ".join(split.eval[0].text.split()[30:45])) is None


def test_build_names_a_missing_model_folder(tmp_path, capsys) -> None:
    assert run_cli(["memorisation", "build", str(tmp_path / "nowhere"), str(tmp_path)]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err
