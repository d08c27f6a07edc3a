"""The suggestion engine on torch (transformers models): the `Engine` of ml/engine.py with its model
calls on a transformers model and its DynamicCache.

This is the engine for every model llama.cpp cannot serve, with int8 weights, with LoRA adapters at
a chosen strength, and for evaluation; the llama.cpp engine (ml/backends/llamacpp.py) is the faster
one for suggestions. A prefill chunk is cancellable within one decoder layer (a pre-hook per layer).
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

import numpy as np
import torch

# GenerationSettings, PRESETS and preset() live in core/generation_settings.py (the settings file and
# the GUI need them without torch); the rest in ml/engine.py; all re-exported for the engine's callers.
from cw_desktop.core.generation_settings import PRESETS, GenerationSettings, preset
from cw_desktop.ml.engine import FORMS, PREFILL_CHUNK, Engine, StopCheck, form_prompt, reusable_prefix
from cw_desktop.ml.kv_cache import PrefillCancelled, crop_cache, decoder_layers, new_cache, remove_hooks
from cw_desktop.ml.loading import LoadedModel
from cw_desktop.ml.sampling import apply_repetition_penalty, sample_next, stop_index
from cw_desktop.ml.story_prompt import TokenBudget
from cw_desktop.ml.suggestion import Suggestion


class Generator(Engine):
    """The engine on a transformers model; used from one worker thread."""

    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__(loaded)
        # A prefill chunk of 256 tokens takes as long as dozens of decoding steps; checking the stop
        # flag before every decoder layer lets a cancel land within one layer instead of one chunk.
        self._prefill_stop: StopCheck | None = None
        # The hooks hold the engine weakly and go with it, so a model outliving several engines
        # keeps neither their caches alive nor a pile of dead hooks.
        engine = weakref.ref(self)

        def check_prefill_stop(_module: Any, _args: Any) -> None:
            live = engine()
            if live is not None and live._prefill_stop is not None and live._prefill_stop():
                raise PrefillCancelled

        handles = [layer.register_forward_pre_hook(check_prefill_stop) for layer in decoder_layers(self.model)]
        weakref.finalize(self, remove_hooks, handles)

    # -- model calls -----------------------------------------------------------------------------
    @torch.inference_mode()
    def _prefill(self, ids: list[int], should_stop: StopCheck | None, keep: int = 1) -> np.ndarray | None:
        """Bring the cache up to `ids`; return the logits of the last `keep` positions (1, keep, V),
        or None if cancelled."""
        common, keep = reusable_prefix(self._cache_ids, ids, keep)
        if self._cache is not None and common < len(self._cache_ids):
            crop_cache(self._cache, common)
            self._cache_ids = self._cache_ids[:common]
        if self._cache is None or common == 0:
            self._cache = new_cache(self.model.config)
            self._cache_ids = []
            common = 0
        self.last_stats.reused_tokens = common
        bounds = list(range(common, len(ids), PREFILL_CHUNK)) + [len(ids)]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < keep:
            del bounds[-2]  # the last chunk must hold all `keep` positions
        logits = None
        for start, end in zip(bounds, bounds[1:]):
            if should_stop is not None and should_stop():
                return None
            chunk = ids[start:end]
            self._prefill_stop = should_stop
            try:
                out = self.model(input_ids=torch.tensor([chunk]), cache=self._cache, use_cache=True,
                                 logits_to_keep=keep if end == len(ids) else 1)
            except PrefillCancelled:
                # The layers before the stop already hold this chunk: bring them all back in line.
                crop_cache(self._cache, len(self._cache_ids))
                return None
            finally:
                self._prefill_stop = None
            self._cache = out.cache
            self._cache_ids.extend(chunk)
            logits = out.logits  # (1, keep, V) after the last chunk
        self.last_stats.prefilled_tokens = len(ids) - common
        return None if logits is None else logits.float().numpy()

    @torch.inference_mode()
    def _step(self, cache: Any, next_ids: np.ndarray) -> tuple[Any, np.ndarray]:
        """Feed one token per row (B,); return the grown cache and the next logits (B, V)."""
        out = self.model(input_ids=torch.from_numpy(np.ascontiguousarray(next_ids, dtype=np.int64))[:, None],
                         cache=cache, use_cache=True)
        return out.cache, out.logits[:, -1, :].float().numpy()

    def _crop_cache(self, cache: Any, length: int) -> None:
        crop_cache(cache, length)

    def _fork_cache(self) -> Any:
        """A copy of the prompt cache for the alternatives, taken before alternative 0 grows it."""
        return copy.deepcopy(self._cache)

    def _repeat_rows(self, spare: Any, length: int, rows: int) -> Any:
        """`spare` cut to the prompt's `length` and repeated for `rows` alternatives."""
        crop_cache(spare, length)
        spare.batch_repeat_interleave(rows)
        return spare

    def _cache_length(self, cache: Any) -> int:
        return int(cache.get_seq_length())

    def _keep_row(self, cache: Any, row: int) -> Any:
        cache.batch_select_indices(torch.tensor([row]))
        return cache


__all__ = ["GenerationSettings", "PRESETS", "preset", "Suggestion", "TokenBudget", "Generator", "Engine",
           "stop_index", "form_prompt", "FORMS", "sample_next", "apply_repetition_penalty"]
