"""Banned phrases and the DRY penalty, during decoding, on a tiny GPT-2 that wants to write the phrase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cw_desktop.core.generation_settings import GenerationSettings, preset
from cw_desktop.ml import engine as engine_module
from cw_desktop.ml.constraints import BannedPhrases, DryPenalty
from cw_desktop.ml.generation import Generator
from cw_desktop.ml.loading import load_model
from cw_desktop.ml.sampling import log_softmax
from planted_model import PLANTED, PROMPT, build_planted_gpt2

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0, stop="none",
                            greedy_first=True)


@pytest.fixture(scope="module")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_planted_gpt2(tmp_path_factory.mktemp("planted"))


@pytest.fixture
def engine(planted_dir: Path, app_paths) -> Generator:
    return Generator(load_model(str(planted_dir), app_paths))


def banned(settings: GenerationSettings, *phrases: str, **changes) -> GenerationSettings:
    return GenerationSettings(**{**settings.__dict__, "banned_phrases": list(phrases), **changes})


def test_the_planted_phrase_is_the_greedy_continuation(engine: Generator) -> None:
    """The precondition of every ban test below: without a ban, the model writes the phrase."""
    assert engine.suggest(PROMPT, GREEDY)[0].text.startswith(PLANTED.rstrip("."))
    assert len(engine.tokenizer.encode(" lamp went out")) >= 3


@pytest.mark.parametrize("phrase", ["suddenly", "SUDDENLY", " Suddenly", "lamp went out", "the LAMP  went out",
                                   "Suddenly the lamp"])
def test_a_banned_phrase_is_never_produced_even_as_the_likeliest_words(engine: Generator, phrase: str) -> None:
    streamed: list[str] = []
    result = engine.suggest(PROMPT, banned(GREEDY, phrase), on_token=lambda _i, text: streamed.append(text))[0]
    assert result.text.strip(), "a suggestion is still made after the ban"
    needle = " ".join(phrase.lower().split())
    assert needle not in " ".join(result.text.lower().split())
    # Not even for a moment while it streamed.
    assert not any(needle in " ".join(text.lower().split()) for text in streamed)


def test_only_whole_words_are_banned(engine: Generator) -> None:
    """Banning "lam" must not stop "lamp"."""
    assert engine.suggest(PROMPT, banned(GREEDY, "lam"))[0].text.startswith(PLANTED.rstrip("."))


def test_sampled_alternatives_never_produce_a_banned_phrase(engine: Generator) -> None:
    settings = banned(GREEDY, "suddenly", "lamp", temperature=0.9, top_p=1.0, top_k=0, alternatives=4)
    for seed in range(4):
        results = engine.suggest(PROMPT, banned(settings, "suddenly", "lamp", seed=seed))
        assert len(results) == 4
        for result in results:
            assert "suddenly" not in result.text.lower() and "lamp" not in result.text.lower(), result.text
        assert any(result.text.strip() for result in results)


def test_batched_rows_roll_back_like_a_single_row(engine: Generator) -> None:
    """Greedy alternatives decode in one batch: after their rollbacks they must agree with the
    ghost text, which decoded alone (a cache cut at the wrong place would make them differ)."""
    settings = banned(GREEDY, "suddenly", "went out", alternatives=3)
    results = engine.suggest(PROMPT, settings)
    assert results[0].text.strip()
    assert [r.text for r in results] == [results[0].text] * 3


@pytest.mark.parametrize("seed", [0, 3])
def test_rows_that_keep_their_tokens_replay_them_correctly(engine: Generator, monkeypatch, seed: int) -> None:
    """When one row of a batch rolls back, the others re-feed their own tokens: each row's score
    (from the cached logits) must equal what the model gives the same tokens in one clean pass."""
    rows: list = []
    original = engine_module.decode_rows

    def keep(*args, **kwargs):
        found = original(*args, **kwargs)
        rows.extend(found)
        return found

    monkeypatch.setattr(engine_module, "decode_rows", keep)
    settings = banned(GREEDY, "lamp went out", temperature=1.0, top_p=1.0, top_k=0, alternatives=4, seed=seed,
                      max_new_tokens=10)
    crops: list[int] = []
    crop = engine._crop_cache
    monkeypatch.setattr(engine, "_crop_cache", lambda cache, length: (crops.append(length), crop(cache, length)))
    engine.suggest(PROMPT, settings)
    prompt = engine._build_prompt(PROMPT, settings, "")
    assert len(rows) == 4
    assert any(length > len(prompt.ids) for length in crops), "no row was rolled back"
    with torch.inference_mode():
        for row in rows:
            if not row.ids:
                continue
            ids = prompt.ids + row.ids
            logits = engine.model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
            clean = sum(float(logits[len(prompt.ids) - 1 + i, t]) for i, t in enumerate(row.ids)) / len(row.ids)
            assert abs(clean - row.score) < 1e-3, (row.text, clean, row.score)


def test_a_ban_holds_through_token_healing(engine: Generator) -> None:
    """Token healing: the draft's last token (here the space after the full stop) is generated
    again, fused with the next word: that fused token must not complete the phrase either."""
    draft = PROMPT + " "
    assert engine._build_prompt(draft, GREEDY, "").heal_text
    assert "suddenly" in (draft + engine.suggest(draft, GREEDY)[0].text).lower()
    text = engine.suggest(draft, banned(GREEDY, "suddenly"))[0].text
    assert "suddenly" not in (draft + text).lower()


def test_written_pieces_never_contain_a_banned_phrase(engine: Generator) -> None:
    settings = banned(GREEDY, "suddenly", "the lamp", temperature=0.7, seed=1, max_new_tokens=60)
    piece = engine.write(PROMPT, settings)
    assert piece.text.strip()
    assert "suddenly" not in piece.text.lower() and "the lamp" not in piece.text.lower()


def test_phrase_matching_rules() -> None:
    bans = BannedPhrases(["suddenly", "all of a sudden", "don't"])
    assert bans.find("It was, SUDDENLY, over") == 8
    assert bans.find("all of a\nsudden") == 0
    assert bans.find("I don’t know") == 2  # typographic apostrophe
    assert bans.find("suddenlyish and sand") is None
    assert bans.find("suddenly it rained", new_from=9) is None  # wholly inside the writer's text
    assert bans.pending("and then all of a") == len("all of a")
    assert bans.pending("and then nothing") == 0


# -- DRY ---------------------------------------------------------------------------------------------

def _dry(allowed: int, multiplier: float = 1.0) -> DryPenalty:
    return DryPenalty(multiplier, 2.0, allowed, ["\n"], token_text=lambda t: "\n" if t == 0 else f"w{t}")


def test_dry_penalises_the_token_that_would_extend_a_repeat() -> None:
    sequence = [5, 6, 7, 8, 9, 1, 5, 6, 7]  # "5 6 7" again: 8 would make it four long
    assert _dry(allowed=2).penalties(sequence) == {8: 1.0 * 2.0 ** (3 - 2)}
    assert _dry(allowed=3).penalties(sequence) == {8: 1.0}
    assert _dry(allowed=4).penalties(sequence) == {}  # below the allowed length: nothing
    # A sequence breaker ends the match: "0 6 7" repeats only "6 7".
    assert _dry(allowed=3).penalties([5, 0, 6, 7, 8, 1, 5, 0, 6, 7]) == {}


def test_dry_lowers_the_probability_of_continuing_a_repeated_passage(engine: Generator) -> None:
    draft = PROMPT + PLANTED + " Nobody spoke for a while. " + PROMPT
    plain = engine.suggest(draft, GREEDY)[0].text
    assert plain.startswith(" Suddenly the lamp")  # the model repeats itself
    settings = banned(GREEDY, dry_multiplier=2.0, dry_allowed_length=2)
    prompt = engine._build_prompt(draft, settings, "")
    ids = prompt.ids + [prompt.heal_id] + engine.tokenizer.encode(" Suddenly the")
    with torch.inference_mode():
        logits = engine.model(input_ids=torch.tensor([ids])).logits[:, -1].float().numpy()
    dry = DryPenalty(2.0, 1.75, 2, ["\n"], engine._decode)
    lamp = engine.tokenizer.encode(" lamp")[0]
    before = log_softmax(logits)[0, lamp]
    after = log_softmax(dry.apply(logits.copy(), [ids]))[0, lamp]
    assert after < before - 5.0  # "She opened the door. Suddenly the" repeats 8 tokens
    assert not engine.suggest(draft, settings)[0].text.startswith(" Suddenly the lamp went out")
    # Below the allowed length the scores are untouched.
    short = DryPenalty(2.0, 1.75, 40, ["\n"], engine._decode)
    assert np.array_equal(short.apply(logits.copy(), [ids]), logits)


def test_settings_are_validated() -> None:
    settings = GenerationSettings(banned_phrases=["  Suddenly ", "suddenly", "", "a  shiver"], dry_multiplier=-1,
                                  dry_base=0.5, dry_allowed_length=0).validated()
    assert settings.banned_phrases == ["Suddenly", "a shiver"]
    assert (settings.dry_multiplier, settings.dry_base, settings.dry_allowed_length) == (0.0, 1.0, 1)
    assert GenerationSettings(banned_phrases="one\ntwo\n").validated().banned_phrases == ["one", "two"]
    assert preset("prose").dry_multiplier > 0 and preset("poetry").dry_multiplier == 0


def test_the_llamacpp_backend_honours_a_ban(planted_dir: Path, app_paths) -> None:
    pytest.importorskip("llama_cpp", reason="the fast backend (llama-cpp-python) is not installed")
    from cw_desktop.ml.backends.llamacpp import LlamaCppGenerator, LlamaCppModel
    from cw_desktop.ml.gguf_export import export_gguf
    from cw_desktop.ml.loading import LoadedModel

    torch_loaded = load_model(str(planted_dir), app_paths)
    gguf = export_gguf(torch_loaded.model, torch_loaded.tokenizer, planted_dir / "planted-f32.gguf", "f32")
    fast = LlamaCppGenerator(LoadedModel(model=LlamaCppModel(gguf, torch_loaded.model.config.eos_token_id),
                                         tokenizer=torch_loaded.tokenizer, spec=str(planted_dir), display_name="tiny",
                                         folder=planted_dir, context_length=torch_loaded.context_length,
                                         backend="llamacpp"))
    assert fast.suggest(PROMPT, GREEDY)[0].text.startswith(PLANTED.rstrip("."))
    settings = banned(GREEDY, "suddenly", "lamp went out", alternatives=3)
    results = fast.suggest(PROMPT, settings)
    assert results[0].text.strip()
    for result in results:
        assert "suddenly" not in result.text.lower() and "lamp went out" not in result.text.lower()
    # The rollback cuts llama.cpp's own cache: the answer is the torch engine's.
    assert [r.text for r in results] == [r.text for r in Generator(torch_loaded).suggest(PROMPT, settings)]
