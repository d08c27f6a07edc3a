"""Order the alternatives a writer cycles through: most likely first, repeats and blanks last.

Alternative 0 is the ghost text already on screen (decoded greedily, streamed first), so it stays
where it is. The sampled alternatives 1.. are ranked by length-normalised log-probability under
the model (the mean log-probability of their tokens): a plain sum would favour the shortest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, TypeVar


class Ranked(Protocol):
    index: int
    text: str
    score: float  # mean log-probability per token


T = TypeVar("T", bound=Ranked)


def rank_alternatives(suggestions: Sequence[T]) -> list[T]:
    """`suggestions` with the first kept in place and the rest ranked; indexes renumbered in order."""
    if len(suggestions) <= 1:
        return list(suggestions)
    first = suggestions[0]
    by_score = sorted(suggestions[1:], key=lambda s: -s.score)  # stable: ties keep their order
    seen = {first.text.strip()}
    useful, useless = [], []
    for suggestion in by_score:
        text = suggestion.text.strip()
        (useless if not text or text in seen else useful).append(suggestion)
        seen.add(text)
    return [first] + [replace(s, index=first.index + 1 + n)  # type: ignore[type-var]
                      for n, s in enumerate(useful + useless)]
