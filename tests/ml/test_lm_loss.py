"""The trainer's chunked causal-LM loss: the same loss and gradients as the model's own, in every mode."""

from __future__ import annotations

import pytest
import torch

from cw_desktop.ml import plan
from cw_desktop.ml import training as tr
from cw_desktop.ml.lm_loss import causal_lm_loss
from cw_desktop.ml.loading import load_model


def _loss_and_grads(model, compute) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # the tiny GPT-2 has dropout: both sides draw the same masks
    loss = compute()
    loss.backward()
    return float(loss), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("mode", ["full", "top", "lora"])
def test_chunked_loss_matches_the_models_own_loss_and_gradients(tiny_model_dir, app_paths, mode) -> None:
    loaded = load_model(str(tiny_model_dir), app_paths)
    vocab = loaded.model.config.vocab_size
    model = tr.apply_mode(loaded.model, plan.Hyperparameters(mode=mode, top_layers=1))
    model.train()
    x = torch.randint(0, vocab, (3, 40), generator=torch.Generator().manual_seed(1))
    own_loss, own_grads = _loss_and_grads(
        model, lambda: model(input_ids=x, labels=x, use_cache=False).loss)
    # 3 x 39 predicted positions in chunks of 10: the last chunk is a partial one.
    loss, grads = _loss_and_grads(model, lambda: causal_lm_loss(model, x, chunk=10))
    assert loss == pytest.approx(own_loss, rel=1e-5)
    assert grads.keys() == own_grads.keys() and grads
    for name, grad in grads.items():
        assert torch.allclose(grad, own_grads[name], rtol=1e-4, atol=1e-6), name


def test_other_heads_fall_back_to_the_models_own_loss(tiny_model_dir, app_paths) -> None:
    loaded = load_model(str(tiny_model_dir), app_paths)
    model = loaded.model
    model.config.model_type = "some-new-architecture"  # its head may do more than a projection
    calls: list[bool] = []
    handle = model.register_forward_hook(lambda module, args, output: calls.append(True))
    try:
        x = torch.randint(0, model.config.vocab_size, (2, 16))
        loss = causal_lm_loss(model, x)
    finally:
        handle.remove()
    assert calls and float(loss) == pytest.approx(float(model(input_ids=x, labels=x).loss), rel=1e-5)
