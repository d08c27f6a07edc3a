"""Held-out split by chapter, packing with EOS, and the too-little-text refusal."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from cw_desktop.ml import dataset as ds


@dataclass
class Doc:
    """The part of corpus.Document the dataset uses."""

    path: str
    chapters: list[str]
    text: str = field(default="")


def words(n: int, tag: str) -> str:
    """n distinct-looking words in paragraphs of 50, tagged so leakage is detectable."""
    tokens = [f"{tag}w{i}" for i in range(n)]
    return "\n\n".join(" ".join(tokens[i:i + 50]) for i in range(0, n, 50))


def book(path: str, chapters: int, size: int) -> Doc:
    return Doc(path, [words(size, f"{path}c{c}") for c in range(chapters)])


def test_split_holds_out_whole_chapters_about_the_requested_share() -> None:
    docs = [book("a.txt", 20, 1000), book("b.txt", 10, 1000)]
    split = ds.split_units(ds.document_units(docs), eval_share=0.1, seed=1)
    train_keys = {u.key for u in split.train}
    eval_keys = {u.key for u in split.eval}
    assert not train_keys & eval_keys
    assert len(train_keys) + len(eval_keys) == 30  # chapters are not divided here
    assert split.eval_words == 3000  # 10% of 30,000 words = 3 chapters
    # No text of a held-out chapter appears on the training side.
    train_text = " ".join(u.text for u in split.train)
    for unit in split.eval:
        assert unit.text.split()[0] not in train_text


def test_split_is_deterministic_and_depends_on_seed_not_input_order() -> None:
    docs = [book("a.txt", 20, 500), book("b.txt", 20, 500)]
    first = ds.split_units(ds.document_units(docs), seed=5)
    again = ds.split_units(ds.document_units(list(reversed(docs))), seed=5)
    other = ds.split_units(ds.document_units(docs), seed=6)
    assert [u.key for u in first.eval] == [u.key for u in again.eval]
    assert {u.key for u in first.eval} != {u.key for u in other.eval}


def test_large_folder_held_out_part_is_capped() -> None:
    docs = [book("big.txt", 100, 3000)]  # 300k words: 10% would be 30k
    split = ds.split_units(ds.document_units(docs))
    assert ds.MIN_EVAL_WORDS <= split.eval_words <= ds.MAX_EVAL_WORDS


def test_small_folder_keeps_a_split_by_dividing_a_single_story() -> None:
    docs = [Doc("story.txt", [words(3000, "s")])]  # one chapter only
    split = ds.split_units(ds.document_units(docs))
    assert split.eval and split.train
    assert split.eval_words >= ds.MIN_EVAL_WORDS
    assert split.train_words >= ds.MIN_TRAIN_WORDS
    assert not {u.key for u in split.train} & {u.key for u in split.eval}


def test_too_little_text_is_refused_with_amounts() -> None:
    docs = [Doc("note.txt", [words(800, "n")])]
    with pytest.raises(ds.InsufficientDataError) as info:
        ds.split_units(ds.document_units(docs), source="/home/me/drafts")
    message = str(info.value)
    assert "/home/me/drafts" in message
    assert "800 words" in message
    assert f"{ds.MIN_TOTAL_WORDS:,} words" in message


def test_packing_puts_eos_between_texts_without_padding(tiny_loaded) -> None:
    tokenizer = tiny_loaded.tokenizer
    eos = tokenizer.eos_token_id
    texts = ["The storm broke over the harbour.", "Once upon a time there lived a king."]
    ids = ds.pack(ds.tokenize_texts(tokenizer, texts), eos)
    first = tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    second = tokenizer(texts[1], add_special_tokens=False)["input_ids"]
    assert ids.tolist() == first + [eos] + second + [eos]


def test_blocks_are_full_length_and_eval_keeps_every_token() -> None:
    import torch

    ids = torch.arange(103)
    train = ds.train_blocks(ids, 10)
    assert train.shape == (10, 10)  # the 3-token tail is dropped, nothing is padded
    assert train.flatten().tolist() == list(range(100))
    evaluation = ds.eval_blocks(ids, 10)
    assert [len(b) for b in evaluation] == [10] * 10 + [3]
    assert torch.cat(evaluation).tolist() == list(range(103))


def test_prepare_data_adds_extra_texts_to_the_training_side_only(tiny_loaded) -> None:
    docs = [book("a.txt", 10, 400)]
    split = ds.split_units(ds.document_units(docs), min_total_words=1000, min_train_words=500)
    plain = ds.prepare_data(split, tiny_loaded.tokenizer, 64)
    extra = ds.prepare_data(split, tiny_loaded.tokenizer, 64, ["An accepted suggestion in context."])
    assert extra.eval_ids.tolist() == plain.eval_ids.tolist()
    assert extra.train_tokens > plain.train_tokens
    assert extra.extra_train_texts == 1
    assert (plain.train_blocks().shape[1]) == 64


def test_a_story_in_two_collections_never_sits_on_both_sides(tmp_path) -> None:
    """The same chapters in an anthology and a single-story file (another edition: a few words
    differ): the held-out copy's twin is left out of training, so held-out figures stay honest."""
    from cw_desktop.ml.corpus import load_corpus

    def chapter(tag: str, number: int, edition: str = "") -> str:
        body = words(400, f"{tag}{number}x")
        return f"CHAPTER {number}\n\n" + (body.replace(f"{tag}{number}xw7 ", f"{edition} ") if edition else body)

    shared = range(1, 13)
    (tmp_path / "story.txt").write_text("\n\n".join(chapter("s", n) for n in shared), encoding="utf-8")
    anthology = [chapter("s", n, edition="revised") for n in shared] + [chapter("u", n) for n in range(13, 40)]
    (tmp_path / "collected.txt").write_text("\n\n".join(anthology), encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert len(corpus.used) == 2  # different enough as whole files: both are used
    split = ds.split_units(ds.document_units(corpus.documents), eval_share=0.2, seed=3)
    held = Counter(u.text.split()[2] for u in split.eval)  # first word after "CHAPTER n"
    # A shared chapter held out in one copy only: its twin would have been trained on.
    twins_on_train_side = [tag for tag, copies in held.items() if tag.startswith("s") and copies == 1]
    assert twins_on_train_side, "the test needs a shared chapter on the held-out side"
    train_words = set(" ".join(u.text for u in split.train).split())
    assert not set(held) & train_words
    assert split.heldout_overlap_dropped == len(twins_on_train_side)
    again = ds.split_units(ds.document_units(corpus.documents), eval_share=0.2, seed=3)
    assert [u.key for u in again.train] == [u.key for u in split.train]
