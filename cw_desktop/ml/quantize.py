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


# Layers kept in float. lm_head: with tied embeddings it shares the embedding matrix, and int8
# rounding there costs the most perplexity for the least speed. The MLP output projection (Llama's
# down_proj, GPT-2's mlp.c_proj): its input, the activation after the non-linearity, has outliers
# that per-tensor int8 activations crush; on SmolLM2-135M quantising it alone more than doubles the
# held-out perplexity (bench/quantized.py), while the other layers together cost ~15%.
FLOAT_LAYERS = ("lm_head", "down_proj", "mlp.c_proj", "fc2", "dense_4h_to_h")


def keeps_float(name: str) -> bool:
    return any(name == kept or name.endswith("." + kept) for kept in FLOAT_LAYERS)


def quantize_int8(model: Any) -> Any:
    """Return the model with its Linear layers dynamically quantised to int8 (CPU inference only).

    Weights are quantised per output channel (cheaper in perplexity than one scale per matrix and
    no slower); the layers in FLOAT_LAYERS stay in float.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig

    conv1d_to_linear(model)
    targets = {name for name, module in model.named_modules()
               if isinstance(module, nn.Linear) and not keeps_float(name)}
    # A dict of module names (not the {nn.Linear} type set) is what makes quantize_dynamic skip the rest.
    quantized = torch.ao.quantization.quantize_dynamic(
        model, {name: per_channel_dynamic_qconfig for name in targets}, dtype=torch.qint8, inplace=True)
    quantized.cw_quantized_layers = len(targets)  # type: ignore[attr-defined]
    return quantized
