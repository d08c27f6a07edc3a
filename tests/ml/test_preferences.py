"""The preference (DPO) step on a tiny GPT-2: the loss, a step on planted pairs, and the guard."""

from __future__ import annotations

import math

import pytest
import torch

from cw_desktop.core.preference_pairs import PairSplit, PreferencePair
from cw_desktop.ml import preferences as pf
from cw_desktop.ml.loading import load_model

CHOSEN = [" the boats strained at their ropes", " she looked at the sea", " the rain fell on the roofs",
          " he said nothing at all", " the lamp burned low"]
REJECTED = [" zz qq xx vv", " @@ ## $$ %%", " kk jj kk jj", " 99 88 77 66", " ~~ ^^ ~~ ^^"]


def planted_pairs(count: int, offset: int = 0) -> list[PreferencePair]:
    pairs = []
    for index in range(count):
        context = f"Page {index + offset}. The storm broke over the harbour and"
        pairs.append(PreferencePair(context, CHOSEN[index % len(CHOSEN)], REJECTED[(index * 2) % len(REJECTED)]))
    return pairs


@pytest.fixture
def tiny(tiny_model_dir, app_paths):
    return load_model(str(tiny_model_dir), app_paths)


def test_dpo_loss_is_log_2_at_the_reference_and_falls_as_the_margin_grows() -> None:
    zero = torch.zeros(3)
    loss, margins = pf.dpo_loss(zero, zero, zero, zero, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2)) and torch.all(margins == 0)
    better, _ = pf.dpo_loss(torch.full((3,), -1.0), torch.full((3,), -5.0), zero - 2, zero - 2, beta=0.1)
    worse, _ = pf.dpo_loss(torch.full((3,), -5.0), torch.full((3,), -1.0), zero - 2, zero - 2, beta=0.1)
    assert better.item() < math.log(2) < worse.item()


def test_continuation_log_probability_counts_only_the_continuation(tiny) -> None:
    pad = tiny.tokenizer.eos_token_id
    context = tiny.tokenizer("The storm broke over", add_special_tokens=False)["input_ids"]
    continuation = tiny.tokenizer(" the harbour", add_special_tokens=False)["input_ids"]
    alone = pf.continuation_logps(tiny.model, [(context, continuation)], pad)
    # Padding beside a longer row changes nothing.
    padded = pf.continuation_logps(tiny.model, [(context, continuation), (context * 3, continuation)], pad)
    assert alone[0].item() == pytest.approx(padded[0].item(), abs=1e-4)
    with torch.no_grad():
        ids = torch.tensor([context + continuation])
        logits = tiny.model(input_ids=ids).logits[0].log_softmax(-1)
    expected = sum(logits[len(context) - 1 + i, token].item() for i, token in enumerate(continuation))
    assert alone[0].item() == pytest.approx(expected, abs=1e-4)


def test_a_dpo_step_on_planted_pairs_raises_the_chosen_over_rejected_margin(tiny) -> None:
    settings = pf.PreferenceSettings(lr=5e-3, epochs=6, batch_pairs=4, max_steps=40)
    pad = tiny.tokenizer.eos_token_id
    train = pf.encode_pairs(tiny.tokenizer, planted_pairs(20), settings)
    held = pf.encode_pairs(tiny.tokenizer, planted_pairs(8, offset=100), settings)  # unseen contexts
    before = pf.pairwise(tiny.model, held, pad)
    original = {name: p.detach().clone() for name, p in tiny.model.named_parameters()}
    model = pf.add_preference_adapter(tiny.model, settings)
    run = pf.train_preferences(model, train, settings, pad)
    after = pf.pairwise(model, held, pad)
    assert run.status == "done" and run.steps == 30 and run.losses[-1] < run.losses[0]
    assert after.margin > before.margin + 1.0 and after.accuracy >= before.accuracy
    assert after.accuracy == 1.0
    # The reference is the same weights with the adapter off: nothing of the base model moved.
    with model.disable_adapter():
        assert pf.pairwise(model, held, pad).margin == pytest.approx(before.margin, abs=1e-3)
    base = model.unload()
    assert all(torch.equal(p, original[name]) for name, p in base.named_parameters())


def test_the_step_is_not_adopted_when_held_out_perplexity_gets_worse(tiny) -> None:
    """The guard: when the manuscripts' held-out perplexity ends up above the one before the step (here
    the step is measured against a model twice as good as this one), the model stays as it was."""
    from cw_desktop.ml import dataset as ds
    from shared_data import SAMPLE_TEXT

    eval_ids = ds.pack(ds.tokenize_texts(tiny.tokenizer, SAMPLE_TEXT[:12]), tiny.tokenizer.eos_token_id)
    probe = eval_ids[:64].unsqueeze(0)
    with torch.no_grad():
        logits_before = tiny.model(input_ids=probe).logits.clone()
    from cw_desktop.ml.evaluation import evaluate

    perplexity = evaluate(tiny.model, eval_ids, 64).perplexity
    split = PairSplit(train=planted_pairs(16), held_out=planted_pairs(6, offset=100))
    settings = pf.PreferenceSettings(lr=5e-3, epochs=2, max_steps=8)
    model, section = pf.preference_step(tiny.model, tiny, eval_ids, 64, [], split, perplexity_before=perplexity / 2,
                                        settings=settings, keystrokes=False)
    assert section["adopted"] is False and "perplexity rose" in section["reason"]
    assert section["perplexity"]["after"] > section["perplexity"]["before"]
    assert section["pairs"] == 22 and section["train_pairs"] == 16 and section["held_out_pairs"] == 6
    with torch.no_grad():
        assert torch.allclose(model(input_ids=probe).logits, logits_before, atol=1e-5)


def test_a_gentle_step_is_adopted_and_merged(tiny) -> None:
    from cw_desktop.ml import dataset as ds
    from cw_desktop.ml.evaluation import evaluate
    from shared_data import SAMPLE_TEXT

    eval_ids = ds.pack(ds.tokenize_texts(tiny.tokenizer, SAMPLE_TEXT[:12]), tiny.tokenizer.eos_token_id)
    perplexity = evaluate(tiny.model, eval_ids, 64).perplexity
    split = PairSplit(train=planted_pairs(16), held_out=planted_pairs(6, offset=100))
    settings = pf.PreferenceSettings(lr=2e-3, epochs=2, max_steps=8, perplexity_tolerance=1.0)
    model, section = pf.preference_step(tiny.model, tiny, eval_ids, 64, [], split, perplexity_before=perplexity,
                                        settings=settings, keystrokes=False)
    assert section["adopted"] is True
    assert section["held_out_margin"]["after"] > section["held_out_margin"]["before"]
    assert not any("lora_" in name for name, _ in model.named_parameters())  # a plain model to save
