"""int8 dynamic quantisation for faster CPU decoding.

Dynamic quantisation stores Linear weights as int8 and quantises activations on the fly; it only
touches `nn.Linear`. GPT-2 uses transformers' `Conv1D` (a Linear with a transposed weight) for all
its projections, which quantize_dynamic silently skips, so those are converted to `nn.Linear` first.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def conv1d_to_linear(model: nn.Module) -> int:
    """Replace every transformers Conv1D in `model` by an equivalent nn.Linear; return how many."""
    from transformers.pytorch_utils import Conv1D

    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                in_features, out_features = child.weight.shape  # Conv1D stores (in, out)
                linear = nn.Linear(in_features, out_features, bias=child.bias is not None)
                with torch.no_grad():
                    linear.weight.copy_(child.weight.t())
                    if child.bias is not None:
                        linear.bias.copy_(child.bias)
                setattr(parent, name, linear)
                replaced += 1
    return replaced


def quantize_int8(model: Any) -> Any:
    """Return the model with its Linear layers dynamically quantised to int8 (CPU inference only).

    The output projection (lm_head) stays in float: with tied embeddings it shares the embedding
    matrix, and it is where int8 rounding costs the most perplexity for the least speed.
    """
    conv1d_to_linear(model)
    skip = {"lm_head"}
    targets = {name for name, module in model.named_modules()
               if isinstance(module, nn.Linear) and name.split(".")[-1] not in skip}
    quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    quantized.cw_quantized_layers = len(targets)  # type: ignore[attr-defined]
    return quantized
