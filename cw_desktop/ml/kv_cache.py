"""The torch backend's key/value cache: a transformers DynamicCache whose layers grow in place, and
the small helpers the engine uses to crop it and to abandon a prefill between decoder layers.

Plain Python + torch; transformers is imported only when the first cache is built.
"""

from __future__ import annotations

from typing import Any

import torch


def new_cache(config: Any) -> Any:
    """A DynamicCache whose plain full-attention layers grow in place (see _GrowingLayer)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=config)
    cache.layers = [_GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


def _growing_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A DynamicLayer that writes new keys/values into spare room of a preallocated buffer.

        transformers' DynamicLayer concatenates on every step, copying the whole cache (30 layers x
        1,000 positions) once per generated token: ~15% of a decoding step on a CPU. Here keys and
        values are views of the first `length` positions of a buffer that doubles when full; crop
        only shortens the view, so the next request writes over the dropped positions.
        """

        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            super().lazy_initialization(key_states, value_states)
            self._key_buffer: torch.Tensor | None = None
            self._value_buffer: torch.Tensor | None = None
            self._length = 0

        def _adopt(self, keys: torch.Tensor, values: torch.Tensor) -> None:
            """Take `keys`/`values` (B, H, T, D) as the whole content, with no spare room yet."""
            self._key_buffer, self._value_buffer = keys.contiguous(), values.contiguous()
            self._length = keys.shape[-2]
            self.keys, self.values = self._key_buffer, self._value_buffer

        def _reserve(self, needed: int) -> None:
            assert self._key_buffer is not None and self._value_buffer is not None
            capacity = self._key_buffer.shape[-2]
            if needed <= capacity:
                return
            capacity = max(needed, 2 * capacity, 256)
            grown = []
            for buffer in (self._key_buffer, self._value_buffer):
                batch, heads, _, dim = buffer.shape
                bigger = buffer.new_empty((batch, heads, capacity, dim))
                bigger[:, :, :self._length] = buffer[:, :, :self._length]
                grown.append(bigger)
            self._key_buffer, self._value_buffer = grown

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
                   **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            if self._key_buffer is None or self._length == 0:
                self._adopt(key_states, value_states)
                return self.keys, self.values
            added = key_states.shape[-2]
            self._reserve(self._length + added)
            self._key_buffer[:, :, self._length:self._length + added] = key_states
            self._value_buffer[:, :, self._length:self._length + added] = value_states
            self._length += added
            self.keys = self._key_buffer[:, :, :self._length]
            self.values = self._value_buffer[:, :, :self._length]
            return self.keys, self.values

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove > 0:
                raise ValueError("crop takes a negative number of tokens to remove")
            if tokens_to_remove == 0 or not self.is_initialized or self._key_buffer is None:
                return
            self._length = max(0, self._length + tokens_to_remove)
            self.keys = self._key_buffer[:, :, :self._length]
            self.values = self._value_buffer[:, :, :self._length]

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.get_seq_length() > 0:
                self._adopt(self.keys.repeat_interleave(repeats, dim=0), self.values.repeat_interleave(repeats, dim=0))

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.get_seq_length() > 0:
                self._adopt(self.keys[indices, ...], self.values[indices, ...])

        def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
            if self.get_seq_length() > 0:
                self._adopt(self.keys.index_select(0, beam_idx), self.values.index_select(0, beam_idx))

        def reset(self) -> None:
            super().reset()
            self._key_buffer = self._value_buffer = None
            self._length = 0

    return GrowingLayer


class _LazyGrowingLayer:
    """Defers importing transformers until the first cache is built (the module imports without it)."""

    cls: type | None = None

    def __call__(self) -> Any:
        if _LazyGrowingLayer.cls is None:
            _LazyGrowingLayer.cls = _growing_layer_class()
        return _LazyGrowingLayer.cls()


_GrowingLayer = _LazyGrowingLayer()


class PrefillCancelled(Exception):
    """Raised from a decoder layer's pre-hook to abandon a prefill chunk mid-way."""


def remove_hooks(handles: list[Any]) -> None:
    for handle in handles:
        handle.remove()


def decoder_layers(model: Any) -> list[Any]:
    """The transformer blocks (the longest ModuleList: Llama's model.layers, GPT-2's transformer.h)."""
    if not isinstance(model, torch.nn.Module):  # another backend's model: no layers to hook
        return []
    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    return list(max(lists, key=len)) if lists else []


def crop_cache(cache: Any, length: int) -> None:
    """Shorten a transformers Cache to its first `length` positions (crop takes a negative count).

    Layer by layer: after a prefill abandoned mid-forward, the layers hold different lengths.
    """
    for layer in getattr(cache, "layers", None) or []:
        surplus = layer.get_seq_length() - length
        if surplus > 0:
            layer.crop(-surplus)
    if not hasattr(cache, "layers"):
        surplus = cache.get_seq_length() - length
        if surplus > 0:
            cache.crop(-surplus)
