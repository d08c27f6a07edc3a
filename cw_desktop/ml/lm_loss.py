"""The training loss of a causal LM with its gradient computed in one pass over the logits (CPU).

`model(input_ids=x, labels=x).loss` keeps the [tokens, vocabulary] logits and their log-softmax for
backward, which then builds their gradient: for the bundled model 512 x 49,152 floats = 100 MB each
per step, written and read back several times; on CPU the output projection and the loss are ~30%
of a top-mode step and ~15% of a LoRA one. Here, chunk by chunk of positions, the logits become
their own gradient in place (softmax minus one-hot) and the gradient with respect to the hidden
states (and the projection weight, when it trains) is computed right away, so no logits
outlive the forward and backward only hands the result on. The loss is the same
quantity: mean cross-entropy of next-token prediction over every position whose label is not -100
(transformers' ForCausalLMLoss), up to float rounding.

Only models whose causal-LM head is known to be exactly `lm_head(decoder(x))` take this path;
anything else (other architectures, logit soft-capping, DDP-wrapped models, GPUs, mixed precision)
uses the model's own loss.
"""

from __future__ import annotations

from typing import Any

import torch

IGNORE_INDEX = -100
# Positions per chunk: one CPU micro-batch (2 x 256) at a time bounds the buffer at 512 x 49,152 floats
# (100 MB) for larger batches. Measured on 2 cores (top mode, loss + backward vs the model's own loss):
# 4-5% faster with 128, 6-8% with 512 -- the gain is the single in-place softmax-gradient pass.
CHUNK_POSITIONS = 512
# Causal-LM classes whose forward is `logits = lm_head(base_model(...).last_hidden_state)` with the
# shifted mean cross-entropy, nothing in between (checked against transformers' modeling files).
PLAIN_HEAD_MODEL_TYPES = frozenset({"llama", "gpt2", "qwen2", "mistral"})


class _ChunkedHeadCrossEntropy(torch.autograd.Function):
    """mean CE(hidden @ weight.T, targets) with the gradients computed chunk by chunk in forward."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                chunk: int) -> torch.Tensor:
        valid = targets != IGNORE_INDEX
        count = valid.sum().clamp(min=1).to(hidden.dtype)
        safe_targets = targets.masked_fill(~valid, 0)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
        total = hidden.new_zeros(())
        for start in range(0, hidden.shape[0], chunk):
            end = min(start + chunk, hidden.shape[0])
            h, t, keep = hidden[start:end], safe_targets[start:end], valid[start:end]
            logits = h @ weight.t()  # [c, V]
            log_norm = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, t[:, None]).squeeze(1)
            total += ((log_norm - picked) * keep).sum()
            if grad_hidden is None and grad_weight is None:
                continue
            # d loss / d logits = (softmax - one_hot) / count, in place over the chunk's logits.
            probs = logits.sub_(log_norm[:, None]).exp_()
            probs.scatter_add_(1, t[:, None], -torch.ones_like(picked)[:, None])
            if not bool(keep.all()):
                probs.mul_(keep[:, None])
            if grad_hidden is not None:
                torch.mm(probs, weight, out=grad_hidden[start:end])
                grad_hidden[start:end].div_(count)
            if grad_weight is not None:
                grad_weight.addmm_(probs.t(), h, alpha=1.0 / float(count))
        ctx.save_for_backward(grad_hidden if grad_hidden is not None else hidden.new_empty(0),
                              grad_weight if grad_weight is not None else weight.new_empty(0))
        return total / count

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[Any, ...]:
        grad_hidden, grad_weight = ctx.saved_tensors
        return (grad_hidden * grad_loss if ctx.needs_input_grad[0] else None,
                grad_weight * grad_loss if ctx.needs_input_grad[1] else None, None, None)


def _plain_parts(model: Any) -> tuple[Any, torch.nn.Linear] | None:
    """(decoder, output projection) when the chunked loss computes exactly the model's own loss."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return None  # its gradient synchronisation hangs on its own forward
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model's
    config = getattr(inner, "config", None)
    if getattr(config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES or \
            getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    decoder = getattr(inner, getattr(inner, "base_model_prefix", ""), None)
    # type() on purpose: a LoRA-wrapped head is not a plain projection.
    if type(head) is not torch.nn.Linear or head.bias is not None or not isinstance(decoder, torch.nn.Module) \
            or head.weight.dtype != torch.float32:
        return None
    return decoder, head


def causal_lm_loss(model: Any, input_ids: torch.Tensor, chunk: int = CHUNK_POSITIONS) -> torch.Tensor:
    """Mean next-token cross-entropy of `model` on `input_ids` (labels = inputs), as in training."""
    parts = _plain_parts(model) if input_ids.device.type == "cpu" and not torch.is_autocast_enabled("cpu") else None
    if parts is None:
        return model(input_ids=input_ids, labels=input_ids, use_cache=False).loss
    decoder, head = parts
    hidden = decoder(input_ids=input_ids, use_cache=False).last_hidden_state
    # Position t predicts token t+1; the last position has nothing to predict.
    states = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = input_ids[:, 1:].reshape(-1)
    return _ChunkedHeadCrossEntropy.apply(states, head.weight, targets, chunk)
