"""User settings: typed dataclasses persisted as a readable TOML file in the config folder.

A hand-edited file with a typo or a wrong type must not stop the app from starting, so loading
falls back to the default for any value it cannot use and remembers why (`Settings.problems`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from cw_desktop.core.atomic import atomic_write_text


@dataclass
class EditorSettings:
    font_family: str = "serif"
    font_size: int = 14
    theme: str = "light"  # "light" | "dark"
    line_width_chars: int = 80  # text column width in distraction-free mode
    autosave_seconds: int = 30
    recent_files: list[str] = field(default_factory=list)
    soft_wrap: bool = True
    # Qt's saveGeometry()/saveState() of the editor window, base64: it reopens where it was left.
    window_geometry: str = ""
    window_state: str = ""


@dataclass
class SuggestionSettings:
    auto_suggest: bool = True
    debounce_ms: int = 600
    preset: str = "prose"
    max_new_tokens: int = 24
    temperature: float = 0.8
    top_p: float = 0.95
    alternatives: int = 3
    show_side_panel: bool = False
    log_suggestions: bool = True


@dataclass
class KeySettings:
    accept: str = "Tab"
    accept_word: str = "Ctrl+Right"
    dismiss: str = "Esc"
    next_alternative: str = "Alt+]"
    previous_alternative: str = "Alt+["
    suggest_now: str = "Ctrl+Space"


@dataclass
class ModelSettings:
    # "bundled", a hub id such as "gpt2", or a path to a save_pretrained folder.
    spec: str = "bundled"
    # int8 dynamic quantisation for faster decoding (see docs/benchmarks.md for the cost).
    quantize: bool = False
    # Hub downloads happen only when the writer asks; this never turns network access on by itself.
    allow_downloads: bool = False


@dataclass
class Settings:
    editor: EditorSettings = field(default_factory=EditorSettings)
    suggestions: SuggestionSettings = field(default_factory=SuggestionSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    problems: list[str] = field(default_factory=list, compare=False, repr=False)

    # -- persistence -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> "Settings":
        settings = cls()
        if not path.exists():
            return settings
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            settings.problems.append(f"{path}: could not read settings ({exc}); using defaults")
            return settings
        for section in dataclasses.fields(cls):
            if section.name == "problems":
                continue
            values = raw.get(section.name, {})
            if not isinstance(values, dict):
                settings.problems.append(f"{path}: [{section.name}] is not a table; using defaults")
                continue
            _apply(getattr(settings, section.name), values, f"{path}: {section.name}", settings.problems)
        return settings

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("problems", None)
        return data

    def save(self, path: Path) -> None:
        atomic_write_text(path, tomli_w.dumps(self.to_dict()))


def _apply(target: Any, values: dict[str, Any], where: str, problems: list[str]) -> None:
    known = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in known:
            problems.append(f"{where}.{key}: unknown setting, ignored")
            continue
        current = getattr(target, key)
        # bool is a subclass of int: check it first so `true` never becomes a font size.
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(current, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(current, list):
            ok = isinstance(value, list)
        else:
            ok = isinstance(value, type(current))
        if ok:
            setattr(target, key, value)
        else:
            problems.append(f"{where}.{key}: expected {type(current).__name__}, got {value!r}; using default")
