"""The project vocabulary: the writer's own names and phrases, mixed into the model's next-token odds."""

from pathlib import Path

import numpy as np

from cw_desktop.ml.project_ngrams import ORDER_WEIGHT, FolderIndex, ProjectVocabulary, draft_following


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_folder_index_finds_what_followed_a_context_and_never_spans_two_texts() -> None:
    index = FolderIndex([[1, 2, 3, 4], [2, 3, 5], [9, 2, 3]])
    assert sorted(index.following([7, 2, 3], 2).tolist()) == [4, 5]
    assert index.following([1, 2, 3], 3).tolist() == [4]
    assert index.following([3, 9], 2).tolist() == []  # "3" ends one text, "9" starts the next


def test_the_draft_is_scanned_without_an_index() -> None:
    draft = np.array([5, 6, 7, 5, 6, 8, 5, 6])
    assert sorted(draft_following(draft, [5, 6], 2).tolist()) == [7, 8]


def test_a_name_the_writer_used_wins_over_the_models_guess() -> None:
    vocabulary = ProjectVocabulary()
    # "Miss Woodhouse" three times in the draft: tokens 10 11 12 -> 13.
    vocabulary.set_draft_ids([10, 11, 12, 13, 1, 10, 11, 12, 13, 2, 10, 11, 12, 13, 3])
    logits = np.zeros((1, 20), dtype=np.float32)
    logits[0, 4] = 2.0  # the model's own favourite
    mixed = vocabulary.mix(logits, [[0, 10, 11, 12]])
    assert int(mixed.argmax()) == 13
    weight = ORDER_WEIGHT[3] * 6 / 7  # the 3-token context seen 3 times in the draft, each counting 2
    expected = weight + (1 - weight) * softmax(logits)[0, 13]
    assert abs(softmax(mixed)[0, 13] - expected) < 1e-4


def test_without_a_match_the_models_logits_are_untouched() -> None:
    vocabulary = ProjectVocabulary()
    vocabulary.set_draft_ids([1, 2, 3])
    logits = np.random.default_rng(0).standard_normal((2, 10)).astype(np.float32)
    assert np.array_equal(vocabulary.mix(logits, [[7, 8], [8, 9]]), logits)


def test_the_folder_counts_when_the_draft_has_not_used_the_phrase_yet() -> None:
    vocabulary = ProjectVocabulary()
    vocabulary.set_folder_ids([[30, 31, 32] * 4])
    logits = np.zeros((1, 40), dtype=np.float32)
    logits[0, 5] = 1.0  # a weak guess of the model's own
    assert int(vocabulary.mix(logits, [[30, 31]]).argmax()) == 32


def test_the_project_is_the_other_manuscripts_beside_the_document(tmp_path) -> None:
    from cw_desktop.ml.project_ngrams import project_files

    (tmp_path / "chapter1.txt").write_text("Miss Woodhouse walked to Hartfield.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("Hartfield: the house.", encoding="utf-8")
    (tmp_path / "chapter2.txt").write_text("The open document.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "old.txt").write_text("an older draft", encoding="utf-8")
    texts = [file.text for file in project_files(tmp_path, exclude=tmp_path / "chapter2.txt")]
    assert sorted(texts) == ["Hartfield: the house.", "Miss Woodhouse walked to Hartfield."]


def test_a_fine_tune_leaves_the_files_it_learned_out_of_the_project_vocabulary(tmp_path: Path, tiny_loaded) -> None:
    """The folder's n-grams are for what the model has not learned: a fine-tune of this folder
    knows its files already (counting them twice cost typing), but not a chapter written since."""
    from dataclasses import replace

    from cw_desktop.core.training_manifest import build_manifest, write_manifest
    from cw_desktop.ml.generation import Generator
    from cw_desktop.ml.project_ngrams import project_files

    folder = tmp_path / "novel"
    folder.mkdir()
    (folder / "one.txt").write_text("Quillerbrook Hall stood on the hill. " * 5, encoding="utf-8")
    (folder / "two.txt").write_text("Mrs Pennyworth poured the tea. " * 5, encoding="utf-8")
    model_folder = tmp_path / "fine-tune"
    model_folder.mkdir()
    write_manifest(model_folder, build_manifest(folder, ["one.txt", "two.txt"], [], seed=1, eval_share=0.1))
    (folder / "three.txt").write_text("Captain Ashgrove rode in at dusk. " * 5, encoding="utf-8")
    files = project_files(folder)
    assert len(files) == 3

    base = Generator(tiny_loaded)
    assert base.set_project_files(files) == 3  # no manifest: every file counts
    tuned = Generator(replace(tiny_loaded, folder=model_folder))
    assert tuned.set_project_files(files) == 1  # only the chapter written since the fine-tune
    newest = Generator(tiny_loaded)
    newest.set_project_texts(["Captain Ashgrove rode in at dusk. " * 5])
    assert tuned.vocabulary.folder is not None and base.vocabulary.folder is not None
    assert np.array_equal(tuned.vocabulary.folder.stream, newest.vocabulary.folder.stream)
    assert base.vocabulary.folder.tokens > tuned.vocabulary.folder.tokens
    (folder / "one.txt").write_text("Quillerbrook Hall stood on the hill, rebuilt. " * 5, encoding="utf-8")
    assert tuned.set_project_files(project_files(folder)) == 2  # an edited file counts again
