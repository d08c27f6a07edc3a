"""Paths and sample text shared by tests (importable as `shared_data`; `conftest` names collide)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
WRITERS = CORPUS / "writers"
FORMATS = CORPUS / "formats"

SAMPLE_TEXT = [
    "The storm broke over the harbour and the boats strained at their ropes.",
    "\"Are you coming?\" she asked. \"Not yet,\" he said, and looked at the sea.",
    "Once upon a time there lived a king who had three daughters.",
    "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.",
    "It was a dark and stormy night; the rain fell in torrents.",
    "Café, naïve, façade — “quotes” and ‘apostrophes’ … and emoji 🌊.",
] * 20


def require_corpus() -> None:
    if not WRITERS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
