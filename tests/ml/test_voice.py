""""Sounds like you": paragraphs of the author a fine-tune learned score above another author's,
for a LoRA adapter (one model, adapter off for the base) and a full fine-tune (two models); scores are
cached per paragraph so an edit rescores only what changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_models import paragraphs, train_full, train_lora_adapter
from cw_desktop.ml.voice import (VoiceCancelled, load_voice_models, scorer_for, split_paragraphs)


@pytest.fixture(scope="module")
def adapter_a(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter-a"), paragraphs("A", 60, seed=1))


def held_out_document() -> tuple[str, list[int], list[int]]:
    """Alternating held-out paragraphs of A and B (seeds unlike the training text's)."""
    a, b = paragraphs("A", 4, seed=101), paragraphs("B", 4, seed=202)
    mixed = [p for pair in zip(a, b) for p in pair]
    return "\n\n".join(mixed), [0, 2, 4, 6], [1, 3, 5, 7]


def test_split_paragraphs_keeps_their_places_in_the_text() -> None:
    text = "  First one.\nstill first.\n\n\n  Second.  \n \nThird"
    found = split_paragraphs(text)
    assert [p.text for p in found] == ["First one.\nstill first.", "Second.", "Third"]
    assert all(text[p.start:p.end] == p.text for p in found)
    assert split_paragraphs("\n\n  \n") == []


@pytest.mark.parametrize("kind", ["lora", "full"])
def test_the_training_authors_paragraphs_score_above_another_authors(kind, tiny_model_dir, adapter_a,
                                                                      session_app_paths, tmp_path) -> None:
    if kind == "lora":
        models = load_voice_models(str(adapter_a), session_app_paths)
        assert models.base is None  # one model: the base pass switches the adapter off
    else:
        tuned = train_full(tiny_model_dir, tmp_path / "full-a", paragraphs("A", 60, seed=1))
        models = load_voice_models(str(tuned), session_app_paths)
        assert models.base is not None
    text, from_a, from_b = held_out_document()
    scores = [s.score for s in scorer_for(models).score_text(text)]
    assert all(s is not None for s in scores)
    assert min(scores[i] for i in from_a) > max(scores[i] for i in from_b)
    assert min(scores[i] for i in from_a) > 0  # the fine-tune expects A's words more than its base does


def test_an_edit_rescores_only_the_changed_paragraph(adapter_a, session_app_paths) -> None:
    models = load_voice_models(str(adapter_a), session_app_paths)
    calls = []
    real_forward = models.tuned.forward

    def counting_forward(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[1])
        return real_forward(*args, **kwargs)

    models.tuned.forward = counting_forward
    scorer = scorer_for(models, block_tokens=128)
    text, _a, _b = held_out_document()
    first = scorer.score_text(text)
    full_passes = len(calls)
    assert full_passes >= 4  # 8 paragraphs do not fit one 128-token block: several blocks, two passes each
    edited = text.replace(split_paragraphs(text)[5].text, "The auditor reconciled the ledger at dawn.")
    assert scorer.missing(split_paragraphs(edited)) == 1
    calls.clear()
    second = scorer.score_text(edited)
    assert len(calls) == 2  # one block, tuned and base pass
    assert [s.score for i, s in enumerate(second) if i != 5] == [s.score for i, s in enumerate(first) if i != 5]


def test_scoring_stops_between_blocks_and_keeps_what_it_did(adapter_a, session_app_paths) -> None:
    models = load_voice_models(str(adapter_a), session_app_paths)
    scorer = scorer_for(models, block_tokens=64)
    text, _a, _b = held_out_document()
    asked = []

    def stop_after_first_block() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(VoiceCancelled):
        scorer.score_text(text, should_stop=stop_after_first_block)
    remaining = scorer.missing(split_paragraphs(text))
    assert 0 < remaining < 8


def test_a_base_model_has_no_voice_to_compare(tiny_model_dir, session_app_paths) -> None:
    from cw_desktop.ml.loading import ModelLoadError

    with pytest.raises(ModelLoadError, match="names no base model"):
        load_voice_models(str(tiny_model_dir), session_app_paths)
