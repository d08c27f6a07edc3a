"""Import a writer's manuscripts folder: scan (read-only), extract, clean, deduplicate, split chapters.

The folder belongs to the writer: nothing here opens a file for writing, moves, renames or locks
anything in it. Every file seen is reported (used, or skipped with a reason), never a crash.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cw_desktop.core.file_names import display_name
from cw_desktop.ml import readers
from cw_desktop.ml.cleaning import clean, count_words
from cw_desktop.ml.folder_walk import walk
from cw_desktop.ml.readers import SkipFile


class CorpusError(ValueError):
    """The folder itself cannot be scanned (missing, not a folder); the message says which."""


class ScanCancelled(Exception):
    """should_stop() returned True during load_corpus."""


@dataclass
class FileResult:
    path: str            # relative to the scanned folder, POSIX style
    status: str          # "used" | "skipped"
    reason: str | None   # for skipped: "empty", "binary", "unsupported", "hidden", "unreadable",
                         # "corrupt", "too large", "not a regular file", "too deep", "link outside",
                         # "duplicate of <path>", "near-duplicate of <path>"
    words: int           # words of cleaned text (0 when skipped)
    format: str          # "txt", "md", "docx", ... ("folder" for a skipped hidden folder)
    detail: str = ""     # a sentence for the writer ("not a valid .docx file (...)")

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "reason": self.reason, "words": self.words,
                "format": self.format, "detail": self.detail}


@dataclass
class Document:
    path: str
    text: str            # cleaned: paragraphs separated by "\n\n", verse lines by "\n"
    chapters: list[str]  # "\n\n".join(chapters) == text; the unit of the held-out split
    format: str = "txt"

    @cached_property
    def words(self) -> int:  # counted once: the CLI and the dialog ask for totals repeatedly
        return count_words(self.text)


@dataclass
class Corpus:
    folder: Path
    documents: list[Document]
    files: list[FileResult] = field(default_factory=list)  # every file seen, sorted by path

    @property
    def words(self) -> int:
        return sum(document.words for document in self.documents)

    @property
    def used(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "used"]

    @property
    def skipped(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "skipped"]


# -- chapters --------------------------------------------------------------------------------------

TARGET_CHAPTER_WORDS = 2000
MIN_CHAPTER_WORDS = 400
# A chapter longer than this is cut into TARGET-sized runs so one giant section cannot dominate
# the held-out split.
MAX_CHAPTER_WORDS = 3 * TARGET_CHAPTER_WORDS

_NUMBER_WORDS = (r"ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN|ELEVEN|TWELVE|FIRST|SECOND|THIRD"
                 r"|FOURTH|FIFTH|SIXTH|SEVENTH|EIGHTH|NINTH|TENTH|LAST|FINAL")
_HEADING = re.compile(
    r"^(?:(?:CHAPTER|BOOK|PART|VOLUME|ACT|SCENE|STAVE|CANTO|LETTER|KNOT|FIT|SECTION|ADVENTURE|EPISODE"
    r"|PROLOGUE|EPILOGUE|INTRODUCTION|PREFACE)\b.{0,60}"
    r"|(?:Chapter|Book|Part|Volume|Act|Scene|Stave|Canto|Letter|Section|Adventure)\s+"
    rf"(?:[IVXLCDM]+|\d+|{_NUMBER_WORDS}|the\s+\w+|[A-Z]\w+)\b.{{0,60}}"
    r"|[IVXLCDM]{1,8}\.?(?:\s+[A-Z\"'‘“].{0,60})?"
    r"|\d{1,3}\.\s+[A-Z\"'‘“].{0,60})$")
# A title in capitals ("HANSEL AND GRETHEL", "THE FALL OF THE HOUSE OF USHER"): story collections.
# It starts with a letter or digit: a quoted capital line is a letter's signature ("“LYDIA BENNET.”").
_CAPS_TITLE = re.compile(r"^[A-Z0-9][^a-z\n]{2,69}$")
_HAS_LETTERS = re.compile(r"[A-Z].*[A-Z]")
# A letter's sign-off in capitals ("S. VERNON.", "CATHERINE VERNON."): ends a section, never starts one.
_SIGNATURE = re.compile(r"^(?:[A-Z]\.\s.*|\S+(?:\s\S+)?)\.$")


def is_heading(paragraph: str) -> bool:
    """A one-line paragraph that starts a chapter, act, scene, numbered section or story."""
    if "\n" in paragraph or len(paragraph) > 80:
        return False
    if _HEADING.match(paragraph):
        return True
    return (_CAPS_TITLE.match(paragraph) is not None and _HAS_LETTERS.search(paragraph) is not None
            and not paragraph.endswith((",", ";", ":", "-", "”", '"', "'", "’"))
            and _SIGNATURE.match(paragraph) is None)


def _runs(paragraphs: list[str], counts: list[int], target: int) -> list[list[str]]:
    """Consecutive paragraphs grouped into runs of about `target` words."""
    runs: list[list[str]] = []
    current: list[str] = []
    words = 0
    for paragraph, count in zip(paragraphs, counts):
        current.append(paragraph)
        words += count
        if words >= target:
            runs.append(current)
            current, words = [], 0
    if current:
        if runs and words < MIN_CHAPTER_WORDS:
            runs[-1].extend(current)
        else:
            runs.append(current)
    return runs


def split_chapters(text: str) -> list[str]:
    """Cleaned text -> chapters. Headings start sections; sections shorter than MIN_CHAPTER_WORDS
    join the next one (so 'VOLUME I' stays with 'CHAPTER I' and its text); sections longer than
    MAX_CHAPTER_WORDS, and texts without headings, become ~TARGET_CHAPTER_WORDS runs of paragraphs.
    "\\n\\n".join(split_chapters(t)) == t."""
    if not text:
        return []
    paragraphs = text.split("\n\n")
    counts = [len(p.split()) for p in paragraphs]
    sections: list[tuple[list[str], list[int]]] = []
    for paragraph, count in zip(paragraphs, counts):
        if not sections or is_heading(paragraph):
            sections.append(([], []))
        sections[-1][0].append(paragraph)
        sections[-1][1].append(count)
    merged: list[tuple[list[str], list[int]]] = []
    pending: tuple[list[str], list[int]] = ([], [])
    for section_paragraphs, section_counts in sections:
        pending = (pending[0] + section_paragraphs, pending[1] + section_counts)
        if sum(pending[1]) >= MIN_CHAPTER_WORDS:
            merged.append(pending)
            pending = ([], [])
    if pending[0]:
        if merged:
            merged[-1] = (merged[-1][0] + pending[0], merged[-1][1] + pending[1])
        else:
            merged.append(pending)
    chapters: list[str] = []
    for section_paragraphs, section_counts in merged:
        if sum(section_counts) > MAX_CHAPTER_WORDS:
            chapters.extend("\n\n".join(run) for run in _runs(section_paragraphs, section_counts,
                                                               TARGET_CHAPTER_WORDS))
        else:
            chapters.append("\n\n".join(section_paragraphs))
    return chapters


# -- near-duplicate detection ------------------------------------------------------------------------

SHINGLE_WORDS = 5
# 1024 hashes estimate Jaccard within about ±0.015 (one standard deviation) at 0.75.
SKETCH_SIZE = 1024
# Measured on the Shakespeare folder: different editions of one play score 0.76-1.0 (exact
# Jaccard of word 5-grams), while the most similar distinct works anywhere in the test corpus
# score at most 0.65 (Carroll's Phantasmagoria vs. Rhyme? And Reason?, which reprints it).
NEAR_DUPLICATE_JACCARD = 0.7
_SHINGLE_WORD = re.compile(r"\w+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class Sketch:
    """Bottom-k sketch of a document's set of word 5-gram shingles: the k smallest 64-bit shingle
    hashes, enough to estimate the Jaccard similarity of two documents within a few percent."""
    hashes: np.ndarray  # uint64, sorted, at most SKETCH_SIZE
    shingles: int       # number of distinct shingles in the document


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads word-id combinations uniformly over 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def sketch(text: str) -> Sketch:
    words = _SHINGLE_WORD.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        return Sketch(np.zeros(0, dtype=np.uint64), 0)
    # CRC-32 of each word: deterministic across runs (unlike hash()), and map() keeps it in C.
    ids = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))  # (n,)
    with np.errstate(over="ignore"):
        h = np.zeros(len(ids) - SHINGLE_WORDS + 1, dtype=np.uint64)  # (n - 4,)
        for offset in range(SHINGLE_WORDS):
            h = _mix64(h ^ ids[offset:len(ids) - SHINGLE_WORDS + 1 + offset])
    unique = np.unique(h)
    return Sketch(unique[:SKETCH_SIZE], len(unique))


def jaccard(a: Sketch, b: Sketch) -> float:
    """Estimated |A ∩ B| / |A ∪ B| of two shingle sets (symmetric: an anthology that contains a
    story is not a near-duplicate of it)."""
    if not a.shingles or not b.shingles:
        return 0.0
    union = np.union1d(a.hashes, b.hashes)[:SKETCH_SIZE]
    both = np.intersect1d(a.hashes, b.hashes, assume_unique=True)
    return float(np.isin(union, both, assume_unique=True).sum()) / len(union)


def is_near_duplicate(a: Sketch, b: Sketch) -> bool:
    """Nearly the same text (another edition, a reprint): estimated Jaccard >= NEAR_DUPLICATE_JACCARD."""
    small, large = sorted((a.shingles, b.shingles))
    if not small or small / large < NEAR_DUPLICATE_JACCARD:
        return False  # Jaccard can never reach the threshold with such different sizes
    return jaccard(a, b) >= NEAR_DUPLICATE_JACCARD


def find_duplicates(documents: list[Document]) -> dict[str, tuple[str, str]]:
    """path -> ("duplicate of"/"near-duplicate of", kept path). The first document in the given order
    is kept; each later one that equals or nearly equals a kept one is dropped."""
    dropped: dict[str, tuple[str, str]] = {}
    by_hash: dict[str, str] = {}
    kept: list[tuple[str, Sketch]] = []
    for document in documents:
        digest = hashlib.sha1(document.text.encode("utf-8", "surrogatepass")).hexdigest()
        if digest in by_hash:
            dropped[document.path] = ("duplicate of", by_hash[digest])
            continue
        by_hash[digest] = document.path
        current = sketch(document.text)
        for path, other in kept:
            if is_near_duplicate(current, other):
                dropped[document.path] = ("near-duplicate of", path)
                break
        else:
            kept.append((document.path, current))
    return dropped


# -- scanning --------------------------------------------------------------------------------------

def read_document(path: Path, fmt: str, max_bytes: int) -> str:
    """Raw text of one supported file, read read-only. Raises SkipFile."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from exc
    if size > max_bytes:
        raise SkipFile("too large", f"{size / 1e6:.1f} MB, above the {max_bytes / 1e6:g} MB limit")
    if size == 0:
        raise SkipFile("empty", "the file is empty")
    # The same limit bounds what a .docx/.odt/.epub may unpack to, so memory stays bounded too.
    return readers.extract_text(readers.read_bytes_readonly(path, max_bytes), fmt, max_unpacked=max_bytes)


def load_corpus(folder: Path, *, max_file_mb: float = 50, should_stop: Callable[[], bool] | None = None,
                on_file: Callable[[int, int, str], None] | None = None,
                straight_quotes: bool = False, follow_outside_links: bool = False) -> Corpus:
    """Scan `folder` recursively (read-only), extract and clean every manuscript, drop duplicates.

    on_file(done, total, relative_path) is called after each file. Raises CorpusError for a
    missing folder, ScanCancelled when should_stop() turns true (checked between files).
    Paths in the result are display names (always valid Unicode, see core.file_names).
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CorpusError(f"The folder {display_name(folder)} does not exist.")
    if not folder.is_dir():
        raise CorpusError(f"{display_name(folder)} is a file, not a folder: choose the folder that holds "
                          "your manuscripts.")
    folder = folder.resolve()
    max_bytes = int(max_file_mb * 1_000_000)
    entries = walk(folder, follow_outside_links=follow_outside_links)
    results: list[FileResult] = []
    documents: list[Document] = []
    for done, entry in enumerate(entries, start=1):
        if should_stop is not None and should_stop():
            raise ScanCancelled(f"scan cancelled after {done - 1} of {len(entries)} files")
        if entry.skip is None:
            try:
                raw = read_document(entry.path, entry.format, max_bytes)
                text = clean(raw, markdown=entry.format == "md", straight_quotes=straight_quotes)
                if not text:
                    raise SkipFile("empty", "no text left after cleaning")
                documents.append(Document(entry.relative, text, split_chapters(text), entry.format))
                results.append(FileResult(entry.relative, "used", None, count_words(text), entry.format))
            except SkipFile as skip:
                entry.skip = skip
            except MemoryError:
                entry.skip = SkipFile("too large", "not enough memory to read it")
            except RecursionError:  # deeply nested HTML/XML
                entry.skip = SkipFile("corrupt", "the document structure is too deeply nested")
            except Exception as exc:  # a reader library choking on a malformed file: report, go on
                entry.skip = SkipFile("corrupt", f"could not be read ({type(exc).__name__}: {exc})")
        if entry.skip is not None:
            results.append(FileResult(entry.relative, "skipped", entry.skip.reason, 0, entry.format,
                                      entry.skip.detail))
        if on_file is not None:
            on_file(done, len(entries), entry.relative)
    duplicates = find_duplicates(sorted(documents, key=lambda d: d.path))
    if duplicates:
        documents = [d for d in documents if d.path not in duplicates]
        for result in results:
            if result.path in duplicates:
                kind, original = duplicates[result.path]
                result.status, result.reason, result.words = "skipped", f"{kind} {original}", 0
                result.detail = ("the same text as another file" if kind == "duplicate of"
                                 else "nearly the same text as another file, e.g. another edition")
    results.sort(key=lambda r: r.path)
    documents.sort(key=lambda d: d.path)
    return Corpus(folder, documents, results)


# -- training estimate ---------------------------------------------------------------------------

TOKENS_PER_WORD = 1.33  # typical for English prose with a GPT-2-style BPE


def count_tokens(corpus: Corpus, tokenizer: Any, batch: int = 64,
                 on_progress: Callable[[float], None] | None = None) -> int:
    """Tokens of every chapter with the model's own (fast) tokenizer, no special tokens.
    A large folder takes a while (~1 minute for 10 million tokens here): on_progress(fraction)."""
    total = 0
    texts = [chapter for document in corpus.documents for chapter in document.chapters]
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start:start + batch], add_special_tokens=False)["input_ids"]
        total += sum(len(ids) for ids in encoded)
        if on_progress is not None:
            on_progress(min(1.0, (start + batch) / len(texts)))
    return total


def estimate_training(corpus: Corpus, tokenizer: Any = None, *, epochs: float = 1.0,
                      tokens_per_second: float | None = None,
                      on_progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Tokens in the corpus and a rough full fine-tune time on this machine (an estimate!).

    Without a tokenizer the token count itself is estimated from the word count. The speed is the
    trainer's own estimate (ml/plan.py) for a full fine-tune of a 135M-parameter model here.
    """
    from cw_desktop.ml.plan import REFERENCE_MODEL, estimate_tokens_per_second

    if tokens_per_second is None:
        tokens_per_second = estimate_tokens_per_second(REFERENCE_MODEL, "full", "cpu")
    words = corpus.words
    if tokenizer is not None:
        tokens, exact = count_tokens(corpus, tokenizer, on_progress=on_progress), True
    else:
        tokens, exact = int(round(words * TOKENS_PER_WORD)), False
    seconds = tokens * epochs / tokens_per_second
    note = (f"Estimate: {epochs:g} epoch of a full fine-tune at ~{tokens_per_second:.0f} tokens/s "
            "(a 135M-parameter model on this computer's CPU); LoRA or top-layer modes are faster.")
    if not exact:
        note += f" Token count estimated as words x {TOKENS_PER_WORD} (model tokenizer unavailable)."
    return {
        "files_used": len(corpus.used), "files_skipped": len(corpus.skipped), "words": words,
        "tokens": tokens, "tokens_exact": exact, "epochs": epochs, "tokens_per_second": tokens_per_second,
        "estimated_seconds": seconds, "note": note,
    }
