"""The pure per-step pieces of decoding shared by every backend: where a suggestion stops (stop
rules) and how the next token is picked (repetition penalty, temperature, top-k, top-p)."""

from __future__ import annotations

import re

import numpy as np

from cw_desktop.core.generation_settings import GenerationSettings


# -- stop rules ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_SPEAKER_LABEL = re.compile(r"\n\s*[A-Z][A-Z .'-]{1,30}[.:]\s")


def stop_index(text: str, rule: str) -> int | None:
    """Where a suggestion ends under `rule`, or None if it may go on.

    Leading newlines are allowed (the writer may be at the end of a paragraph and the model starts
    the next one); the rule applies to what follows them.
    """
    if rule == "none":
        return None
    start = len(text) - len(text.lstrip("\n"))
    body = text[start:]
    if rule in ("line", "paragraph", "turn"):
        cut = body.find("\n")
        if rule == "turn":
            label = _SPEAKER_LABEL.search(body)
            if label is not None and (cut < 0 or label.start() < cut):
                cut = label.start()
        return start + cut if cut >= 0 else None
    if rule == "sentence":
        match = _SENTENCE_END.search(body)
        newline = body.find("\n")
        ends = [m for m in (match.end() if match else -1, newline) if m >= 0]
        return start + min(ends) if ends else None
    raise ValueError(f"Unknown stop rule {rule!r}")


# -- sampling --------------------------------------------------------------------------------------
# numpy, not torch: the same code serves the llama.cpp engine, whose process never imports torch (a
# warm start without torch's 2 s import), and torch's elementwise ops on a 49k vocabulary wake its
# thread pool (~20 ms an op on a busy 2-core machine) where numpy takes a fraction of a millisecond.

def apply_repetition_penalty(logits: np.ndarray, recent: np.ndarray, penalty: float) -> np.ndarray:
    """CTRL-style penalty: shrink the scores of tokens already present. logits (B, V), recent (B, T)."""
    if penalty == 1.0 or recent.size == 0:
        return logits
    out = logits.copy()
    rows = np.arange(len(out))[:, None]
    scores = out[rows, recent]
    out[rows, recent] = np.where(scores < 0, scores * penalty, scores / penalty)
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p per row of (B, V) scores (-inf stays -inf)."""
    top = logits.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    shifted = logits - top
    with np.errstate(divide="ignore", invalid="ignore"):  # a row of only -inf: NaN, handled by the caller
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def new_rng(seed: int | None) -> np.random.Generator | None:
    """The sampler's random source for a request with a fixed seed (None: fresh randomness)."""
    return None if seed is None else np.random.default_rng(seed)


def sample_next(logits: np.ndarray, settings: GenerationSettings, rng: np.random.Generator | None) -> np.ndarray:
    """Pick one token per row. logits (B, V) -> (B,) int64"""
    if settings.temperature <= 0:
        return logits.argmax(axis=-1).astype(np.int64)
    rng = rng or np.random.default_rng()
    return np.array([_sample_row(row, settings, rng) for row in logits], dtype=np.int64)


def _sample_row(logits: np.ndarray, settings: GenerationSettings, rng: np.random.Generator) -> int:
    """Temperature, top-k, top-p, then one draw, over the candidates only: after top-k that is a few
    dozen tokens instead of the whole vocabulary, and this runs every step of every alternative."""
    if 0 < settings.top_k < len(logits):
        kth = np.partition(logits, -settings.top_k)[-settings.top_k]
        candidates = np.flatnonzero(logits >= kth)  # ties at the k-th score all stay
    else:
        candidates = np.flatnonzero(logits > -np.inf)
    if len(candidates) == 0:  # every score -inf: take the best raw score, as greedy would
        return int(logits.argmax())
    scaled = logits[candidates].astype(np.float64) / settings.temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if settings.top_p < 1.0:
        order = np.argsort(-scaled, kind="stable")
        ranked = probs[order]
        # Drop a token once the mass *before* it already reaches top_p (the top token always stays).
        probs[order[np.cumsum(ranked) - ranked >= settings.top_p]] = 0.0
    cumulative = np.cumsum(probs)
    pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return int(candidates[min(pick, len(candidates) - 1)])
