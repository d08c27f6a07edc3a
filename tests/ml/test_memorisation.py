"""The memorisation guard: suggestions that repeat >= 12 consecutive words of the fine-tuning text are
marked with the chapter they copy, in the editor and in the fine-tune report."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from cw_desktop.ml import memorisation as mem
from cw_desktop.ml.memorisation import MemorisationIndex

CHAPTER_ONE = ("It was a bright cold day in April, and the clocks were striking thirteen. "
               "Winston Smith, his chin nuzzled into his breast in an effort to escape the vile wind, "
               "slipped quickly through the glass doors of Victory Mansions.")
CHAPTER_TWO = ("The hallway smelt of boiled cabbage and old rag mats. At one end of it a coloured poster, "
               "too large for indoor display, had been tacked to the wall.")


@dataclass(frozen=True)
class Unit:
    key: str
    text: str


def words_of(text: str, start: int, count: int) -> str:
    return " ".join(text.split()[start:start + count])


@pytest.fixture
def index() -> MemorisationIndex:
    return MemorisationIndex.build([Unit("novel/1984.txt#0", CHAPTER_ONE), Unit("novel/1984.txt#2", CHAPTER_TWO)])


def test_twelve_copied_words_are_flagged_with_their_chapter(index) -> None:
    copied = " " + words_of(CHAPTER_TWO, 3, 12)
    assert index.copies(copied, "She wrote slowly.") == "copies your 1984.txt, chapter 3"
    assert index.find_copy(copied).words == 12


def test_eleven_copied_words_are_not_flagged(index) -> None:
    assert index.copies(" " + words_of(CHAPTER_ONE, 2, 11) + " purple elephants", "Nothing alike.") is None


def test_case_and_punctuation_differences_are_still_a_copy(index) -> None:
    changed = " IT WAS A BRIGHT—cold day; in April. And the clocks: were striking thirteen!"
    assert index.copies(changed) == "copies your 1984.txt, chapter 1"


def test_a_copied_run_that_starts_in_the_draft_is_flagged(index) -> None:
    draft = "My own words first. " + words_of(CHAPTER_ONE, 0, 7)  # 7 copied words typed by the writer
    suggestion = " " + words_of(CHAPTER_ONE, 7, 5) + " and more of my own"  # 5 more from the model
    assert index.copies(suggestion, draft) == "copies your 1984.txt, chapter 1"
    # The draft alone repeating the book is the writer's business, not the suggestion's.
    assert index.copies(" and then something else entirely new here", draft + " " + words_of(CHAPTER_ONE, 7, 5)) \
        is None


def test_a_suggestion_finishing_the_drafts_last_word_counts_it_once(index) -> None:
    draft = words_of(CHAPTER_ONE, 0, 11) + " we"  # 11 copied words and the start of the 12th
    assert index.copies("re", draft) == "copies your 1984.txt, chapter 1"
    assert index.copies("ary", draft) is None


def test_threshold_is_configurable_and_stored(tmp_path) -> None:
    index = MemorisationIndex.build([Unit("a.txt#0", CHAPTER_ONE)], n=5)
    assert index.copies(" " + words_of(CHAPTER_ONE, 3, 5)) is not None
    index.save(tmp_path)
    assert MemorisationIndex.load(tmp_path).n == 5


def test_index_round_trips_through_the_model_folder(index, tmp_path) -> None:
    index.save(tmp_path)
    loaded = MemorisationIndex.load(tmp_path)
    assert loaded is not None and loaded.names == index.names and loaded.words == index.words
    assert loaded.copies(" " + words_of(CHAPTER_TWO, 0, 14)) == "copies your 1984.txt, chapter 3"
    assert MemorisationIndex.load(tmp_path / "elsewhere") is None


def test_a_damaged_index_names_the_folder_and_does_not_stop_loading(index, tmp_path) -> None:
    index.save(tmp_path)
    (tmp_path / mem.INDEX_FILE).write_bytes(b"not a numpy file")
    with pytest.raises(ValueError, match="memorisation index in .* cannot be read"):
        MemorisationIndex.load(tmp_path)
    assert mem.load_index(tmp_path) is None


def test_report_counts_the_samples_that_copy(index) -> None:
    prompts = [("story", "Once upon a time"), ("held-out opening", "The hallway smelt")]
    samples = [" there was a fox who lived alone.", " of boiled cabbage and old rag mats. At one end of it a"]
    copying = mem.copying_samples(index, prompts, samples)
    assert copying["count"] == 1 and copying["checked"] == 2
    assert copying["samples"][0]["form"] == "held-out opening"
    assert copying["samples"][0]["source"] == "1984.txt, chapter 3"


# -- the engine --------------------------------------------------------------------------------------

def _greedy(loaded):
    from cw_desktop.ml.generation import Generator, preset

    settings = preset("prose", alternatives=1, max_new_tokens=40, stop="none", temperature=0.0)
    return Generator(loaded), settings


def test_engine_marks_a_suggestion_that_repeats_the_models_training_text(tiny_model_dir, app_paths,
                                                                        tmp_path) -> None:
    from cw_desktop.ml.loading import load_model

    draft = "The old house stood at the end of the lane, and"
    engine, settings = _greedy(load_model(str(tiny_model_dir), app_paths))
    assert engine.memorisation is None  # a folder without an index loads as before
    plain = engine.suggest(draft, settings)[0]
    assert plain.copies is None
    assert len(mem.normalise_words(plain.text)) >= 4, plain.text
    # A "fine-tune" whose training chapter holds exactly what this model writes after the draft.
    folder = tmp_path / "tuned"
    shutil.copytree(tiny_model_dir, folder)
    MemorisationIndex.build([Unit("stories/lane.txt#4", draft + plain.text)], n=4).save(folder)
    engine, settings = _greedy(load_model(str(folder), app_paths))
    marked = engine.suggest(draft, settings)[0]
    assert marked.text == plain.text
    assert marked.copies == "copies your lane.txt, chapter 5"


def test_fine_tune_writes_the_index_and_counts_copying_samples(tiny_model_dir, app_paths, tmp_path,
                                                              monkeypatch) -> None:
    from shared_data import WRITERS, require_corpus

    from cw_desktop.ml import training as tr

    require_corpus()
    text = (WRITERS / "austen" / "Persuasion.txt").read_text(encoding="utf-8")
    start = text.index("Chapter 1")
    paragraphs = [" ".join(p.split()) for p in text[start:start + 20_000].replace("\r\n", "\n").split("\n\n")
                  if p.strip()]
    chapters = ["\n\n".join(paragraphs[i:i + 25]) for i in range(0, len(paragraphs), 25)]
    folder = tmp_path / "manuscripts"
    folder.mkdir()
    (folder / "persuasion.txt").write_text("\n\n".join(chapters), encoding="utf-8")
    # Samples that recite the folder (every chapter, so some training chapter among them); the
    # tiny model itself writes noise that copies nothing.
    recited = [" " + " ".join(c.split()[:20]) for c in chapters]
    monkeypatch.setattr(tr, "generate_samples", lambda model, tokenizer, prompts, **kw: [" ".join(recited)]
                        + [" nothing copied here at all"] * (len(prompts) - 1))
    monkeypatch.setattr(tr, "keystrokes_saved", lambda *args, **kwargs: 0.1)
    config = tr.TrainConfig(folder=folder, paths=app_paths, base=str(tiny_model_dir), output=tmp_path / "out",
                            overrides={"mode": "full", "max_steps": 2, "block_size": 64}, samples=True)
    assert tr.train(config).status == "done"
    out = tmp_path / "out"
    index = MemorisationIndex.load(out)
    assert index is not None and index.n == 12
    assert all(name.startswith("persuasion.txt, chapter ") for name in index.names)
    report = json.loads((out / "report.json").read_text())
    held_out = {int(key.rsplit("#", 1)[1].split(".")[0]) for key in report["held_out_chapters"]}
    assert not any(name.endswith(f"chapter {c + 1}") for name in index.names for c in held_out)
    copying = report["samples_copying"]
    assert copying["count"] == 1 and copying["samples"][0]["form"] == "poem"
    assert "1 of" in (out / "report.md").read_text()
