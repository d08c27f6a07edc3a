"""Decoding constraints shared by every backend: banned phrases and the DRY repetition penalty.

Banned phrases are matched on the text, not on token ids: one phrase has many tokenisations
(" Suddenly", "Sud" + "denly", "SUDD" + "EN" + "LY"), so a list of banned token sequences would
always miss one. The decoding loop (ml/decoding.py) asks `BannedPhrases.find` after every token and,
on a hit, rolls the row back to the token where the phrase started and bans that token there.

DRY ("Don't Repeat Yourself", as in text-generation-webui and KoboldCpp) lowers the score of a
token that would extend a run of tokens already present earlier in the context:
penalty = multiplier * base ** (match_length - allowed_length), for match_length >= allowed_length,
where match_length is how many tokens before the candidate repeat an earlier passage.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import numpy as np

from cw_desktop.core.generation_settings import clean_banned_phrases

# Typographic variants count as the same phrase: "don’t" is banned with "don't". One character
# for one, so positions in the normalised text are positions in the original.
_SAME_CHARACTER = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"', "\u00a0": " "})
DRY_MAX_MATCH = 48  # longer repeats are penalised as this long: the penalty is already prohibitive


def normalise(text: str) -> str:
    return text.translate(_SAME_CHARACTER)


class BannedPhrases:
    """Finds banned phrases in text: any case, any run of whitespace between words, typographic
    quotes as plain ones, and whole words only ("and" is not found in "sand")."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.phrases = [normalise(p) for p in clean_banned_phrases(phrases)]
        parts = []
        for phrase in self.phrases:
            body = r"\s+".join(re.escape(word) for word in phrase.split())
            before = r"(?<!\w)" if re.match(r"\w", phrase) else ""
            # A word at the very end of the text counts as whole: the row is rolled back as soon as
            # the phrase is complete, not one token later (a longer word like "suddenlyish" is rare).
            after = r"(?!\w)" if re.search(r"\w$", phrase) else ""
            parts.append(before + body + after)
        # A lookahead finds overlapping matches too ("a b" and "b c" in "a b c").
        self._pattern = re.compile("(?=(" + "|".join(parts) + "))", re.IGNORECASE) if parts else None
        self._lower = [p.casefold() for p in self.phrases]
        # Characters of text before a new token that a match ending in it may start from.
        self.reach = 2 * max((len(p) for p in self.phrases), default=0) + 8

    def __bool__(self) -> bool:
        return self._pattern is not None

    def find(self, text: str, new_from: int = 0) -> int | None:
        """Where the first banned phrase that ends after `new_from` starts in `text`, or None."""
        if self._pattern is None:
            return None
        text = normalise(text)
        for match in self._pattern.finditer(text, max(0, new_from - self.reach)):
            if match.end(1) > new_from:
                return match.start(1)
        return None

    def pending(self, text: str) -> int:
        """How many trailing characters of `text` could be the start of a banned phrase: streaming
        holds them back so a phrase the next token would complete never flashes up."""
        tail = normalise(text[-self.reach:]).casefold()
        held = 0
        for phrase in self._lower:
            for size in range(min(len(phrase) - 1, len(tail)), held, -1):
                start = len(tail) - size
                if tail.endswith(phrase[:size]) and (start == 0 or not (tail[start - 1].isalnum()
                                                                        and phrase[0].isalnum())):
                    held = size
                    break
        return held


@functools.lru_cache(maxsize=16)
def banned_phrases(phrases: tuple[str, ...]) -> BannedPhrases:
    """Compiled once per list: the same list comes with every keystroke's request."""
    return BannedPhrases(phrases)


class DryPenalty:
    """The DRY penalty for one request; `token_text` turns a token id into its text (for breakers)."""

    def __init__(self, multiplier: float, base: float, allowed_length: int, breakers: Sequence[str],
                 token_text: Callable[[int], str], breaker_cache: dict[int, bool] | None = None) -> None:
        self.multiplier = multiplier
        self.base = base
        self.allowed_length = max(1, allowed_length)
        self.breakers = tuple(b for b in breakers if b)
        self.token_text = token_text
        # Whether a token holds a sequence breaker: asked for the few hundred distinct tokens of a
        # context, so kept per engine rather than worked out for a whole vocabulary up front.
        self._is_breaker = breaker_cache if breaker_cache is not None else {}

    def is_breaker(self, token: int) -> bool:
        known = self._is_breaker.get(token)
        if known is None:
            text = self.token_text(token)
            known = self._is_breaker[token] = any(b in text for b in self.breakers)
        return known

    def penalties(self, sequence: Sequence[int]) -> dict[int, float]:
        """{token: penalty} for the next token after `sequence`."""
        n = len(sequence)
        if n < 2 or self.multiplier <= 0:
            return {}
        last = sequence[-1]
        if self.is_breaker(last):
            return {}
        longest: dict[int, int] = {}
        is_breaker = self.is_breaker
        # Every earlier occurrence of the last token may be the end of a repeat of the text just
        # written; walk back from each one while the two passages agree.
        for i in [i for i, token in enumerate(sequence[:-1]) if token == last]:
            length = 1
            while (length < DRY_MAX_MATCH and i - length >= 0
                   and sequence[i - length] == sequence[n - 1 - length]
                   and not is_breaker(sequence[i - length])):
                length += 1
            if length >= self.allowed_length:
                candidate = sequence[i + 1]
                if length > longest.get(candidate, 0):
                    longest[candidate] = length
        return {token: self.multiplier * self.base ** (length - self.allowed_length)
                for token, length in longest.items()}

    def apply(self, scores: np.ndarray, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Subtract the penalties from `scores` (B, V) in place, one sequence per row."""
        for row, sequence in enumerate(sequences):
            found = self.penalties(sequence)
            if found:
                tokens = [t for t in found if t < scores.shape[-1]]
                scores[row, tokens] -= np.array([found[t] for t in tokens], dtype=scores.dtype)
        return scores
