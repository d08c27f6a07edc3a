"""A small manuscripts folder from the shared corpus, for the training-run and offline tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared_data import WRITERS, require_corpus


@dataclass
class Doc:
    path: str
    chapters: list[str]


def northanger(chars: int = 20_000, skip: int = 0) -> str:
    require_corpus()
    text = (WRITERS / "austen" / "Northanger Abbey.txt").read_text(encoding="utf-8")
    start = text.index("CHAPTER 1") + skip
    return text[start:start + chars]


def write_manuscripts(folder: Path, chars: int = 20_000) -> Path:
    folder.mkdir(parents=True)
    (folder / "northanger.txt").write_text(northanger(chars), encoding="utf-8")
    return folder


def chapter_docs(chars: int = 20_000) -> list[Doc]:
    paragraphs = [p for p in northanger(chars, skip=chars).split("\n\n") if p.strip()]
    return [Doc("a.txt", ["\n\n".join(paragraphs[i:i + 10]) for i in range(0, len(paragraphs), 10)])]
