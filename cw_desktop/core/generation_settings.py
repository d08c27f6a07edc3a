"""Generation settings and presets: the one typed description of how a suggestion is made.

Plain data, no torch and no Qt, so every layer can hold it: the settings file (core), the side
panel (gui), the suggestion worker and the engine (ml, which re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

STOP_RULES = ("none", "sentence", "line", "paragraph", "turn")


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

    def validated(self) -> "GenerationSettings":
        if self.stop not in STOP_RULES:
            raise ValueError(f"Unknown stop rule {self.stop!r}; expected one of {', '.join(STOP_RULES)}")
        return replace(self, max_new_tokens=max(1, int(self.max_new_tokens)),
                       temperature=max(0.0, float(self.temperature)),
                       top_p=min(1.0, max(0.01, float(self.top_p))), top_k=max(0, int(self.top_k)),
                       repetition_penalty=max(1.0, float(self.repetition_penalty)),
                       alternatives=max(1, min(8, int(self.alternatives))))


PRESETS: dict[str, GenerationSettings] = {
    # A sentence or two that carries the paragraph on; ends with the paragraph.
    "prose": GenerationSettings(max_new_tokens=24, temperature=0.8, top_p=0.95, top_k=50,
                                repetition_penalty=1.15, stop="paragraph"),
    # One line of verse at a time; a little hotter for imagery, lighter penalty so refrains survive.
    "poetry": GenerationSettings(max_new_tokens=16, temperature=0.9, top_p=0.95, top_k=60,
                                 repetition_penalty=1.05, stop="line"),
    # One speaker turn; cooler so voices stay consistent.
    "dialogue": GenerationSettings(max_new_tokens=32, temperature=0.7, top_p=0.92, top_k=40,
                                   repetition_penalty=1.15, stop="turn"),
}


def preset(name: str, **overrides: Any) -> GenerationSettings:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides).validated()
