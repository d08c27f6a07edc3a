"""Word-level differences between two texts, for the rewrite preview.

Words, not characters: a writer reads "the grey sea" -> "the cold sea" as one changed word, and a
character diff of two phrasings of a sentence is a confetti of single letters. Spaces and
punctuation are tokens of their own, so joining the pieces gives back each text exactly.
"""

from __future__ import annotations

import difflib
import re

# Every character falls into exactly one piece: a word (with inner apostrophes and hyphens:
# "don't", "sea-green") or a single other character, each with the spaces after it, or leading
# spaces. Spaces ride along with their word: as tokens of their own they are half of all tokens,
# all equal, and make the matcher's work grow with their count squared (1.2 s for 700 words).
_TOKEN = re.compile(r"\w+(?:['’-]\w+)*\s*|[^\w\s]\s*|\s+")

EQUAL, DELETE, INSERT = "equal", "delete", "insert"


def words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def word_diff(original: str, rewritten: str) -> list[tuple[str, str]]:
    """(op, text) pieces: EQUAL text is in both, DELETE only in `original`, INSERT only in `rewritten`.

    The EQUAL and DELETE pieces joined give `original`; EQUAL and INSERT give `rewritten`.
    """
    old, new = words(original), words(rewritten)
    # autojunk off: in prose, "the" and spaces are frequent but are exactly what must still match.
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    pieces: list[tuple[str, str]] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            pieces.append((EQUAL, "".join(old[a0:a1])))
            continue
        if a1 > a0:
            pieces.append((DELETE, "".join(old[a0:a1])))
        if b1 > b0:
            pieces.append((INSERT, "".join(new[b0:b1])))
    return pieces


def changed_share(original: str, rewritten: str) -> float:
    """How much of the text changed, 0..1 (by words): shown as a hint in the preview."""
    old = [w.strip() for w in words(original) if not w.isspace()]
    new = [w.strip() for w in words(rewritten) if not w.isspace()]
    if not old and not new:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(a=old, b=new, autojunk=False).ratio()
