"""What the writer tells the model about a story besides the draft: Memory, the lorebook and the
author's note.

Plain data (picklable dataclasses): the GUI hands a StoryContext to the generation worker as it is,
and a project file or the app-data store keeps it as `to_dict()`. Reading one back
(`StoryContext.from_dict`) never raises: whatever cannot be used is left out and named in the
problems it returns, so one mistyped field in a project file costs that field, not the lorebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_NOTE_DEPTH = 3  # paragraphs back from the cursor, as KoboldAI's default
MAX_NOTE_DEPTH = 50
DEFAULT_SCAN_CHARS = 2000
MIN_SCAN_CHARS, MAX_SCAN_CHARS = 100, 100_000
MAX_PRIORITY = 1000


@dataclass
class LoreEntry:
    """One lorebook (world info) entry: `text` goes in front of the draft while one of `keys` appears
    near the cursor. Higher `priority` goes first and is the last to be dropped when room runs out."""

    name: str
    keys: list[str]
    text: str
    enabled: bool = True
    priority: int = 0
    regex: bool = False  # keys are regular expressions instead of whole words

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "keys": list(self.keys), "text": self.text, "enabled": self.enabled,
                "priority": self.priority, "regex": self.regex}


@dataclass
class StoryContext:
    memory: str = ""
    authors_note: str = ""
    authors_note_depth: int = DEFAULT_NOTE_DEPTH
    lorebook: list[LoreEntry] = field(default_factory=list)
    scan_chars: int = DEFAULT_SCAN_CHARS  # how far back from the cursor the lorebook keys are looked for

    def is_empty(self) -> bool:
        """Nothing worth storing: no Memory, no note, no entries, and the default settings."""
        return (not self.memory.strip() and not self.authors_note.strip() and not self.lorebook
                and self.authors_note_depth == DEFAULT_NOTE_DEPTH and self.scan_chars == DEFAULT_SCAN_CHARS)

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "authors_note": self.authors_note,
                "authors_note_depth": self.authors_note_depth, "scan_chars": self.scan_chars,
                "lorebook": [entry.to_dict() for entry in self.lorebook]}

    @classmethod
    def from_dict(cls, data: Any) -> tuple["StoryContext", list[str]]:
        """The story in `data` (as to_dict wrote it) and what could not be used, in words a writer
        can act on. Unknown keys are ignored (a newer version may add some)."""
        problems: list[str] = []
        if not isinstance(data, dict):
            return cls(), [f"expected an object with the story's Memory and lorebook, got {type(data).__name__}"]
        story = cls(memory=_text(data, "memory", problems), authors_note=_text(data, "authors_note", problems),
                    authors_note_depth=_number(data, "authors_note_depth", DEFAULT_NOTE_DEPTH, 1, MAX_NOTE_DEPTH,
                                               problems),
                    scan_chars=_number(data, "scan_chars", DEFAULT_SCAN_CHARS, MIN_SCAN_CHARS, MAX_SCAN_CHARS,
                                       problems))
        raw_entries = data.get("lorebook", [])
        if not isinstance(raw_entries, list):
            problems.append(f"'lorebook' should be a list of entries, not {type(raw_entries).__name__}; "
                            "the lorebook was left empty")
            raw_entries = []
        for position, raw in enumerate(raw_entries, start=1):
            entry, entry_problems = _entry_from_dict(raw, position)
            problems += entry_problems
            if entry is not None:
                story.lorebook.append(entry)
        return story, problems


def as_story(story: "StoryContext | str | None") -> StoryContext:
    """Callers that still pass only the Memory text get a story holding just that."""
    if isinstance(story, StoryContext):
        return story
    return StoryContext(memory=story or "")


def entry_problems(entry: LoreEntry) -> list[str]:
    """What keeps an entry from working as the writer expects: an error (a regex that does not
    compile) or a warning (no keys: it can never fire). Empty when all is well."""
    label = entry.name.strip() or "An unnamed entry"
    problems = []
    keys = [key for key in entry.keys if key.strip()]
    if not keys:
        problems.append(f"{label}: no keys, so it never goes into the context")
    if not entry.text.strip():
        problems.append(f"{label}: no text to put into the context")
    if entry.regex:
        for key in keys:
            try:
                re.compile(key)
            except re.error as exc:
                problems.append(f"{label}: the key {key!r} is not a valid regular expression ({exc})")
    return problems


def split_keys(text: str) -> list[str]:
    """Keys as typed in one field: separated by commas, spaces around them ignored."""
    return [key.strip() for key in text.split(",") if key.strip()]


# -- reading stored data ---------------------------------------------------------------------------

def _text(data: dict[str, Any], name: str, problems: list[str]) -> str:
    value = data.get(name, "")
    if isinstance(value, str):
        return value
    problems.append(f"'{name}' should be text, not {value!r:.40}; it was left empty")
    return ""


def _number(data: dict[str, Any], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"'{name}' should be a whole number, not {value!r:.40}; {default} is used")
        return default
    if not low <= value <= high:
        clamped = min(high, max(low, value))
        problems.append(f"'{name}' is {value}, outside {low}-{high}; {clamped} is used")
        return clamped
    return value


def _entry_from_dict(raw: Any, position: int) -> tuple[LoreEntry | None, list[str]]:
    where = f"lorebook entry {position}"
    if not isinstance(raw, dict):
        return None, [f"{where} is not an object ({raw!r:.40}); it was left out"]
    problems: list[str] = []
    name = raw.get("name", "")
    if not isinstance(name, str):
        problems.append(f"{where}: 'name' should be text, not {name!r:.40}")
        name = ""
    where = f"lorebook entry {position} ({name})" if name else where
    text = raw.get("text", "")
    if not isinstance(text, str):
        return None, problems + [f"{where}: 'text' should be text, not {text!r:.40}; the entry was left out"]
    keys = raw.get("keys", [])
    if isinstance(keys, str):
        keys = split_keys(keys)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return None, problems + [f"{where}: 'keys' should be a list of words, not {keys!r:.40}; "
                                 "the entry was left out"]
    flags = {}
    for flag, default in (("enabled", True), ("regex", False)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            problems.append(f"{where}: '{flag}' should be true or false, not {value!r:.40}; {default} is used")
            value = default
        flags[flag] = value
    priority = _number(raw, "priority", 0, -MAX_PRIORITY, MAX_PRIORITY, [])
    if priority != raw.get("priority", 0):
        problems.append(f"{where}: 'priority' should be a whole number from {-MAX_PRIORITY} to {MAX_PRIORITY}, "
                        f"not {raw.get('priority')!r:.40}; {priority} is used")
    entry = LoreEntry(name=name, keys=keys, text=text, priority=priority, **flags)
    # A regex that does not compile is kept (the writer may fix it) and named; it just never fires.
    problems += [f"{where}: {problem.split(': ', 1)[1]}" for problem in entry_problems(entry)
                 if "regular expression" in problem]
    return entry, problems
