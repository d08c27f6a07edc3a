"""Write a transformers causal LM (Llama or GPT-2 architecture) as a GGUF file for llama.cpp.

Fine-tuned models are save_pretrained folders; the fast backend needs them as GGUF. This is our
own small converter for the two architectures the app trains (SmolLM2 is a Llama, the tiny test
models are GPT-2s): tensor names and layouts as llama.cpp reads them, plus the byte-level BPE
vocabulary (the engine tokenises with the Hugging Face tokenizer and feeds ids, so llama.cpp's
tokenizer only has to load, never to agree on splitting text).

Matrices are stored as Q8_0 by default (8-bit blocks of 32 with one scale: a quarter of float32's
memory traffic, a perplexity cost far below 1%, see docs/benchmarks.md) or F32 (exact, for tests).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ProgressCallback = Callable[[float, str], None]
FORMATS = ("q8_0", "f16", "f32")


class UnsupportedModel(Exception):
    """The model cannot be written as GGUF by this converter (the engine then stays on torch)."""


def _qtype(fmt: str) -> Any:
    from gguf import GGMLQuantizationType

    return {"q8_0": GGMLQuantizationType.Q8_0, "f16": GGMLQuantizationType.F16,
            "f32": GGMLQuantizationType.F32}[fmt]


def _file_type(fmt: str) -> int:
    from gguf import LlamaFileType

    return {"q8_0": LlamaFileType.MOSTLY_Q8_0, "f16": LlamaFileType.MOSTLY_F16,
            "f32": LlamaFileType.ALL_F32}[fmt]


def _permute_rope(weight: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face Llama checkpoints order q/k rows for rotate-half RoPE; llama.cpp's Llama
    rotates adjacent pairs, so each head's two halves are interleaved."""
    rows = weight.shape[0]
    return (weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def _rope_theta(config: Any) -> float:
    theta = getattr(config, "rope_theta", None)
    parameters = getattr(config, "rope_parameters", None) or {}
    if theta is None and isinstance(parameters, dict):
        theta = parameters.get("rope_theta")
    scaling = getattr(config, "rope_scaling", None) or {}
    kind = (scaling.get("rope_type") or scaling.get("type")) if isinstance(scaling, dict) else None
    if kind not in (None, "default"):
        raise UnsupportedModel(f"RoPE scaling '{kind}' is not supported by the GGUF converter")
    return float(theta if theta is not None else 10000.0)


def _llama_tensors(state: dict[str, np.ndarray], config: Any) -> Iterator[tuple[str, np.ndarray]]:
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise UnsupportedModel("Llama models with attention or MLP biases are not supported")
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads or config.num_attention_heads
    yield "token_embd.weight", state["model.embed_tokens.weight"]
    for i in range(config.num_hidden_layers):
        p = f"model.layers.{i}."
        yield f"blk.{i}.attn_norm.weight", state[p + "input_layernorm.weight"]
        yield f"blk.{i}.attn_q.weight", _permute_rope(state[p + "self_attn.q_proj.weight"], heads)
        yield f"blk.{i}.attn_k.weight", _permute_rope(state[p + "self_attn.k_proj.weight"], kv_heads)
        yield f"blk.{i}.attn_v.weight", state[p + "self_attn.v_proj.weight"]
        yield f"blk.{i}.attn_output.weight", state[p + "self_attn.o_proj.weight"]
        yield f"blk.{i}.ffn_norm.weight", state[p + "post_attention_layernorm.weight"]
        yield f"blk.{i}.ffn_gate.weight", state[p + "mlp.gate_proj.weight"]
        yield f"blk.{i}.ffn_up.weight", state[p + "mlp.up_proj.weight"]
        yield f"blk.{i}.ffn_down.weight", state[p + "mlp.down_proj.weight"]
    yield "output_norm.weight", state["model.norm.weight"]
    if not getattr(config, "tie_word_embeddings", False) and "lm_head.weight" in state:
        yield "output.weight", state["lm_head.weight"]


def _gpt2_tensors(state: dict[str, np.ndarray], config: Any) -> Iterator[tuple[str, np.ndarray]]:
    # GPT-2's Conv1D stores (in, out); llama.cpp wants (out, in) like a Linear layer.
    yield "token_embd.weight", state["transformer.wte.weight"]
    yield "position_embd.weight", state["transformer.wpe.weight"]
    pairs = (("ln_1", "attn_norm", False), ("attn.c_attn", "attn_qkv", True), ("attn.c_proj", "attn_output", True),
             ("ln_2", "ffn_norm", False), ("mlp.c_fc", "ffn_up", True), ("mlp.c_proj", "ffn_down", True))
    for i in range(config.n_layer):
        for hf, ours, conv in pairs:
            weight = state[f"transformer.h.{i}.{hf}.weight"]
            yield f"blk.{i}.{ours}.weight", weight.T if conv else weight
            yield f"blk.{i}.{ours}.bias", state[f"transformer.h.{i}.{hf}.bias"]
    yield "output_norm.weight", state["transformer.ln_f.weight"]
    yield "output_norm.bias", state["transformer.ln_f.bias"]
    yield "output.weight", state.get("lm_head.weight", state["transformer.wte.weight"])


def _write_hparams(writer: Any, config: Any, arch: str) -> None:
    if arch == "llama":
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_block_count(config.num_hidden_layers)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_head_count(config.num_attention_heads)
        writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
        writer.add_layer_norm_rms_eps(config.rms_norm_eps)
        writer.add_rope_freq_base(_rope_theta(config))
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        writer.add_rope_dimension_count(head_dim)
    else:
        writer.add_context_length(config.n_positions)
        writer.add_embedding_length(config.n_embd)
        writer.add_block_count(config.n_layer)
        writer.add_feed_forward_length(getattr(config, "n_inner", None) or 4 * config.n_embd)
        writer.add_head_count(config.n_head)
        writer.add_layer_norm_eps(config.layer_norm_epsilon)


def _write_vocabulary(writer: Any, tokenizer: Any, vocab_size: int) -> None:
    """Byte-level BPE vocabulary and merges, padded to the model's embedding rows."""
    from gguf import TokenType

    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    model = backend.get("model") or {}
    if model.get("type") != "BPE":
        raise UnsupportedModel(f"only byte-level BPE tokenizers are supported (this one is {model.get('type')})")
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [TokenType.UNUSED] * vocab_size
    for text, index in model.get("vocab", {}).items():
        if index < vocab_size:
            tokens[index], types[index] = text, TokenType.NORMAL
    for added in backend.get("added_tokens") or []:
        if added["id"] < vocab_size:
            tokens[added["id"]] = added["content"]
            types[added["id"]] = TokenType.CONTROL if added.get("special") else TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")  # never used to split text (the engine feeds ids)
    writer.add_token_list(tokens)
    writer.add_token_types([int(t) for t in types])
    writer.add_token_merges(merges)
    for setter, value in ((writer.add_bos_token_id, tokenizer.bos_token_id),
                          (writer.add_eos_token_id, tokenizer.eos_token_id)):
        if value is not None:
            setter(int(value))
    writer.add_add_bos_token(False)


def export_gguf(model: Any, tokenizer: Any, target: Path, fmt: str = "q8_0",
                on_progress: ProgressCallback | None = None) -> Path:
    """Write `model` (a transformers Llama/GPT-2 causal LM) and `tokenizer` to the GGUF file `target`.

    Written to a temporary sibling and renamed into place, so a crash never leaves a file a later
    load would trust."""
    import gguf
    from gguf.quants import quantize

    config = model.config
    arch = {"llama": "llama", "gpt2": "gpt2"}.get(getattr(config, "model_type", ""))
    if arch is None:
        raise UnsupportedModel(f"the '{getattr(config, 'model_type', '?')}' architecture has no GGUF converter here")
    state = {name: tensor.detach().float().cpu().numpy() for name, tensor in model.state_dict().items()}
    tensors = list((_llama_tensors if arch == "llama" else _gpt2_tensors)(state, config))
    vocab_size = tensors[0][1].shape[0]
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    writer = gguf.GGUFWriter(staging, arch)
    try:
        writer.add_name(str(getattr(config, "_name_or_path", "") or target.stem))
        writer.add_file_type(_file_type(fmt))
        writer.add_vocab_size(vocab_size)
        _write_hparams(writer, config, arch)
        _write_vocabulary(writer, tokenizer, vocab_size)
        for index, (name, array) in enumerate(tensors):
            if on_progress is not None and index % 8 == 0:
                on_progress(0.9 * index / len(tensors), "Converting the model for fast suggestions")
            data, raw_dtype = _encode(array, fmt, quantize)
            writer.add_tensor(name, data, raw_dtype=raw_dtype)
        if on_progress is not None:
            on_progress(0.95, "Writing the fast model file")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(staging, target)
    except BaseException:
        writer.close()
        staging.unlink(missing_ok=True)
        raise
    return target


def _encode(array: np.ndarray, fmt: str, quantize: Callable[..., np.ndarray]) -> tuple[np.ndarray, Any]:
    """(data, raw dtype) for one tensor: matrices in `fmt`; vectors (norms, biases) stay float32."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.ndim < 2 or fmt == "f32":
        return array, None
    if fmt == "q8_0" and array.shape[-1] % 32 != 0:  # Q8_0 blocks are 32 values of one row
        return array.astype(np.float16), None
    qtype = _qtype(fmt)
    if fmt == "f16":
        return array.astype(np.float16), None
    return quantize(array, qtype), qtype
