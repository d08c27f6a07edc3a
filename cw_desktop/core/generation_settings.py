"""Generation settings and presets: the one typed description of how a suggestion is made.

Plain data, no torch and no Qt, so every layer can hold it: the settings file (core), the side
panel (gui), the suggestion worker and the engine (ml, which re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

STOP_RULES = ("none", "sentence", "line", "paragraph", "turn")
# Tokens holding one of these end a repeat for the DRY penalty: a new line, a speaker label or a
# quotation mark starts something new, so "“Yes,” she said." may recur without being pushed away.
DRY_BREAKERS = ("\n", ":", '"', "“", "”", "*")
MAX_BANNED_PHRASES = 200


@dataclass
class GenerationSettings:
    max_new_tokens: int = 24
    temperature: float = 0.8  # 0 = greedy
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.15
    seed: int | None = None
    alternatives: int = 1
    stop: str = "sentence"
    # Ghost text (alternative 0) takes the most likely words, greedily and without the repetition
    # penalty: sampling it at temperature 0.8 threw away a third of the typing it saves
    # (bench/keystrokes.py). Alternatives 1.. keep the temperature and penalty for variety.
    greedy_first: bool = True
    # Ghost text chosen among the greedy continuations of this many best first tokens, by the
    # typing it is expected to save (ml/keystrokes.expected_typing_saved); 1 = plain greedy. The
    # presets weigh 3: +11% typing saved on held-out chapters (bench/keystrokes.py).
    ghost_choices: int = 1
    # Phrases never produced, in any case or tokenisation (ml/constraints.py, ml/decoding.py).
    banned_phrases: list[str] = field(default_factory=list)
    # DRY: a token that would extend a repeat of earlier text loses
    # dry_multiplier * dry_base ** (repeat length - dry_allowed_length) from its score; 0 = off.
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_sequence_breakers: list[str] = field(default_factory=lambda: list(DRY_BREAKERS))

    def validated(self) -> "GenerationSettings":
        if self.stop not in STOP_RULES:
            raise ValueError(f"Unknown stop rule {self.stop!r}; expected one of {', '.join(STOP_RULES)}")
        return replace(self, max_new_tokens=max(1, int(self.max_new_tokens)),
                       temperature=max(0.0, float(self.temperature)),
                       top_p=min(1.0, max(0.01, float(self.top_p))), top_k=max(0, int(self.top_k)),
                       repetition_penalty=max(1.0, float(self.repetition_penalty)),
                       alternatives=max(1, min(8, int(self.alternatives))),
                       ghost_choices=max(1, min(8, int(self.ghost_choices))),
                       banned_phrases=clean_banned_phrases(self.banned_phrases),
                       dry_multiplier=min(5.0, max(0.0, float(self.dry_multiplier))),
                       dry_base=min(4.0, max(1.0, float(self.dry_base))),
                       dry_allowed_length=min(20, max(1, int(self.dry_allowed_length))),
                       dry_sequence_breakers=[str(b) for b in self.dry_sequence_breakers if str(b)])


def clean_banned_phrases(phrases: Any) -> list[str]:
    """Stripped, non-empty, each once (ignoring case), at most MAX_BANNED_PHRASES of 200 characters."""
    if isinstance(phrases, str):  # one phrase per line, as typed in the panel
        phrases = phrases.splitlines()
    kept: list[str] = []
    seen: set[str] = set()
    for phrase in phrases or ():
        phrase = " ".join(str(phrase).split())[:200]
        if phrase and phrase.casefold() not in seen:
            seen.add(phrase.casefold())
            kept.append(phrase)
    return kept[:MAX_BANNED_PHRASES]


PRESETS: dict[str, GenerationSettings] = {
    # A sentence or two that carries the paragraph on; ends with the paragraph.
    "prose": GenerationSettings(max_new_tokens=24, temperature=0.8, top_p=0.95, top_k=50,
                                repetition_penalty=1.15, stop="paragraph", dry_multiplier=0.8, ghost_choices=3),
    # One line of verse at a time; a little hotter for imagery, lighter penalty so refrains survive
    # (and no DRY, which would push a refrain away).
    "poetry": GenerationSettings(max_new_tokens=16, temperature=0.9, top_p=0.95, top_k=60,
                                 repetition_penalty=1.05, stop="line", dry_multiplier=0.0, ghost_choices=3),
    # One speaker turn; cooler so voices stay consistent.
    "dialogue": GenerationSettings(max_new_tokens=32, temperature=0.7, top_p=0.92, top_k=40,
                                   repetition_penalty=1.15, stop="turn", dry_multiplier=0.8, ghost_choices=3),
}


def preset(name: str, **overrides: Any) -> GenerationSettings:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides).validated()
