""""Sounds like you": how much more likely each paragraph is under the writer's fine-tune than under its base.

The score of a paragraph is the mean, over its tokens, of log p_tuned(token) - log p_base(token)
(nats per token). Positive: the fine-tune expects this text more than the base model does, i.e. it
reads like the writing the model was tuned on; near zero or negative: the passage drifts from it.

Cost: one forward pass of each model per block of paragraphs. Paragraphs are packed into blocks of
up to `block_tokens` tokens (one forward pass serves many short paragraphs); with
`previous_context` each block starts with the end of the paragraph before it, so the first
paragraph of a block is read in context as the others are. For a LoRA fine-tune the base is the
same model with its adapter switched off: one model in memory, two passes.

Scores are cached per (paragraph text, model ids), so after an edit only the changed paragraphs
are scored again. Everything here is plain Python + torch: the worker (workers/voice_worker.py)
calls it on its thread, the CLI (`cw-desktop voice`) directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.voice_scale import relative_scale  # noqa: F401 - re-exported

StopCheck = Callable[[], bool]

DEFAULT_BLOCK_TOKENS = 512
# A paragraph longer than this is scored on its first tokens only: a block must hold it whole.
MAX_PARAGRAPH_TOKENS = 384
PREVIOUS_CONTEXT_TOKENS = 48
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
MIN_TOKENS = 3  # fewer scored tokens say nothing: a heading, a lone "***"


class VoiceCancelled(Exception):
    """should_stop() said stop between two blocks; the scores done so far are in the cache."""


@dataclass(frozen=True)
class Paragraph:
    index: int
    start: int  # character offsets in the document
    end: int
    text: str


@dataclass(frozen=True)
class ParagraphScore:
    index: int
    start: int
    end: int
    score: float | None  # nats per token; None when the paragraph is too short to say
    tokens: int


def split_paragraphs(text: str) -> list[Paragraph]:
    """Blank-line separated paragraphs that hold any text, with their places in `text`."""
    paragraphs: list[Paragraph] = []
    position = 0
    for match in [*PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[position:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            body = chunk.strip()
            paragraphs.append(Paragraph(len(paragraphs), position + lead, position + lead + len(body), body))
        position = match.end() if match else len(text)
    return paragraphs


def paragraph_key(text: str, model_id: str) -> str:
    return hashlib.sha1(f"{model_id}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


class VoiceScorer:
    """Scores paragraphs with a fine-tuned model against its base; keeps the scores it computed.

    `base` is None when `tuned` is a peft model: the base pass then runs with the adapter disabled.
    """

    def __init__(self, tuned: Any, base: Any | None, tokenizer: Any, *, model_id: str,
                 block_tokens: int = DEFAULT_BLOCK_TOKENS, previous_context: bool = True,
                 context_length: int | None = None, engine: Any = None) -> None:
        if base is None and engine is None and not hasattr(tuned, "disable_adapter"):
            raise ValueError("A base model is needed unless the fine-tune is a LoRA adapter")
        self.tuned = tuned
        self.base = base
        self.engine = engine  # ml.adapters.AdapterEngine: switches the adapter off in microseconds
        self.tokenizer = tokenizer
        self.model_id = model_id + ("|ctx" if previous_context else "")
        limit = context_length or DEFAULT_BLOCK_TOKENS
        self.block_tokens = max(32, min(block_tokens, limit))
        self.previous_context = previous_context
        self.cache: dict[str, tuple[float | None, int]] = {}
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.start_ids = [start] if start is not None else []
        self.break_ids = self._encode("\n\n")

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def score_text(self, text: str, should_stop: StopCheck | None = None) -> list[ParagraphScore]:
        return self.score(split_paragraphs(text), should_stop)

    def score(self, paragraphs: Sequence[Paragraph], should_stop: StopCheck | None = None) -> list[ParagraphScore]:
        """Scores in paragraph order; only paragraphs missing from the cache run through the models."""
        missing = [p for p in paragraphs if paragraph_key(p.text, self.model_id) not in self.cache]
        previous = {p.index: paragraphs[i - 1].text if i else "" for i, p in enumerate(paragraphs)}
        for block in self._blocks(missing, previous):
            if should_stop is not None and should_stop():
                raise VoiceCancelled()
            self._score_block(*block)
        results = []
        for p in paragraphs:
            score, tokens = self.cache[paragraph_key(p.text, self.model_id)]
            results.append(ParagraphScore(p.index, p.start, p.end, score, tokens))
        return results

    def missing(self, paragraphs: Sequence[Paragraph]) -> int:
        return sum(paragraph_key(p.text, self.model_id) not in self.cache for p in paragraphs)

    def _blocks(self, paragraphs: Sequence[Paragraph],
                previous: dict[int, str]) -> Iterator[tuple[list[int], list[tuple[str, int, int]]]]:
        """(token ids, [(paragraph text, first scored position, end position)]) per forward pass."""
        ids: list[int] = []
        spans: list[tuple[str, int, int]] = []
        last_index = -2
        for p in paragraphs:
            body = self._encode(p.text)[:MAX_PARAGRAPH_TOKENS]
            follows = p.index == last_index + 1  # the paragraph before it is already in the block
            if ids and len(ids) + len(self.break_ids) + len(body) > self.block_tokens:
                yield ids, spans
                ids, spans, follows = [], [], False
            if not ids:
                ids = list(self.start_ids)
                context = previous.get(p.index, "") if self.previous_context else ""
                if context:
                    ids += self._encode(context)[-PREVIOUS_CONTEXT_TOKENS:] + self.break_ids
                elif not ids:
                    ids = list(self.break_ids)  # no start token: the break predicts the first token
            elif follows or not self.previous_context:
                ids += self.break_ids
            else:  # a gap of cached paragraphs: bring the one just before into view again
                context = previous.get(p.index, "") if self.previous_context else ""
                ids += self.break_ids + self._encode(context)[-PREVIOUS_CONTEXT_TOKENS:] + self.break_ids
            spans.append((p.text, len(ids), len(ids) + len(body)))
            ids += body
            last_index = p.index
        if spans:
            yield ids, spans

    @torch.inference_mode()
    def _score_block(self, ids: list[int], spans: list[tuple[str, int, int]]) -> None:
        input_ids = torch.tensor([ids], dtype=torch.long)
        tuned = _token_log_probs(self.tuned, input_ids)
        with self._base_pass() as base_model:
            base = _token_log_probs(base_model, input_ids)
        ratio = tuned - base  # ratio[i] is for token i + 1
        for text, first, end in spans:
            values = ratio[first - 1:end - 1]
            count = int(values.numel())
            score = float(values.mean()) if count >= MIN_TOKENS else None
            self.cache[paragraph_key(text, self.model_id)] = (score, count)

    @contextlib.contextmanager
    def _base_pass(self) -> Iterator[Any]:
        if self.base is not None:
            yield self.base
        elif self.engine is not None:
            active, strength = self.engine.active, self.engine.strength
            self.engine.activate(None)
            try:
                yield self.engine.model
            finally:
                self.engine.activate(active, strength)
        else:
            with self.tuned.disable_adapter():
                yield self.tuned


def _token_log_probs(model: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """log p(token i+1 | tokens ..i) for every position of one sequence (length n - 1)."""
    logits = model(input_ids=input_ids, use_cache=False).logits[0, :-1].float()
    targets = input_ids[0, 1:]
    return logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


# -- which models to compare ---------------------------------------------------------------------------

@dataclass
class VoiceModels:
    tuned: Any
    base: Any | None  # None: `tuned` is a peft model and its base is the adapter switched off
    tokenizer: Any
    model_id: str  # names both models, for the cache
    name: str
    base_name: str
    context_length: int
    engine: Any = None  # the AdapterEngine when `tuned` is a base + adapter


def base_spec_of(folder: Path) -> str:
    """The base a fine-tuned folder was made from: adapter_config.json or report.json says."""
    from cw_desktop.ml.adapters import adapter_base, is_adapter_folder
    from cw_desktop.ml.loading import ModelLoadError, _read_provenance

    if is_adapter_folder(folder):
        return adapter_base(folder)
    base = str(_read_provenance(folder).get("base_model") or "")
    if not base:
        raise ModelLoadError(f"{folder} is not a fine-tune made here: its report.json names no base model, "
                             "so there is nothing to compare its voice with")
    return base


def load_voice_models(spec: str, paths: AppPaths | None = None, *, base_spec: str | None = None) -> VoiceModels:
    """The fine-tune named by `spec` and its base (for a LoRA adapter, one model: the base + the adapter)."""
    from cw_desktop.ml.adapters import is_adapter_folder, load_adapters
    from cw_desktop.ml.loading import load_model, resolve_folder

    paths = paths or AppPaths.default()
    folder, _entry = resolve_folder(spec, paths)
    if is_adapter_folder(folder) and base_spec is None:
        engine = load_adapters(paths, [folder])
        engine.activate(engine.names[0], 1.0)
        loaded = engine.loaded
        return VoiceModels(engine.model, None, loaded.tokenizer, model_id=f"{folder}|{_stamp(folder)}",
                           name=folder.name, base_name=loaded.display_name, context_length=loaded.context_length,
                           engine=engine)
    base_spec = base_spec or base_spec_of(folder)  # before any loading: a base model says so at once
    tuned = load_model(spec, paths)
    base = load_model(base_spec, paths)
    if len(base.tokenizer) != len(tuned.tokenizer):
        raise ValueError(f"{tuned.display_name} and {base.display_name} do not share a vocabulary; "
                         "compare a fine-tune with the model it was made from")
    return VoiceModels(tuned.model, base.model, tuned.tokenizer,
                       model_id=f"{tuned.folder}|{_stamp(tuned.folder)}|{base.folder}",
                       name=tuned.display_name, base_name=base.display_name,
                       context_length=min(tuned.context_length, base.context_length))


def _stamp(folder: Path) -> str:
    """Changes when the weights are retrained in place, so old cached scores are not reused."""
    stamps = []
    for name in ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin"):
        path = folder / name
        if path.is_file():
            stamps.append(f"{path.stat().st_size}:{path.stat().st_mtime_ns}")
    return ",".join(stamps)


def scorer_for(models: VoiceModels, **options: Any) -> VoiceScorer:
    return VoiceScorer(models.tuned, models.base, models.tokenizer, model_id=models.model_id,
                       context_length=models.context_length, engine=models.engine, **options)
