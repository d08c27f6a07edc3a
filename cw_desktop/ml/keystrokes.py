"""The simulated writer: how much typing a suggester saves on a text the writer was going to write.

The writer types `text` character by character. It pauses at the start of every word (after the
space) and, as writers do, inside long words; at each pause it asks the suggester for ghost text
and takes the longest run of whole words of it that matches what it was about to type, paying
one keystroke per word taken (the editor's accept-word key). Keystroke savings are

    (characters taken - keystrokes spent taking) / characters of the text

so a suggester that is never right saves 0% and one that is always right approaches 100%.
Pure Python, no model: bench/keystrokes.py and the fine-tune report plug a Generator in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# (text before the cursor, the text the writer is about to type) -> ghost text. The second argument
# is for measuring only: a suggester may use it to stop decoding once it has diverged.
Suggester = Callable[[str, str], str]

_SEGMENT = re.compile(r"\s*\S+")
_WORD = re.compile(r"\S+")
INSIDE_WORD_MIN = 8  # words this long also get a pause inside them...
INSIDE_WORD_AFTER = 3  # ...after their first few characters


@dataclass
class TypingResult:
    chars: int = 0  # characters of the text typed (or taken)
    taken_chars: int = 0
    taking_keys: int = 0  # one per word taken
    pauses: int = 0
    first_word_right: int = 0  # pauses whose suggestion began with the right word
    words_taken: int = 0
    suggestions: list[str] = field(default_factory=list)

    @property
    def keystrokes(self) -> int:
        return self.chars - self.taken_chars + self.taking_keys

    @property
    def savings(self) -> float:
        return (self.taken_chars - self.taking_keys) / self.chars if self.chars else 0.0

    @property
    def first_word_accuracy(self) -> float:
        return self.first_word_right / self.pauses if self.pauses else 0.0

    @property
    def mean_words_taken(self) -> float:
        """Words taken per suggestion that was taken at all."""
        return self.words_taken / self.first_word_right if self.first_word_right else 0.0

    def merge(self, other: "TypingResult") -> "TypingResult":
        return TypingResult(self.chars + other.chars, self.taken_chars + other.taken_chars,
                            self.taking_keys + other.taking_keys, self.pauses + other.pauses,
                            self.first_word_right + other.first_word_right, self.words_taken + other.words_taken,
                            self.suggestions + other.suggestions)


def words_matched(suggestion: str, upcoming: str) -> tuple[int, int]:
    """(words, characters) of the longest run of whole words of `suggestion` that `upcoming` starts
    with. A word counts only if `upcoming` has a word end there too: "storm" is no help for "storms"."""
    words = chars = 0
    for segment in _SEGMENT.findall(suggestion):
        end = chars + len(segment)
        if not upcoming.startswith(segment, chars) or (end < len(upcoming) and not upcoming[end].isspace()):
            break
        words, chars = words + 1, end
    return words, chars


def expected_typing_saved(full: str, ends: list[int], logprobs: list[float], *, skip: int = 0,
                          shown: int | None = None) -> float:
    """Characters a writer would save by taking this suggestion word by word, if the model's
    probabilities are right: the sum over its whole-word prefixes of P(prefix) x (characters -
    words), the same count as `words_matched` and `simulate_writer`.

    `full`: the decoded tokens; `ends[i]`: len of the decoding of tokens[:i + 1]; `logprobs[i]`:
    token i's log-probability; `skip`: leading characters that are not shown (a healed word's
    start the writer already typed); `shown`: how many characters after `skip` are shown.
    """
    shown = len(full) - skip if shown is None else shown
    total = cumulative = 0.0
    for index, (end, logprob) in enumerate(zip(ends, logprobs)):
        cumulative += logprob
        visible = full[skip:end]
        if len(visible) > shown:
            break
        last = index == len(ends) - 1
        if not (last or full[end:end + 1].isspace()):  # a word ends only where whitespace follows
            continue
        words = len(_WORD.findall(visible))
        if words:
            total += math.exp(cumulative) * (len(visible.rstrip()) - words)
    return total


def pause_points(text: str) -> list[int]:
    """Where the writer stops to look at ghost text: every word start but the first, and inside long words."""
    points = []
    for match in _WORD.finditer(text):
        if match.start() > 0:
            points.append(match.start())
        if len(match.group()) >= INSIDE_WORD_MIN:
            points.append(match.start() + INSIDE_WORD_AFTER)
    return points


def simulate_writer(text: str, suggest: Suggester, *, prefix: str = "") -> TypingResult:
    """Type `text` (after an already written `prefix`) with `suggest` offering ghost text at each pause."""
    result = TypingResult(chars=len(text))
    position = 0
    for point in pause_points(text):
        if point < position:  # inside a run of words just taken
            continue
        position = point
        suggestion = suggest(prefix + text[:position], text[position:])
        result.pauses += 1
        result.suggestions.append(suggestion)
        words, chars = words_matched(suggestion, text[position:])
        if words:
            result.first_word_right += 1
            result.words_taken += words
            result.taken_chars += chars
            result.taking_keys += words
            position += chars
    return result


def held_out_openings(texts: list[str], words: int, per_text: int = 200, min_words: int = 60) -> list[str]:
    """The first words of held-out chapters, worth ~`words` in all (several openings, so that both
    short and longer drafts count)."""
    openings, total = [], 0
    for text in texts:
        chapter_words = text.split(" ")
        if len(chapter_words) < min_words or total >= words:
            continue
        take = min(per_text, words - total)
        openings.append(" ".join(chapter_words[:take]))
        total += take
    return openings


def measure_engine(engine: Any, texts: list[str], settings: Any, *, keep_every: int = 0) -> tuple[TypingResult, list[tuple[str, str]]]:
    """Type `texts` with `engine.suggest` (a Generator) offering ghost text.

    Decoding stops once a suggestion has left the writer's text: no further word could be taken,
    so the count is the same, ~3x cheaper. Every `keep_every`-th suggestion is decoded in full and
    returned with its draft, for a junk rate of what the writer would see.
    """
    complete: list[tuple[str, str]] = []
    pauses = [0]

    def suggest(before: str, upcoming: str) -> str:
        pauses[0] += 1
        if keep_every and pauses[0] % keep_every == 0:
            text = engine.suggest(before, settings)[0].text
            complete.append((before, text))
            return text
        streamed = [""]

        def on_token(_index: int, text: str) -> None:
            streamed[0] = text

        def diverged() -> bool:  # not while several openings are weighed: the one shown may change
            return (bool(streamed[0]) and not upcoming.startswith(streamed[0])
                    and not getattr(getattr(engine, "last_stats", None), "weighing", False))

        return engine.suggest(before, settings, on_token=on_token, should_stop=diverged)[0].text

    total = TypingResult()
    for text in texts:
        engine.reset()
        total = total.merge(simulate_writer(text, suggest))
    return total, complete
