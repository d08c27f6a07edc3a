"""Which lorebook entries go into the context for a draft, in what order, and which ones fit.

An entry fires when one of its keys appears in the last `scan_chars` characters before the cursor:
case-insensitively and as a whole word ("Ann" fires on "ann's" but not on "Annabel"), or as a
regular expression for a `regex` entry. Fired entries go in front of the draft ordered by priority
(highest first), then in the lorebook's own order: a stable order, so a keystroke that fires no
new entry leaves every lore token where it was and the model's cached prefix stays valid.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cw_desktop.core.story_context import LoreEntry


@dataclass
class LoreScan:
    fired: list[LoreEntry] = field(default_factory=list)  # in insertion order
    problems: list[str] = field(default_factory=list)  # keys that could not be used, with why


@dataclass
class LoreFit:
    kept: list[LoreEntry] = field(default_factory=list)  # in insertion order
    dropped: list[LoreEntry] = field(default_factory=list)  # over budget, lowest priority first
    tokens: int = 0  # what the kept entries take


@functools.lru_cache(maxsize=1024)
def key_pattern(key: str, regex: bool) -> re.Pattern[str]:
    """The compiled search for one key; raises re.error for a regex key that does not compile."""
    if regex:
        return re.compile(key, re.IGNORECASE)
    # (?<!\w) / (?!\w) rather than \b: a key may itself start or end with punctuation ("Dr.").
    # The words of a key may be split by any run of spaces or a line break in the draft.
    words = r"\s+".join(re.escape(word) for word in key.split())
    return re.compile(r"(?<!\w)" + words + r"(?!\w)", re.IGNORECASE)


def insertion_order(entries: Sequence[LoreEntry]) -> list[LoreEntry]:
    """Highest priority first; equal priorities keep the lorebook's order (sorted() is stable)."""
    return sorted(entries, key=lambda entry: -entry.priority)


def scan(entries: Sequence[LoreEntry], draft: str, scan_chars: int) -> LoreScan:
    """The enabled entries whose keys appear in the last `scan_chars` characters of `draft`."""
    window = draft[-scan_chars:] if scan_chars > 0 else ""
    result = LoreScan()
    for entry in insertion_order(entries):
        if not entry.enabled or not entry.text.strip():
            continue
        for key in entry.keys:
            if not key.strip():
                continue
            try:
                pattern = key_pattern(key, entry.regex)
            except re.error as exc:
                result.problems.append(f"{entry.name or 'An unnamed entry'}: the key {key!r} is not a valid "
                                       f"regular expression ({exc})")
                continue
            if pattern.search(window):
                result.fired.append(entry)
                break
    return result


def fit_budget(entries: Sequence[LoreEntry], count_tokens: Callable[[LoreEntry], int], budget: int) -> LoreFit:
    """Drop the lowest-priority entries (the last in insertion order) until the rest fit in `budget`
    tokens. An entry of higher priority is never dropped while one of lower priority stays."""
    ordered = insertion_order(entries)
    sizes = [count_tokens(entry) for entry in ordered]
    total = sum(sizes)
    keep = len(ordered)
    while keep > 0 and total > budget:
        keep -= 1
        total -= sizes[keep]
    return LoreFit(kept=ordered[:keep], dropped=list(reversed(ordered[keep:])), tokens=total)
