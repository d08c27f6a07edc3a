"""The tokens a suggestion request puts in front of the model, and how its window is spent.

    [doc start] + Memory + fired lorebook entries + draft, with the author's note on its own line
    `authors_note_depth` paragraphs before the cursor

Everything the writer did not just type sits before the draft in a stable order (core/lorebook.py),
so a keystroke changes only the draft's last tokens and the engine's cached prefix stays valid.
The author's note is the exception by design (KoboldAI and NovelAI put it there because the model
heeds text near the cursor most): it moves with the paragraphs, so only starting a new paragraph
recomputes the few paragraphs after it.

Room: the suggestion's own length is kept free; Memory, lorebook and the note together take at
most half of the rest (Memory first, then the note, then entries by priority), so the draft always
keeps at least half. Entries that do not fit are dropped lowest priority first and named in the
TokenBudget, which the window gauge shows.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.lorebook import fit_budget, scan
from cw_desktop.core.story_context import StoryContext, as_story

MEMORY_SEPARATOR = "\n\n"
NOTE_NAME = "Author's note"


@dataclass
class TokenBudget:
    """How the model's window is spent for one request (all in tokens)."""

    window: int
    memory: int
    draft: int  # draft tokens actually given to the model
    reserved: int  # room kept for the suggestion itself
    draft_total: int = 0  # the whole draft, including what fell out of the window
    lorebook: int = 0
    authors_note: int = 0
    lore_entries: list[str] = field(default_factory=list)  # names of the entries in the window, in order
    dropped: list[str] = field(default_factory=list)  # fired but over budget (lowest priority first)
    problems: list[str] = field(default_factory=list)  # e.g. a lorebook key that is not a valid regex

    @property
    def free(self) -> int:
        return max(0, self.window - self.memory - self.lorebook - self.authors_note - self.draft - self.reserved)


@dataclass
class Prompt:
    ids: list[int]  # tokens fed to the model (healed token removed)
    heal_text: str  # raw token string the first generated token must start with ("" = none)
    heal_chars: int  # characters of draft text the healed token covered
    budget: TokenBudget
    heal_id: int | None = None  # the draft's own last token, removed for healing


class PromptEngine(Protocol):
    """What the assembly needs from the engine (ml/generation.py Generator)."""

    window: int
    _doc_start_id: int
    _special_ids: set[int]
    _token_strings: list[str]

    def _encode(self, text: str) -> list[int]: ...
    def _decode(self, ids: list[int]) -> str: ...
    def _trim_draft(self, draft: str, room: int) -> tuple[str, int, list[int] | None]: ...


def note_line(note: str) -> str:
    """The note as the model sees it, on a line of its own. A note the writer already bracketed
    ("[Style: terse]") is used as it is."""
    note = " ".join(note.split())
    if not note:
        return ""
    if note.startswith("[") and note.endswith("]"):
        return note + "\n"
    return f"[{NOTE_NAME}: {note}]\n"


_PARAGRAPH_BREAK = re.compile(r"\n+")
# Memory, note and entry texts rarely change between keystrokes, and a tokenizer call costs about a
# millisecond however short the text: ten entries would add ~10 ms to every request. Per engine
# (each has its own tokenizer), dropped with it.
_ENCODED: "weakref.WeakKeyDictionary[object, dict[str, list[int]]]" = weakref.WeakKeyDictionary()
MAX_ENCODED = 512


def encode_cached(engine: PromptEngine, text: str) -> list[int]:
    cache = _ENCODED.setdefault(engine, {})
    ids = cache.get(text)
    if ids is None:
        if len(cache) >= MAX_ENCODED:
            cache.clear()
        ids = cache[text] = engine._encode(text)
    return ids


def note_offset(draft: str, depth: int) -> int:
    """Where the note goes in `draft`: the start of the `depth`-th paragraph counted back from the
    cursor, the one being typed (possibly still empty) counting as the first. A draft with fewer
    paragraphs gets the note at its start."""
    starts = [0] + [match.end() for match in _PARAGRAPH_BREAK.finditer(draft)]
    return starts[max(0, len(starts) - max(1, depth))]


def build_prompt(engine: PromptEngine, context: str, settings: GenerationSettings,
                 story: StoryContext | str) -> Prompt:
    """The prompt tokens and budget for continuing `context` (the draft before the cursor)."""
    story = as_story(story)
    encode = engine._encode
    reserved = settings.max_new_tokens
    # Memory, lorebook and note share at most half of what the suggestion leaves.
    extras_room = max(0, (engine.window - reserved) // 2)
    memory = story.memory.strip()
    memory_ids = encode_cached(engine, memory + MEMORY_SEPARATOR)[:extras_room] if memory else []
    extras_room -= len(memory_ids)
    dropped: list[str] = []
    line = note_line(story.authors_note)
    note_ids = encode_cached(engine, line) if line else []
    if len(note_ids) > extras_room:
        dropped.append(NOTE_NAME)
        note_ids = []
    extras_room -= len(note_ids)
    lore = scan(story.lorebook, context, story.scan_chars)
    entry_ids = {id(entry): encode_cached(engine, entry.text.strip() + MEMORY_SEPARATOR) for entry in lore.fired}
    fit = fit_budget(lore.fired, lambda entry: len(entry_ids[id(entry)]), extras_room)
    dropped += [entry.name for entry in fit.dropped]
    lore_ids = [token for entry in fit.kept for token in entry_ids[id(entry)]]

    room = max(1, engine.window - 1 - len(memory_ids) - len(lore_ids) - len(note_ids) - reserved)
    draft, _offset, known_ids = engine._trim_draft(context, room)
    # Each encode of a 1,000-token draft costs a few ms per keystroke: reuse the trim's tokens.
    draft_ids = known_ids if known_ids is not None else encode(draft)
    draft_count = len(draft_ids)
    if len(draft_ids) > room:  # a pathological draft (no boundaries): hard cut
        draft_ids = draft_ids[-room:]
    before_ids, after_ids = (_split_at_note(engine, draft, draft_ids, story.authors_note_depth, room)
                             if note_ids else ([], draft_ids))

    heal_text, heal_chars, heal_id = "", 0, None
    # Token healing: the last token of the draft may be a fragment of a longer word (or a lone
    # space); re-generate it under the constraint that it starts with the same characters. Only
    # the writer's own text is healed: with the note right before the cursor, nothing is.
    if after_ids:
        last = after_ids[-1]
        raw = engine._token_strings[last]
        if raw and last not in engine._special_ids:
            heal_text, heal_id = raw, last
            heal_chars = len(engine._decode([last]))
            after_ids = after_ids[:-1]
    ids = [engine._doc_start_id] + memory_ids + lore_ids + before_ids + note_ids + after_ids
    kept = len(before_ids) + len(after_ids) + (1 if heal_text else 0)
    if len(context) <= len(draft):
        total = draft_count
    elif len(context) < room * 8:
        total = len(encode(context))
    else:  # a long draft: estimate the dropped part from the kept part's characters per token
        total = kept + round((len(context) - len(draft)) * kept / max(1, len(draft)))
    budget = TokenBudget(window=engine.window, memory=len(memory_ids), draft=kept, reserved=reserved,
                         draft_total=max(total, kept), lorebook=len(lore_ids), authors_note=len(note_ids),
                         lore_entries=[entry.name for entry in fit.kept], dropped=dropped, problems=lore.problems)
    return Prompt(ids=ids, heal_text=heal_text, heal_chars=heal_chars, budget=budget, heal_id=heal_id)


def _split_at_note(engine: PromptEngine, draft: str, draft_ids: list[int], depth: int,
                   room: int) -> tuple[list[int], list[int]]:
    """The draft's tokens before and after the note's place. The part after is short (a few
    paragraphs): encode only it and, when the draft's own tokens end with exactly those (they do
    whenever the tokenizer splits at the line start, as byte-level BPE does), reuse the rest."""
    after_text = draft[note_offset(draft, depth):]
    after_ids = engine._encode(after_text)[-room:]
    if not after_ids:
        return draft_ids, []
    if len(after_ids) <= len(draft_ids) and draft_ids[len(draft_ids) - len(after_ids):] == after_ids:
        return draft_ids[:len(draft_ids) - len(after_ids)], after_ids
    before_ids = engine._encode(draft[:len(draft) - len(after_text)])
    return before_ids[max(0, len(before_ids) - (room - len(after_ids))):], after_ids
