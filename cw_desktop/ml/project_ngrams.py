"""The writer's own words, instantly: a token n-gram cache of the draft and its project folder.

Names, places and turns of phrase the writer has already used ("Miss Woodhouse", "Hartfield")
are what a general model guesses worst and a writer types most. Before each sampled token the
engine mixes the model's next-token distribution with what followed the same last few tokens
elsewhere in the draft or the folder:

    p(token) = (1 - w) * p_model(token) + w * p_cache(token)

p_cache comes from the longest context (up to MAX_ORDER tokens) that occurred before; w grows with
that context's length and how often it was seen, so a one-off bigram nudges and a repeated
four-token phrase decides. No training: it works from the first page.

It acts on one plain logits vector per row (numpy), so any backend that yields logits can use it.
The folder index is built once, off the hot path (`set_folder_ids`); the draft needs no index:
it is the prompt the engine already tokenised, scanned with numpy per step (~1,000 tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_ORDER = 4
MIN_ORDER = 2  # one shared token ("the") says too little about what follows
# Mixing weight for a context of each length, before the count factor count / (count + 1). Tuned
# with bench/keystrokes.py on Austen's held-out chapters (typing saved: 0.4/0.6/0.75 -> 9.6%,
# 0.25/0.4/0.5 -> 11.5%, these -> 12.2%, 0.05/0.2/0.3 -> 11.6%), checked on Doyle's.
ORDER_WEIGHT = {2: 0.15, 3: 0.3, 4: 0.4}
DRAFT_WEIGHT = 2.0  # an occurrence in the draft counts this much more than one in the folder
MAX_FOLDER_TOKENS = 2_000_000  # ~1.5M words; beyond that the index costs more memory than it gives

_HASH_BASE = np.uint64(1_000_003)


def _ngram_keys(stream: np.ndarray, order: int) -> np.ndarray:
    """Hash of the `order` tokens ending at each position i >= order-1 (uint64, wrapping)."""
    keys = np.zeros(len(stream) - order + 1, dtype=np.uint64)
    for offset in range(order):
        keys = keys * _HASH_BASE + stream[offset:len(stream) - order + 1 + offset].astype(np.uint64)
    return keys


def _key(tokens: Sequence[int]) -> np.uint64:
    key = np.uint64(0)
    with np.errstate(over="ignore"):
        for token in tokens:
            key = key * _HASH_BASE + np.uint64(token)
    return key


class FolderIndex:
    """Sorted n-gram hashes of a token stream: the tokens that followed a context, by binary search."""

    def __init__(self, token_lists: Sequence[Sequence[int]]) -> None:
        pieces, total = [], 0
        for ids in token_lists:
            if total >= MAX_FOLDER_TOKENS:
                break
            ids = list(ids)[:MAX_FOLDER_TOKENS - total]
            pieces.append(np.asarray(ids + [-1], dtype=np.int64))  # -1: no n-gram spans two texts
            total += len(ids)
        self.stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        self.keys: dict[int, np.ndarray] = {}
        self.next_tokens: dict[int, np.ndarray] = {}
        for order in range(MIN_ORDER, MAX_ORDER + 1):
            if len(self.stream) <= order:
                continue
            with np.errstate(over="ignore"):
                keys = _ngram_keys(self.stream[:-1], order)
            following = self.stream[order:]
            valid = following >= 0
            for offset in range(order):  # drop contexts that contain a separator
                valid &= self.stream[offset:len(self.stream) - order + offset] >= 0
            keys, following = keys[valid], following[valid]
            order_by_key = np.argsort(keys, kind="stable")
            self.keys[order], self.next_tokens[order] = keys[order_by_key], following[order_by_key]

    @property
    def tokens(self) -> int:
        return max(0, len(self.stream) - 1)

    def following(self, context: Sequence[int], order: int) -> np.ndarray:
        keys = self.keys.get(order)
        if keys is None or len(context) < order:
            return np.zeros(0, dtype=np.int64)
        key = _key(context[-order:])
        start, end = np.searchsorted(keys, key, "left"), np.searchsorted(keys, key, "right")
        return self.next_tokens[order][start:end]


def draft_following(draft: np.ndarray, context: Sequence[int], order: int) -> np.ndarray:
    """Tokens of `draft` that followed the last `order` tokens of `context` (a linear numpy scan)."""
    if len(context) < order or len(draft) <= order:
        return np.zeros(0, dtype=np.int64)
    match = np.ones(len(draft) - order, dtype=bool)
    tail = context[-order:]
    for offset in range(order):
        match &= draft[offset:len(draft) - order + offset] == tail[offset]
    return draft[order:][match]


class ProjectVocabulary:
    """Mixes an n-gram cache of the draft (per request) and the folder (prebuilt) into the logits."""

    def __init__(self) -> None:
        self.folder: FolderIndex | None = None
        self._draft = np.zeros(0, dtype=np.int64)

    def set_folder_ids(self, token_lists: Sequence[Sequence[int]]) -> None:
        """(Re)build the folder index; call from a worker thread, never per keystroke."""
        index = FolderIndex(token_lists)
        self.folder = index if index.tokens else None

    def set_draft_ids(self, ids: Sequence[int]) -> None:
        self._draft = np.asarray(ids, dtype=np.int64)

    def distribution(self, context: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(token ids, their cache probabilities, mixing weight) for what follows `context`, or None."""
        for order in range(min(MAX_ORDER, len(context)), MIN_ORDER - 1, -1):
            in_draft = draft_following(self._draft, context, order)
            in_folder = self.folder.following(context, order) if self.folder is not None else np.zeros(0, np.int64)
            if not len(in_draft) and not len(in_folder):
                continue
            tokens = np.concatenate([in_draft, in_folder])
            weights = np.concatenate([np.full(len(in_draft), DRAFT_WEIGHT), np.ones(len(in_folder))])
            ids, inverse = np.unique(tokens, return_inverse=True)
            mass = np.bincount(inverse, weights=weights)
            count = float(mass.sum())
            return ids, mass / count, ORDER_WEIGHT[order] * count / (count + 1.0)
        return None

    def mix(self, logits: np.ndarray, contexts: Sequence[Sequence[int]]) -> np.ndarray:
        """Log-probabilities (B, V) of the mixture up to a constant per row, one context per row of `logits`."""
        found = [self.distribution(context) for context in contexts]
        if all(f is None for f in found):
            return logits
        # In log space, shifted by -log(1 - w) per row (sampling and argmax ignore a constant): only
        # the few tokens the cache names change.
        scores = logits.astype(np.float32, copy=False)
        top = scores.max(axis=-1, keepdims=True)
        mixed = scores - (top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True)))
        for row, entry in enumerate(found):
            if entry is None:
                continue
            ids, cache_probs, weight = entry
            keep = ids < mixed.shape[-1]
            index = ids[keep]
            mixed[row, index] = np.log(np.exp(mixed[row, index]) + weight / (1.0 - weight) * cache_probs[keep])
        return mixed.astype(np.float32, copy=False)


MAX_PROJECT_FILES = 200
MAX_PROJECT_BYTES = 8_000_000


@dataclass(frozen=True)
class ProjectFile:
    text: str
    sha256: str  # of the bytes read: a fine-tune's manifest names the files it learned by this


def project_files(folder: Any, exclude: Any = None, *, max_files: int = MAX_PROJECT_FILES,
                  max_bytes: int = MAX_PROJECT_BYTES) -> list[ProjectFile]:
    """The writer's other manuscripts beside a document (its folder, not sub-folders), for
    Engine.set_project_files: every readable format, at most `max_files` files and
    `max_bytes` in all, `exclude` (the open document itself, read live from the editor) skipped.
    Unreadable files are passed over: this only ever adds suggestions."""
    import hashlib
    from pathlib import Path

    from cw_desktop.ml.readers import extract_text, format_of, is_hidden_name, read_bytes_readonly

    texts: list[ProjectFile] = []
    budget = max_bytes
    skip = Path(exclude).resolve() if exclude else None
    try:
        entries = sorted(Path(folder).iterdir())[:max_files * 4]
    except OSError:
        return texts
    for path in entries:
        fmt = format_of(path)
        if len(texts) >= max_files or budget <= 0:
            break
        if fmt is None or is_hidden_name(path.name) or not path.is_file() or path.resolve() == skip:
            continue
        try:
            data = read_bytes_readonly(path, budget)
            text = extract_text(data, fmt)
        except Exception:  # noqa: BLE001 - a broken neighbour must not stop the writer's suggestions
            continue
        budget -= len(data)
        if text.strip():
            texts.append(ProjectFile(text, hashlib.sha256(data).hexdigest()))
    return texts
