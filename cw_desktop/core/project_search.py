"""Find a word or phrase in every chapter of a project, and count the words written this session."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_MATCHES = 1000  # more than anyone reads in a list; the search stops there
# Context shown around a match: little before it, so the match itself is visible in a narrow list.
SNIPPET_BEFORE, SNIPPET_AFTER = 16, 48


@dataclass(frozen=True)
class Match:
    chapter: str  # the chapter's relative path
    offset: int  # index of the match in the chapter's text (Python characters)
    length: int
    line: int  # 1-based line number, for the list
    snippet: str  # the match with some text either side, on one line


def find_in_chapters(texts: Iterable[tuple[str, str]], needle: str, *, case_sensitive: bool = False,
                     whole_words: bool = False, limit: int = MAX_MATCHES) -> list[Match]:
    """Every occurrence of `needle` in (chapter, text) pairs, in chapter order then position."""
    if not needle:
        return []
    pattern = re.escape(needle)
    if whole_words:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    # A regex with IGNORECASE, not str.lower(): lower-casing can change a text's length
    # ("İ" becomes two characters) and the offsets would then point at the wrong place.
    compiled = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    matches: list[Match] = []
    for chapter, text in texts:
        for found in compiled.finditer(text):
            start, end = found.span()
            line = text.count("\n", 0, start) + 1
            before = text[max(0, start - SNIPPET_BEFORE):start].rsplit("\n", 1)[-1]
            after = text[end:end + SNIPPET_AFTER].split("\n", 1)[0]
            snippet = f"{'…' if len(before) == SNIPPET_BEFORE else ''}{before}{found.group()}{after}"
            matches.append(Match(chapter, start, end - start, line, " ".join(snippet.split())))
            if len(matches) >= limit:
                return matches
    return matches


def utf16_position(text: str, offset: int) -> int:
    """Qt counts positions in UTF-16 units: a character outside the BMP (an emoji) takes two."""
    return offset + sum(1 for char in text[:offset] if ord(char) > 0xFFFF)


@dataclass
class WritingSession:
    """Words written since the project was opened, against the writer's target for a session."""

    start_words: int
    target: int = 0

    def written(self, total_words: int) -> int:
        # Net: cutting a scene counts against the session, as in most writing tools.
        return total_words - self.start_words

    def progress(self, total_words: int) -> float:
        """0..1 of the target (0 when there is no target)."""
        if self.target <= 0:
            return 0.0
        return max(0.0, min(1.0, self.written(total_words) / self.target))

    def summary(self, total_words: int) -> str:
        written = self.written(total_words)
        if self.target <= 0:
            return f"Session: {written:+,} words"
        return f"Session: {written:,} / {self.target:,} words"
