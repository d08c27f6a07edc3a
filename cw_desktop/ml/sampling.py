"""The pure per-step pieces of decoding shared by every backend: where a suggestion stops (stop
rules) and how the next token is picked (repetition penalty, temperature, top-k, top-p)."""

from __future__ import annotations

import re

import torch

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

def apply_repetition_penalty(logits: torch.Tensor, recent: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty: shrink the scores of tokens already present. logits (B, V), recent (B, T)."""
    if penalty == 1.0 or recent.numel() == 0:
        return logits
    scores = logits.gather(1, recent)
    scores = torch.where(scores < 0, scores * penalty, scores / penalty)
    return logits.scatter(1, recent, scores)


def sample_next(logits: torch.Tensor, settings: GenerationSettings, generator: torch.Generator | None) -> torch.Tensor:
    """Pick one token per row. logits (B, V) -> (B,)"""
    if settings.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / settings.temperature
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token once the mass *before* it already reaches top_p (the top token always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= settings.top_p
        drop = drop_sorted.scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
