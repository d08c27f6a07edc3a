"""From cleaned documents to training blocks: held-out split by chapter, tokenisation, packing.

The split is made on words, before tokenisation, so it does not depend on the model: the same
seed picks the same held-out chapters for GPT-2 and for SmolLM2, and `cw-desktop eval` measures
any model on exactly the chapters a fine-tune never saw.

Packing follows run_clm's `group_texts`: every unit's tokens followed by EOS, concatenated, cut
into equal blocks. No padding, so every token in a batch is a token of the writer's text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

# Defined with the plan (no torch there), so the fine-tune dialog can show them without torch.
from cw_desktop.ml.plan import DEFAULT_EVAL_SHARE, DEFAULT_SEED  # noqa: F401

# Below this the held-out perplexity is noise and a fine-tune mostly memorises.
MIN_TOTAL_WORDS = 2_500
MIN_EVAL_WORDS = 300
MIN_TRAIN_WORDS = 2_000
# Caps the held-out split of big folders: perplexity over the whole split is measured before,
# during (early stopping) and after training, so it must stay affordable on a CPU: ~6.5k tokens,
# ~10 s for a 135M model on 2 idle cores. Before/after compare the same tokens (a paired
# comparison), so that is plenty to tell whether fine-tuning helped.
MAX_EVAL_WORDS = 5_000


class InsufficientDataError(ValueError):
    """The folder holds too little text to fine-tune on; the message says how much is needed."""


class DocumentLike(Protocol):
    """What we need from cw_desktop.ml.corpus.Document."""

    path: str
    chapters: list[str]


@dataclass(frozen=True)
class Unit:
    """A chapter (or a run of paragraphs of one): the smallest thing the split never divides."""

    key: str  # "<document path>#<chapter index>[.<piece>]", unique and stable
    text: str

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class Split:
    train: list[Unit]
    eval: list[Unit]
    # Training units left out because they (nearly) repeat a held-out one, e.g. a story that is
    # in two collections of the folder: trained on, it would make held-out figures look too good.
    heldout_overlap_dropped: int = 0

    @property
    def train_words(self) -> int:
        return sum(u.words for u in self.train)

    @property
    def eval_words(self) -> int:
        return sum(u.words for u in self.eval)


@dataclass
class PackedData:
    """Token streams of both sides, EOS after every unit, ready to cut into blocks."""

    block_size: int
    train_ids: torch.Tensor  # [n_train_tokens] int64
    eval_ids: torch.Tensor  # [n_eval_tokens] int64
    split: Split
    extra_train_texts: int = 0  # accepted suggestions added to the train side
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def train_tokens(self) -> int:
        return int(self.train_ids.numel())

    @property
    def eval_tokens(self) -> int:
        return int(self.eval_ids.numel())

    def train_blocks(self) -> torch.Tensor:
        return train_blocks(self.train_ids, self.block_size)

    def eval_blocks(self) -> list[torch.Tensor]:
        return eval_blocks(self.eval_ids, self.block_size)


# -- units and the split ----------------------------------------------------------------------

def document_units(documents: Iterable[DocumentLike]) -> list[Unit]:
    """One unit per non-empty chapter, sorted by key so the input order never matters."""
    units = []
    for document in documents:
        chapters = document.chapters or [getattr(document, "text", "")]
        for index, chapter in enumerate(chapters):
            if chapter.strip():
                units.append(Unit(f"{document.path}#{index}", chapter))
    return sorted(units, key=lambda u: u.key)


def subdivide(unit: Unit, max_words: int) -> list[Unit]:
    """Cut a unit into runs of whole paragraphs of at most ~max_words (for folders too small to
    split by chapter: one short story still gets a held-out part)."""
    paragraphs = [p for p in unit.text.split("\n\n") if p.strip()]
    pieces: list[list[str]] = [[]]
    words = 0
    for paragraph in paragraphs:
        count = len(paragraph.split())
        if pieces[-1] and words + count > max_words:
            pieces.append([])
            words = 0
        pieces[-1].append(paragraph)
        words += count
    if len(pieces) == 1:
        return [unit]
    return [Unit(f"{unit.key}.{i}", "\n\n".join(p)) for i, p in enumerate(pieces)]


def _rank(key: str, seed: int) -> str:
    # A hash rather than random.shuffle: adding a file to the folder leaves the other chapters'
    # ranks, hence mostly the same held-out set, unchanged. A key naming a file whose name is not
    # valid UTF-8 may hold lone surrogates (os.fsdecode's form): surrogatepass hashes any str to the
    # same bytes every run, where a strict encode raised and stopped the fine-tune.
    return hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


def _choose_eval(units: list[Unit], target: int, cap: int, seed: int) -> list[Unit]:
    chosen: list[Unit] = []
    words = 0
    for unit in sorted(units, key=lambda u: _rank(u.key, seed)):
        if words >= target:
            break
        if chosen and words + unit.words > cap:
            continue
        chosen.append(unit)
        words += unit.words
    return chosen


def drop_heldout_overlap(train: Sequence[Unit], held_out: Sequence[Unit]) -> tuple[list[Unit], int]:
    """(the training units that repeat no held-out unit, how many were left out). Repeats are the
    same text or a near-duplicate by the corpus's file-level test (ml.corpus.is_near_duplicate),
    so the result depends only on the units, never on their order."""
    from cw_desktop.ml.corpus import is_near_duplicate, sketch

    held_texts = {" ".join(u.text.split()) for u in held_out}
    held_sketches = [s for s in (sketch(u.text) for u in held_out) if s.shingles]
    held_words = [u.words for u in held_out]
    kept = []
    for unit in train:
        if " ".join(unit.text.split()) in held_texts:
            continue
        # Sketching every chapter of a big folder costs seconds; units of very different lengths
        # can never be near-duplicates (a loose bound: shingles are about the words, minus repeats).
        if any(0.5 <= unit.words / max(1, words) <= 2 for words in held_words):
            current = sketch(unit.text)
            if any(is_near_duplicate(current, other) for other in held_sketches):
                continue
        kept.append(unit)
    return kept, len(train) - len(kept)


def split_units(units: Sequence[Unit], *, eval_share: float = DEFAULT_EVAL_SHARE, seed: int = DEFAULT_SEED,
                min_eval_words: int = MIN_EVAL_WORDS, max_eval_words: int = MAX_EVAL_WORDS,
                min_train_words: int = MIN_TRAIN_WORDS, min_total_words: int = MIN_TOTAL_WORDS,
                source: str = "the folder") -> Split:
    """Hold out whole units (chapters) worth ~eval_share of the words, deterministically from seed.

    Raises InsufficientDataError when there is too little text for both sides.
    """
    if not 0 < eval_share < 1:
        raise ValueError(f"eval_share must be between 0 and 1, got {eval_share}")
    total = sum(u.words for u in units)
    if total < max(min_total_words, min_train_words + min_eval_words):
        raise InsufficientDataError(_too_little_message(total, len(units), source, min_total_words))
    target = min(max_eval_words, max(min_eval_words, round(total * eval_share)))
    # Overshooting the target is fine for small folders (chapters are coarse), never past the cap.
    cap = min(target * 2, max_eval_words)
    pool = list(units)
    for _attempt in range(3):
        eval_units = _choose_eval(pool, target, cap, seed)
        eval_keys = {u.key for u in eval_units}
        train_units, dropped = drop_heldout_overlap([u for u in pool if u.key not in eval_keys], eval_units)
        split = Split(train_units, eval_units, dropped)
        if split.train_words >= min_train_words and split.eval_words >= min_eval_words:
            return split
        # Chapters too coarse for this folder (e.g. one long story): fall back to paragraph runs
        # about half the target size, so the held-out share stays close to eval_share.
        piece = max(50, target // 2)
        pool = [piece_unit for u in pool for piece_unit in subdivide(u, piece)]
    raise InsufficientDataError(
        f"Could not hold out part of {source} for evaluation: it has {total:,} words in "
        f"{len(units)} chapter(s) that cannot be divided further. Add more text (at least "
        f"{min_total_words:,} words in several paragraphs).")


def _too_little_message(words: int, units: int, source: str, minimum: int) -> str:
    return (f"Not enough text to fine-tune on: {source} has {words:,} words of usable text, and "
            f"fine-tuning needs at least {minimum:,} words (about {minimum // 250} pages), so that "
            f"some chapters can be held out to measure whether the model improves. Add more of "
            f"your writing to the folder (more text gives a better result; 20,000 words or more "
            f"is a good start).")


# -- tokenisation and packing -----------------------------------------------------------------

def tokenize_texts(tokenizer: Any, texts: Sequence[str], batch: int = 64) -> list[list[int]]:
    """Token ids of each text with the model's fast tokenizer, batch-encoded (Rust, parallel)."""
    ids: list[list[int]] = []
    for start in range(0, len(texts), batch):
        chunk = list(texts[start:start + batch])
        # verbose=False: long chapters exceed model_max_length, which only matters before packing.
        encoded = tokenizer(chunk, add_special_tokens=False, return_attention_mask=False, verbose=False)
        ids.extend(encoded["input_ids"])
    return ids


def pack(token_lists: Iterable[list[int]], eos_id: int) -> torch.Tensor:
    """Concatenate token lists with EOS after each one: [n_tokens] int64."""
    stream: list[int] = []
    for tokens in token_lists:
        stream.extend(tokens)
        stream.append(eos_id)
    return torch.tensor(stream, dtype=torch.long)


def train_blocks(ids: torch.Tensor, block_size: int) -> torch.Tensor:
    """Cut a stream into full blocks, dropping the short tail (as run_clm does): [n_blocks, T]."""
    n_blocks = ids.numel() // block_size
    return ids[: n_blocks * block_size].view(n_blocks, block_size)


def eval_blocks(ids: torch.Tensor, block_size: int) -> list[torch.Tensor]:
    """Cut a stream into blocks, KEEPING the short tail: perplexity counts every held-out token."""
    return [ids[start:start + block_size] for start in range(0, ids.numel(), block_size)
            if ids[start:start + block_size].numel() > 1]


def eos_token_id(tokenizer: Any) -> int:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("The model's tokenizer has no end-of-text token, which packing needs")
    return int(eos)


@dataclass
class TokenizedSplit:
    split: Split
    train: list[list[int]]  # one token list per training unit (+ extra texts at the end)
    eval: list[list[int]]
    eos_id: int
    extra_train_texts: int = 0

    @property
    def train_tokens(self) -> int:
        return sum(len(t) + 1 for t in self.train)  # + the EOS after each


def tokenize_split(split: Split, tokenizer: Any, extra_train_texts: Sequence[str] = ()) -> TokenizedSplit:
    """Tokenise both sides once; extra texts (accepted suggestions) go to the TRAIN side only."""
    extra = [t for t in extra_train_texts if t.strip()]
    return TokenizedSplit(split=split,
                          train=tokenize_texts(tokenizer, [u.text for u in split.train] + extra),
                          eval=tokenize_texts(tokenizer, [u.text for u in split.eval]),
                          eos_id=eos_token_id(tokenizer), extra_train_texts=len(extra))


def pack_split(tokens: TokenizedSplit, block_size: int) -> PackedData:
    train_ids = pack(tokens.train, tokens.eos_id)
    if train_ids.numel() < 2 * block_size:
        raise InsufficientDataError(
            f"The training part holds only {train_ids.numel():,} tokens, fewer than two blocks of "
            f"{block_size}; use a smaller --block-size or add more text.")
    return PackedData(block_size=block_size, train_ids=train_ids, eval_ids=pack(tokens.eval, tokens.eos_id),
                      split=tokens.split, extra_train_texts=tokens.extra_train_texts)


def prepare_data(split: Split, tokenizer: Any, block_size: int,
                 extra_train_texts: Sequence[str] = ()) -> PackedData:
    """tokenize_split + pack_split."""
    return pack_split(tokenize_split(split, tokenizer, extra_train_texts), block_size)


def count_tokens(tokenizer: Any, texts: Sequence[str]) -> int:
    return sum(len(ids) for ids in tokenize_texts(tokenizer, texts))
