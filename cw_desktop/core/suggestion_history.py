"""Every suggestion shown at a place in a document, so the writer can ask again (Retry), go back to
an earlier one, or swap an accepted one for another.

A place is named by the draft just before the cursor - its last ANCHOR_CHARS characters. Edits
elsewhere (an earlier chapter, the text after the cursor) leave the name unchanged, so the
history survives them; a change to the words right before the cursor makes it a different place,
where the earlier suggestions would no longer follow on.

Plain data (no Qt): the GUI keeps one SuggestionHistory per open document, in memory only; the
suggestion log keeps the permanent record.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from cw_desktop.core.generation_settings import GenerationSettings

ANCHOR_CHARS = 200
# A writer retrying a dozen times at one place is exploring; more than this is noise to scroll through.
MAX_PER_PLACE = 24
# Places visited in one session, newest kept: the oldest are far behind the writer.
MAX_PLACES = 200
# A retry must be able to differ: greedy decoding (temperature 0) would repeat the first answer.
RETRY_MIN_TEMPERATURE = 0.8


def place_key(text_before_cursor: str, chars: int = ANCHOR_CHARS) -> str:
    """The name of the place a suggestion was asked for: the draft's last `chars` characters."""
    return text_before_cursor[-chars:] if chars > 0 else ""


def same_text(a: str, b: str) -> bool:
    # Suggestions differing only in spacing read the same to a writer: one card is enough.
    return " ".join(a.split()) == " ".join(b.split())


@dataclass
class HistoryEntry:
    text: str
    attempt: int  # which request at this place produced it: 1 = the first ask, 2.. = later asks
    copies: str | None = None  # "copies your <chapter>" when the model recited training text


@dataclass
class PlaceHistory:
    entries: list[HistoryEntry] = field(default_factory=list)
    attempts: int = 0  # requests made here, including ones that brought nothing new

    def is_new(self, entry: HistoryEntry) -> bool:
        """From the latest request, when there were earlier ones (what the panel marks "new")."""
        return self.attempts > 1 and entry.attempt == self.attempts

    def texts(self) -> list[str]:
        return [entry.text for entry in self.entries]


class SuggestionHistory:
    """One document's suggestions, by place."""

    def __init__(self, max_places: int = MAX_PLACES, max_per_place: int = MAX_PER_PLACE) -> None:
        self.max_places = max_places
        self.max_per_place = max_per_place
        self._places: OrderedDict[str, PlaceHistory] = OrderedDict()

    def place(self, key: str) -> PlaceHistory:
        """The history at `key` (empty when nothing was suggested there)."""
        return self._places.get(key) or PlaceHistory()

    def start_attempt(self, key: str) -> int:
        """A request is going out at `key`: its attempt number there (1 for the first)."""
        place = self._touch(key)
        place.attempts += 1
        return place.attempts

    def add(self, key: str, texts: list[str], attempt: int,
            copies: list[str | None] | None = None) -> list[HistoryEntry]:
        """Keep the suggestions a request brought; returns those that were not there already."""
        place = self._touch(key)
        added = []
        for index, text in enumerate(texts):
            if not text.strip() or any(same_text(text, entry.text) for entry in place.entries):
                continue
            copied = copies[index] if copies and index < len(copies) else None
            entry = HistoryEntry(text=text, attempt=attempt, copies=copied)
            place.entries.append(entry)
            added.append(entry)
        del place.entries[:max(0, len(place.entries) - self.max_per_place)]
        return added

    def contains(self, key: str, text: str) -> bool:
        return any(same_text(text, entry.text) for entry in self.place(key).entries)

    def __len__(self) -> int:
        return len(self._places)

    def _touch(self, key: str) -> PlaceHistory:
        place = self._places.pop(key, None) or PlaceHistory()
        self._places[key] = place
        while len(self._places) > self.max_places:
            self._places.popitem(last=False)
        return place


def retry_settings(settings: GenerationSettings, seed: int | None = None) -> GenerationSettings:
    """How a retry asks: every alternative sampled, with a fresh seed, warm enough to differ."""
    return replace(settings, greedy_first=False, seed=random.randrange(2**31) if seed is None else seed,
                   temperature=max(settings.temperature, RETRY_MIN_TEMPERATURE))


@dataclass(frozen=True)
class AcceptedSpan:
    """A suggestion the writer accepted: where it went in and what it said."""

    key: str  # the place it was suggested for
    text: str  # what went into the document
    typed: bool = False  # the writer typed some of it themselves (typing through the ghost)


def swap_refusal(span: AcceptedSpan, text_now: str) -> str:
    """Why the accepted text must not be swapped ("" when it may). `text_now` is what the document
    holds now between the accepted text's start and end markers (text typed after it is outside)."""
    if span.typed:
        return "You typed part of that suggestion yourself: swapping it would remove your typing"
    if not text_now:
        return "The accepted suggestion is no longer in the text: nothing to swap"
    if text_now != span.text:
        return "You edited the accepted suggestion: swapping it would remove your changes"
    return ""


def swap_candidate(texts: list[str], current: str, step: int = 1) -> int | None:
    """Index of the entry `step` places after the one matching `current` (wrapping round), skipping
    entries that read the same as it; None when there is no other one."""
    if not texts:
        return None
    here = next((i for i, text in enumerate(texts) if same_text(text, current)), None)
    start = here if here is not None else (-1 if step > 0 else 0)
    for offset in range(1, len(texts) + 1):
        candidate = (start + step * offset) % len(texts)
        if not same_text(texts[candidate], current) and texts[candidate].strip():
            return candidate
    return None
