"""Preference pairs from the suggestion log: at one place in a draft, what the writer chose over
what they turned down. The preference step (ml/preferences.py) trains on them; the fine-tune dialog
counts them. Plain data, no torch.

A pair is (context, chosen, rejected):
- chosen: an accepted suggestion; for a partial acceptance, the words taken plus what the writer
  typed next; for a typed-over suggestion, what the writer typed instead (its after_text).
- rejected: a suggestion dismissed (Esc, cursor moved, swapped out) or typed over; for a partial
  acceptance, the whole suggestion the writer cut short.
Pairs are formed within one place (the same context tail): every chosen text against every
rejected one there, plus each partial / typed-over event against its own suggestion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Fewer than this and the held-out accuracy is a coin toss, and a few pairs would be overfitted.
MIN_PAIRS = 10
HELD_OUT_SHARE = 0.2
# A retry spree at one place would otherwise dominate the training signal.
MAX_PAIRS_PER_PLACE = 8
# Both sides are cut to about this: the preference is in the next words, and equal-sized sides
# keep the comparison from favouring whichever is shorter.
MAX_CONTINUATION_CHARS = 160


@dataclass(frozen=True)
class PreferencePair:
    context: str
    chosen: str
    rejected: str
    time: str = ""  # the later of the two events' times
    source: str = ""  # "accepted", "partial" or "typed_over": where the chosen text came from

    @property
    def place(self) -> str:
        return normalised(self.context)


@dataclass(frozen=True)
class PairSplit:
    train: list[PreferencePair]
    held_out: list[PreferencePair]

    @property
    def total(self) -> int:
        return len(self.train) + len(self.held_out)


class TooFewPairsError(ValueError):
    """The log holds too few pairs to learn from; the message says how many and what to do."""


def normalised(text: str) -> str:
    return " ".join(text.split())


def clip(text: str, chars: int = MAX_CONTINUATION_CHARS) -> str:
    """At most ~`chars` characters, cut at a word end (a half word would be a made-up token run)."""
    if len(text) <= chars:
        return text
    cut = text[:chars]
    space = cut.rfind(" ")
    return cut[:space] if space > 0 else cut


def _chosen_of(event: dict[str, Any]) -> str:
    outcome = event.get("outcome")
    accepted = str(event.get("accepted_text") or "")
    after = str(event.get("after_text") or "")
    if outcome == "accepted" and not event.get("swapped_out"):
        return accepted or str(event.get("suggestion") or "")
    if outcome == "partial" and after.strip():
        return accepted + after
    if outcome == "typed_over" and after.strip():
        return after
    return ""


def _rejected_of(event: dict[str, Any]) -> str:
    outcome = event.get("outcome")
    if outcome in ("rejected", "typed_over") or (outcome == "accepted" and event.get("swapped_out")):
        return str(event.get("suggestion") or "")
    if outcome == "partial" and str(event.get("after_text") or "").strip():
        return str(event.get("suggestion") or "")  # the part the writer did not want came with it
    return ""


def extract_pairs(events: Iterable[dict[str, Any]], *, max_chars: int = MAX_CONTINUATION_CHARS,
                  max_per_place: int = MAX_PAIRS_PER_PLACE) -> list[PreferencePair]:
    """Deduplicated pairs in log order; none where chosen is empty or reads the same as rejected."""
    places: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        places.setdefault(normalised(str(event.get("context_tail") or "")), []).append(event)
    pairs: list[PreferencePair] = []
    seen: set[tuple[str, str, str]] = set()

    def add(context: str, chosen_event: dict[str, Any], rejected_event: dict[str, Any], budget: list[int]) -> None:
        chosen = clip(_chosen_of(chosen_event), max_chars)
        rejected = clip(_rejected_of(rejected_event), max_chars)
        key = (normalised(context), normalised(chosen), normalised(rejected))
        if not key[1] or not key[2] or key[1] == key[2] or key in seen or budget[0] <= 0:
            return
        seen.add(key)
        budget[0] -= 1
        time = max(str(chosen_event.get("time") or ""), str(rejected_event.get("time") or ""))
        pairs.append(PreferencePair(context, chosen, rejected, time, str(chosen_event.get("outcome"))))

    for place_events in places.values():
        context = str(place_events[-1].get("context_tail") or "")
        budget = [max_per_place]
        # The writer's own correction of a suggestion is the most direct evidence: first.
        for event in place_events:
            if event.get("outcome") in ("partial", "typed_over"):
                add(context, event, event, budget)
        for chosen_event in place_events:
            if not _chosen_of(chosen_event):
                continue
            for rejected_event in place_events:
                if rejected_event is not chosen_event and _rejected_of(rejected_event):
                    add(context, chosen_event, rejected_event, budget)
    return pairs


def _rank(place: str) -> str:
    return hashlib.sha256(place.encode("utf-8", "surrogatepass")).hexdigest()


def split_pairs(pairs: list[PreferencePair], held_out_share: float = HELD_OUT_SHARE) -> PairSplit:
    """Held out by place, from a hash of the context: stable as the log grows (a pair never moves
    sides), and no place is on both sides (its pairs share their context, a near-copy)."""
    places = sorted({pair.place for pair in pairs}, key=_rank)
    threshold = int(held_out_share * 2**32)
    held = {place for place in places if int(_rank(place)[:8], 16) < threshold}
    if not held and len(places) > 1:
        held = {places[0]}  # a small log: still one place to measure on
    return PairSplit(train=[p for p in pairs if p.place not in held], held_out=[p for p in pairs if p.place in held])


def too_few_message(count: int, log_path: Any, minimum: int = MIN_PAIRS) -> str:
    return (f"Only {count} pair(s) of a suggestion you took (or your own words) against one you turned down "
            f"are in the suggestion log {log_path}; learning from your choices needs at least {minimum}. "
            "Keep writing with suggestions (accept, dismiss or type over them), then try again. "
            "Nothing was trained.")


def pairs_from_log(log_path: Any, minimum: int = MIN_PAIRS) -> PairSplit:
    """The log's pairs, split; TooFewPairsError (nothing to train) below `minimum` or without both sides."""
    from cw_desktop.core.suggestion_log import SuggestionLog

    pairs = extract_pairs(SuggestionLog(log_path).read())
    split = split_pairs(pairs)
    if len(pairs) < minimum or not split.train or not split.held_out:
        raise TooFewPairsError(too_few_message(len(pairs), log_path, minimum))
    return split


def count_pairs(log_path: Any) -> int:
    """How many pairs the log holds (the fine-tune dialog's checkbox shows it)."""
    from cw_desktop.core.suggestion_log import SuggestionLog

    try:
        return len(extract_pairs(SuggestionLog(log_path).read()))
    except OSError:
        return 0
