"""Memorisation guard: does a suggestion reproduce a run of the text the model was fine-tuned on?

A small model tuned for many steps on one writer's folder can learn whole sentences by heart and
hand them back as "suggestions". At the end of fine-tuning the trainer indexes every run of `n`
consecutive words (default 12) of the training chapters; the editor checks each finished suggestion,
together with the end of the draft it continues (the copied run may start in the writer's own text),
and marks a copy with where it comes from ("copies your Emma.txt, chapter 3").

The index is a sorted array of 64-bit hashes of the n-word runs (np.searchsorted lookup) with a
parallel array of source ids: 10 bytes per training word. Words are compared lowercased and without
punctuation, so "Well, said she" matches "well said she".

Files in the model folder: memorisation.npz (hashes, sources) and memorisation.json (n, source names).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cw_desktop.core.atomic import atomic_write_text

INDEX_FILE = "memorisation.npz"
SOURCES_FILE = "memorisation.json"
DEFAULT_WORDS = 12
FORMAT_VERSION = 1
# Odd 64-bit multiplier of the rolling n-gram hash (any large odd constant mixes well enough here:
# the word hashes themselves are random 64-bit values).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_WORD = re.compile(r"[^\W_]+")
_APOSTROPHES = str.maketrans("", "", "'’‘")
# Characters of draft read before a suggestion: enough for n-1 words of any real prose.
_CONTEXT_CHARS = 600


class UnitLike(Protocol):
    """What we need from ml.dataset.Unit: key "<document path>#<chapter>[.<piece>]" and text."""

    key: str
    text: str


def normalise_words(text: str) -> list[str]:
    """Lowercase words without punctuation ("Don't," -> "dont"), the form runs are compared in."""
    return _WORD.findall(text.lower().translate(_APOSTROPHES))


def _word_hashes(words: Sequence[str], cache: dict[str, int]) -> np.ndarray:
    values = []
    for word in words:
        value = cache.get(word)
        if value is None:
            value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
            cache[word] = value
        values.append(value)
    return np.array(values, dtype=np.uint64)


def ngram_hashes(words: Sequence[str], n: int, cache: dict[str, int] | None = None) -> np.ndarray:
    """Hash of every run of `n` consecutive words (len(words) - n + 1 of them; none if fewer words)."""
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    word_values = _word_hashes(words, cache if cache is not None else {})
    count = len(words) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        for offset in range(n):
            acc = acc * _MULTIPLIER + word_values[offset:offset + count]
    return acc


def source_label(key: str) -> tuple[str, int]:
    """A unit key "<path>#<chapter>[.<piece>]" -> (file path, 0-based chapter index)."""
    path, _, rest = key.rpartition("#")
    chapter = rest.split(".")[0]
    return (path, int(chapter)) if path and chapter.isdigit() else (key, -1)


@dataclass(frozen=True)
class CopyMatch:
    source: str  # "Emma.txt, chapter 3"
    words: int  # length of the longest copied run, in words

    @property
    def message(self) -> str:
        return f"copies your {self.source}"


class MemorisationIndex:
    """Hashes of every n-word run of the training text, and which chapter each came from."""

    def __init__(self, hashes: np.ndarray, sources: np.ndarray, names: list[str], n: int = DEFAULT_WORDS,
                 words: int = 0) -> None:
        self.hashes = hashes  # sorted, unique uint64
        self.sources = sources  # index into names, parallel to hashes
        self.names = names
        self.n = n
        self.words = words  # training words indexed
        self._cache: dict[str, int] = {}

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, units: Iterable[UnitLike], n: int = DEFAULT_WORDS) -> MemorisationIndex:
        """Index the training side of a split (ml.dataset.Unit); runs never cross a chapter's edge."""
        if n < 2:
            raise ValueError(f"The memorisation threshold must be at least 2 words, not {n}")
        names: list[str] = []
        name_ids: dict[str, int] = {}
        chunks: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        cache: dict[str, int] = {}
        total = 0
        for unit in units:
            words = normalise_words(unit.text)
            total += len(words)
            hashes = ngram_hashes(words, n, cache)
            if not hashes.size:
                continue
            path, chapter = source_label(unit.key)
            name = f"{Path(path).name}, chapter {chapter + 1}" if chapter >= 0 else Path(path).name
            source = name_ids.setdefault(name, len(names))
            if source == len(names):
                names.append(name)
            chunks.append(hashes)
            ids.append(np.full(hashes.size, source, dtype=np.uint32))
        dtype = np.uint16 if len(names) <= np.iinfo(np.uint16).max + 1 else np.uint32
        all_hashes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)
        all_ids = np.concatenate(ids).astype(dtype) if ids else np.zeros(0, dtype=dtype)
        # A run repeated in several chapters keeps its first source.
        unique, first = np.unique(all_hashes, return_index=True)
        index = cls(unique, all_ids[first], names, n, total)
        index._cache = cache
        return index

    # -- files -------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        meta = {"version": FORMAT_VERSION, "n": self.n, "words": self.words, "sources": self.names}
        with open(folder / INDEX_FILE, "wb") as handle:
            np.savez(handle, hashes=self.hashes, sources=self.sources)
        atomic_write_text(folder / SOURCES_FILE, json.dumps(meta, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path) -> MemorisationIndex | None:
        """The folder's index, or None when it has none. A damaged index raises ValueError naming it."""
        folder = Path(folder)
        if not (folder / INDEX_FILE).is_file() or not (folder / SOURCES_FILE).is_file():
            return None
        try:
            meta = json.loads((folder / SOURCES_FILE).read_text(encoding="utf-8"))
            with np.load(folder / INDEX_FILE, allow_pickle=False) as arrays:
                hashes = arrays["hashes"].astype(np.uint64, copy=False)
                sources = arrays["sources"]
            if meta.get("version") != FORMAT_VERSION or hashes.shape != sources.shape:
                raise ValueError("unknown format or mismatched arrays")
            return cls(hashes, sources, [str(s) for s in meta["sources"]], int(meta["n"]), int(meta.get("words", 0)))
        except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"The memorisation index in {folder} cannot be read ({exc}); "
                             f"delete {INDEX_FILE} and {SOURCES_FILE} or rebuild it") from exc

    @property
    def size_bytes(self) -> int:
        return int(self.hashes.nbytes + self.sources.nbytes)

    # -- lookup ------------------------------------------------------------------------------------
    def find_copy(self, suggestion: str, context: str = "") -> CopyMatch | None:
        """The training chapter `suggestion` copies >= n words of, counting the words of `context`
        (the draft it continues) that lead into it; None if it copies nothing that long."""
        if not self.hashes.size or not suggestion.strip():
            return None
        tail = context[-_CONTEXT_CHARS:]
        lead = normalise_words(tail)
        words = normalise_words(tail + suggestion)
        # A suggestion that finishes the draft's last word ("The sto" + "rm") re-forms that word.
        joined = bool(lead) and tail[-1:].isalnum() and suggestion[:1].isalnum()
        first_new = len(lead) - 1 if joined else len(lead)
        start = max(0, first_new - self.n + 1)  # the first run that can reach into the suggestion
        hashes = ngram_hashes(words[start:], self.n, self._cache)
        if not hashes.size:
            return None
        positions = np.searchsorted(self.hashes, hashes)
        positions[positions >= self.hashes.size] = 0
        found = self.hashes[positions] == hashes
        if not found.any():
            return None
        # Longest stretch of consecutive matching runs: k matches in a row = k + n - 1 copied words.
        best_end, best, current = 0, 0, 0
        for i, hit in enumerate(found.tolist()):
            current = current + 1 if hit else 0
            if current > best:
                best, best_end = current, i
        source = self.names[int(self.sources[positions[best_end]])]
        return CopyMatch(source=source, words=best + self.n - 1)

    def copies(self, suggestion: str, context: str = "") -> str | None:
        """The marker shown with a suggestion ("copies your Emma.txt, chapter 3"), or None."""
        match = self.find_copy(suggestion, context)
        return match.message if match else None


def load_index(folder: Path | None) -> MemorisationIndex | None:
    """A model folder's index for the editor: None without one, or (with a warning) when unreadable,
    so a damaged index never stops the model from loading."""
    if folder is None:
        return None
    try:
        return MemorisationIndex.load(folder)
    except ValueError as exc:
        import logging

        logging.getLogger(__name__).warning("%s", exc)
        return None


def build_for_model(model_folder: Path, manuscripts: Path, n: int = DEFAULT_WORDS) -> MemorisationIndex:
    """The index of an existing fine-tune (one trained before the guard existed): the training side
    of the same split `cw-desktop train` made, with the seed and held-out share from its report.json."""
    from cw_desktop.core.model_registry import REPORT_FILE
    from cw_desktop.ml import dataset as ds
    from cw_desktop.ml.corpus import load_corpus

    model_folder, manuscripts = Path(model_folder).expanduser(), Path(manuscripts).expanduser().resolve()
    if not model_folder.is_dir():
        raise ValueError(f"The model folder {model_folder} does not exist")
    report_path = model_folder / REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{report_path} cannot be read ({exc})") from exc
    seed = int((report.get("hyperparameters") or {}).get("seed", ds.DEFAULT_SEED))
    share = float(report.get("eval_share") or ds.DEFAULT_EVAL_SHARE)
    corpus = load_corpus(manuscripts)
    split = ds.split_units(ds.document_units(corpus.documents), eval_share=share, seed=seed,
                           source=str(manuscripts))
    index = MemorisationIndex.build(split.train, n)
    index.save(model_folder)
    return index


def also_saving(index: MemorisationIndex,
                write_report: Callable[[Path, dict[str, Any]], None]) -> Callable[[Path, dict[str, Any]], None]:
    """The trainer's report writer, extended to put the index beside report.json in the model folder."""

    def write(folder: Path, report: dict[str, Any]) -> None:
        write_report(folder, report)
        index.save(folder)

    return write


def copying_samples(index: MemorisationIndex, prompts: Sequence[tuple[str, str]],
                    samples: Sequence[str]) -> dict[str, Any]:
    """For the fine-tune report: how many of the tuned model's samples copy training text, and which."""
    which = []
    for (form, prompt), sample in zip(prompts, samples):
        match = index.find_copy(sample, prompt)
        if match is not None:
            which.append({"form": form, "prompt": prompt[:60], "source": match.source, "words": match.words})
    return {"threshold_words": index.n, "checked": min(len(prompts), len(samples)), "count": len(which),
            "samples": which}
