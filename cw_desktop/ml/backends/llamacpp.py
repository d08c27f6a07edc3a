"""The suggestion engine on llama.cpp (through llama-cpp-python's low-level C API).

Decoding a token is bound by reading the weights from memory: float32 SmolLM2-135M reads 540 MB per
token, its Q4_1 GGUF 92 MB, so llama.cpp decodes several times faster than torch on the same CPU.

Only the model calls change. `LlamaCppGenerator` is an `Engine` (ml/engine.py) whose `_prefill`,
`_step` and cache methods drive a llama.cpp context; tokens still come from the model folder's
tokenizer (the GGUF vocabulary has the same ids) and every step's logits come back as a numpy
vector, so the engine's token healing, sampling, repetition penalty, stop rules and logits hooks
are the torch engine's own code. Nothing here imports torch or transformers: a process serving
suggestions from llama.cpp starts without their seconds of imports. The KV cache lives in llama.cpp: sequence 0 holds the prompt, kept across
requests up to the longest common prefix; alternatives are sequences 1..n that share the prompt's
cells (seq_cp in a unified cache costs no copy) and decode together in one batch.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from cw_desktop.ml.engine import PREFILL_CHUNK, Engine, StopCheck, reusable_prefix
from cw_desktop.ml.loading import LoadedModel, ModelLoadError

# The most sequences a request uses: alternative 0 plus up to 7 more (GenerationSettings caps at 8).
MAX_SEQUENCES = 9
BATCH = 2 * PREFILL_CHUNK  # room for the last prefill chunk merged with the positions to keep

_init_lock = threading.Lock()
_initialised = False
_log_callback: Any = None  # kept alive: llama.cpp holds the pointer


def _lib() -> Any:
    import llama_cpp

    return llama_cpp


def _ensure_backend() -> None:
    """Initialise llama.cpp once per process, with its chatter kept off the writer's terminal."""
    global _initialised, _log_callback
    with _init_lock:
        if _initialised:
            return
        lib = _lib()

        def quiet(level: int, text: bytes, _data: Any) -> None:
            # Level 4 = error (ggml_log_level); everything else is load-time detail.
            if level == 4 and text:
                import logging

                logging.getLogger("cw_desktop.llamacpp").error(text.decode("utf-8", "replace").rstrip())

        _log_callback = lib.llama_log_callback(quiet)
        lib.llama_log_set(_log_callback, ctypes.c_void_p(0))
        lib.llama_backend_init()
        _initialised = True


def thread_count() -> int:
    """Decoding threads: one per core this process may use (llama.cpp scales to the memory bandwidth)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 2
    return max(1, min(8, cores))


class LlamaCppModel:
    """The weights of one GGUF file, loaded (memory-mapped) by llama.cpp.

    Stands where a transformers model stands in `LoadedModel.model`; `config` carries what the
    engine reads from a model config (the end-of-text ids).
    """

    def __init__(self, gguf_path: Path, eos_token_id: Any = None) -> None:
        _ensure_backend()
        lib = _lib()
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        pointer = lib.llama_model_load_from_file(str(gguf_path).encode(), params)
        if not pointer:
            raise ModelLoadError(f"llama.cpp could not load {gguf_path} (the file may be corrupt or of an "
                                 "unsupported architecture)")
        self.pointer = pointer
        self.gguf_path = gguf_path
        self.config = SimpleNamespace(eos_token_id=eos_token_id)
        self.vocab_size = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(pointer)))
        self._finalizer = weakref.finalize(self, lib.llama_model_free, pointer)

    def close(self) -> None:
        self._finalizer()


class LlamaContext:
    """One llama.cpp context (KV cache + batch) on a loaded model; one per engine."""

    def __init__(self, model: LlamaCppModel, n_ctx: int, n_seq: int = MAX_SEQUENCES) -> None:
        lib = _lib()
        self.lib = lib
        self.model = model  # the context needs the weights alive
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = BATCH
        params.n_ubatch = BATCH
        params.n_seq_max = n_seq
        params.n_threads = params.n_threads_batch = thread_count()
        params.kv_unified = True  # alternatives share the prompt's cells instead of copying them
        params.no_perf = True
        context = lib.llama_init_from_model(model.pointer, params)
        if not context:
            raise ModelLoadError(f"llama.cpp could not create a context of {n_ctx} tokens for {model.gguf_path}")
        self.pointer = context
        self.memory = lib.llama_get_memory(context)
        self.n_vocab = model.vocab_size
        self.batch = lib.llama_batch_init(BATCH, 0, n_seq)
        self._stop: StopCheck | None = None
        # An abort callback asked between graph nodes: a cancel lands within a prefill chunk.
        self._abort = lib.ggml_abort_callback(lambda _data: bool(self._stop is not None and self._stop()))
        self._finalizer = weakref.finalize(self, _free_context, lib, context, self.batch)

    def set_stop(self, should_stop: StopCheck | None) -> None:
        """Poll `should_stop` inside llama_decode (prefill only: a decoding step is short, and a
        Python call per graph node would cost a millisecond per token)."""
        self._stop = should_stop
        if should_stop is None:
            self.lib.llama_set_abort_callback(self.pointer, ctypes.cast(None, self.lib.ggml_abort_callback),
                                              ctypes.c_void_p(0))
        else:
            self.lib.llama_set_abort_callback(self.pointer, self._abort, ctypes.c_void_p(0))

    def decode(self, tokens: list[int], positions: list[int], seqs: list[int], outputs: set[int]) -> int:
        """Run one batch; token i sits at positions[i] in sequence seqs[i]. 0 = ok, 2 = aborted."""
        batch = self.batch
        for i, (token, position, seq) in enumerate(zip(tokens, positions, seqs)):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = i in outputs
        batch.n_tokens = len(tokens)
        return int(self.lib.llama_decode(self.pointer, batch))

    def logits(self, indices: list[int]) -> np.ndarray:
        """The logits of the given batch positions of the last decode, (len(indices), V) float32."""
        rows = np.empty((len(indices), self.n_vocab), dtype=np.float32)
        for row, index in enumerate(indices):
            pointer = self.lib.llama_get_logits_ith(self.pointer, index)
            rows[row] = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        return rows

    def remove(self, seq: int, start: int) -> None:
        """Forget positions >= start of sequence `seq` (-1: every sequence)."""
        self.lib.llama_memory_seq_rm(self.memory, seq, start, -1)

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        self.lib.llama_memory_seq_cp(self.memory, source, target, 0, length)


def _free_context(lib: Any, context: Any, batch: Any) -> None:
    lib.llama_batch_free(batch)
    lib.llama_free(context)


@dataclass
class _Rows:
    """The engine's 'cache' on this backend: which llama.cpp sequences the rows live in, and how
    many positions they hold (all rows have the same length)."""

    seqs: list[int]
    length: int

    def get_seq_length(self) -> int:
        return self.length


class LlamaCppGenerator(Engine):
    """The engine with its model calls on llama.cpp; everything else is inherited."""

    def __init__(self, loaded: LoadedModel) -> None:
        if not isinstance(loaded.model, LlamaCppModel):
            raise TypeError("LlamaCppGenerator needs a model loaded with backend='llamacpp'")
        super().__init__(loaded)
        # Sequence 0 holds at most a window; alternatives add their own generated tokens beside it.
        self.context = LlamaContext(loaded.model, n_ctx=2 * self.window + 512)

    def reset(self) -> None:
        super().reset()
        self.context.remove(-1, 0)

    def set_threads(self, threads: int | None) -> int:
        """Decode on `threads` threads (None: one per core again), e.g. fewer while a fine-tune
        shares the cores; returns the count now in use."""
        count = max(1, threads) if threads is not None else thread_count()
        self.context.lib.llama_set_n_threads(self.context.pointer, count, count)
        return count

    def _prefill(self, ids: list[int], should_stop: StopCheck | None, keep: int = 1) -> np.ndarray | None:
        """Bring sequence 0 up to `ids`, running only what differs from the cached prefix; return the
        logits of the last `keep` positions (1, keep, V), or None if cancelled."""
        common, keep = reusable_prefix(self._cache_ids, ids, keep)
        for seq in range(1, MAX_SEQUENCES):  # the previous request's alternatives
            self.context.remove(seq, 0)
        self.context.remove(0, common)
        self._cache_ids = self._cache_ids[:common]
        self._cache = _Rows([0], common)
        self.last_stats.reused_tokens = common
        bounds = list(range(common, len(ids), PREFILL_CHUNK)) + [len(ids)]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < keep:
            del bounds[-2]  # the last chunk must hold all `keep` positions
        self.context.set_stop(should_stop)
        try:
            for start, end in zip(bounds, bounds[1:]):
                if should_stop is not None and should_stop():
                    return None
                chunk = ids[start:end]
                last = end == len(ids)
                outputs = set(range(len(chunk) - keep, len(chunk))) if last else set()
                status = self.context.decode(chunk, list(range(start, end)), [0] * len(chunk), outputs)
                if status != 0:
                    # Aborted (2) or failed: drop whatever part of the chunk reached the cache.
                    self.context.remove(0, len(self._cache_ids))
                    if status == 2:
                        return None
                    raise RuntimeError(f"llama.cpp could not run the prompt (llama_decode returned {status})")
                self._cache_ids.extend(chunk)
                self._cache.length = end
        finally:
            self.context.set_stop(None)
        self.last_stats.prefilled_tokens = len(ids) - common
        first = bounds[-1] - bounds[-2] - keep
        return self.context.logits(list(range(first, first + keep)))[None]

    def _step(self, cache: _Rows, next_ids: np.ndarray) -> tuple[_Rows, np.ndarray]:
        tokens = [int(t) for t in next_ids.tolist()]
        rows = len(tokens)
        status = self.context.decode(tokens, [cache.length] * rows, cache.seqs[:rows], set(range(rows)))
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode a token (llama_decode returned {status}); "
                               "fewer alternatives or a shorter length may fit")
        cache.length += 1
        return cache, self.context.logits(list(range(rows)))

    def _cache_length(self, cache: _Rows) -> int:
        return cache.length

    def _crop_cache(self, cache: _Rows, length: int) -> None:
        if cache.length > length:
            for seq in cache.seqs:
                self.context.remove(seq, length)
            cache.length = length

    def _keep_row(self, cache: _Rows, row: int) -> _Rows:
        # The other openings' cells stay until the next request's _repeat_rows clears them.
        return _Rows([cache.seqs[row]], cache.length)

    def _fork_cache(self) -> _Rows:
        # Nothing to copy yet: the alternatives branch off sequence 0's prompt once alternative 0
        # has been cut back to it (see _repeat_rows).
        return _Rows([0], 0)

    def _repeat_rows(self, spare: _Rows, length: int, rows: int) -> _Rows:
        seqs = list(range(1, 1 + rows))
        for seq in seqs:
            self.context.remove(seq, 0)
            self.context.copy_prefix(0, seq, length)
        return _Rows(seqs, length)
