"""User settings: typed dataclasses persisted as a readable TOML file in the config folder.

A hand-edited file with a typo or a wrong type must not stop the app from starting, so loading
falls back to the default for any value it cannot use and remembers why (`Settings.problems`).
Each value is checked against its declared type (list items too) and its sensible range, so a
bad value never reaches the code that uses it. Since the app rewrites the file, a file with
problems is first copied aside (`settings.toml.broken-<date>`, `Settings.kept_copy`).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from cw_desktop.core.atomic import atomic_write_bytes, atomic_write_text
from cw_desktop.core.regular_files import read_regular_file

MAX_SETTINGS_BYTES = 4 * 1024 * 1024  # window geometry and a few lists: far less in practice


@dataclass
class EditorSettings:
    font_family: str = "serif"
    font_size: int = 14
    theme: str = "light"  # "light" | "dark"
    line_width_chars: int = 80  # text column width in distraction-free mode
    autosave_seconds: int = 30
    recent_files: list[str] = field(default_factory=list)
    recent_projects: list[str] = field(default_factory=list)  # project folders, most recent first
    open_project: str = ""  # the project open when the editor closed: it opens again at the next start
    soft_wrap: bool = True
    voice_gutter: bool = False  # View ▸ Sounds like you: the fine-tune-vs-base bar beside each paragraph
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
    # Mix in the names and phrases of the other manuscripts in the open document's folder.
    use_project_vocabulary: bool = True
    # Never suggested or written, in any case (core.generation_settings.GenerationSettings).
    banned_phrases: list[str] = field(default_factory=list)
    # DRY anti-repetition strength (0 = off) and the longest repeat it lets pass, in tokens.
    dry_multiplier: float = 0.8
    dry_allowed_length: int = 2


@dataclass
class KeySettings:
    accept: str = "Tab"
    accept_word: str = "Ctrl+Right"
    dismiss: str = "Esc"
    next_alternative: str = "Alt+]"
    previous_alternative: str = "Alt+["
    suggest_now: str = "Ctrl+Space"
    # Window shortcuts (they work with or without a suggestion showing); see gui/history_controller.py.
    retry: str = "Alt+R"
    swap: str = "Alt+W"


@dataclass
class ModelSettings:
    # "bundled", a hub id such as "gpt2", or a path to a save_pretrained folder.
    spec: str = "bundled"
    # int8 dynamic quantisation for faster decoding (see docs/benchmarks.md for the cost).
    quantize: bool = False
    # Hub downloads happen only when the writer asks; this never turns network access on by itself.
    allow_downloads: bool = False
    # "auto" (llama.cpp when installed and the model converts, else torch), "torch" or "llamacpp".
    inference_backend: str = "auto"
    # Run the model in its own process (workers/inference_process.py): the window never imports
    # torch (no stalls while a model loads) and a crashing runtime cannot take the editor down.
    # "auto" = on, "on", "off" (in the window's process, on a thread).
    inference_process: str = "auto"


@dataclass
class Settings:
    editor: EditorSettings = field(default_factory=EditorSettings)
    suggestions: SuggestionSettings = field(default_factory=SuggestionSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    problems: list[str] = field(default_factory=list, compare=False, repr=False)
    # Where the file with problems was copied before the app rewrites it (None: nothing kept).
    kept_copy: Path | None = field(default=None, compare=False, repr=False)

    # -- persistence -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> "Settings":
        settings = cls()
        if not path.exists():
            return settings
        try:
            data = read_regular_file(path, MAX_SETTINGS_BYTES)  # a FIFO here must not hang the start
        except OSError as exc:
            settings.problems.append(f"{path}: could not read settings ({exc}); using defaults")
            return settings
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            settings.problems.append(f"{path}: could not read settings ({exc}); using defaults")
            settings.kept_copy = keep_copy(path, data)
            return settings
        for section in dataclasses.fields(cls):
            if section.name in ("problems", "kept_copy"):
                continue
            values = raw.get(section.name, {})
            if not isinstance(values, dict):
                settings.problems.append(f"{path}: [{section.name}] is not a table; using defaults")
                continue
            _apply(getattr(settings, section.name), values, f"{path}: {section.name}", settings.problems)
        for key in raw:
            if key not in {f.name for f in dataclasses.fields(cls)} - {"problems", "kept_copy"}:
                settings.problems.append(f"{path}: [{key}]: unknown section, ignored")
        if settings.problems:
            settings.kept_copy = keep_copy(path, data)
        return settings

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("problems", None)
        data.pop("kept_copy", None)
        return data

    def save(self, path: Path) -> None:
        atomic_write_text(path, tomli_w.dumps(self.to_dict()))


# Values outside these ranges would make the app misbehave (a 0 ms timer, a negative font).
LIMITS: dict[str, tuple[float, float]] = {
    "font_size": (6, 96), "line_width_chars": (20, 400), "autosave_seconds": (1, 3600),
    "debounce_ms": (0, 60_000), "max_new_tokens": (1, 4096), "temperature": (0.0, 5.0),
    "top_p": (0.0, 1.0), "alternatives": (1, 10), "dry_multiplier": (0.0, 5.0), "dry_allowed_length": (1, 20)}
CHOICES: dict[str, tuple[str, ...]] = {"theme": ("light", "dark"), "inference_process": ("auto", "on", "off")}


def keep_copy(path: Path, data: bytes) -> Path | None:
    """Copy a settings file (content `data`) aside before the app rewrites it; one copy per content."""
    try:
        for existing in path.parent.glob(f"{path.name}.broken-*"):
            if existing.is_file() and existing.stat().st_size == len(data) and existing.read_bytes() == data:
                return existing
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        copy = path.with_name(f"{path.name}.broken-{stamp}")
        number = 1
        while copy.exists():  # never overwrite an earlier copy
            number += 1
            copy = path.with_name(f"{path.name}.broken-{stamp}-{number}")
        atomic_write_bytes(copy, data)
        return copy
    except OSError:
        return None


def _apply(target: Any, values: dict[str, Any], where: str, problems: list[str]) -> None:
    hints = typing.get_type_hints(type(target))
    known = {f.name for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in known:
            problems.append(f"{where}.{key}: unknown setting, ignored")
            continue
        checked, why = _check(key, value, hints[key])
        if why:
            problems.append(f"{where}.{key}: {why}")
        if checked is not _INVALID:
            setattr(target, key, checked)


_INVALID = object()


def _check(key: str, value: Any, kind: Any) -> tuple[Any, str]:
    """(value to use or _INVALID, problem or ""). List items that do not fit are dropped one by one."""
    default_note = "; using default"
    if typing.get_origin(kind) is list:
        if not isinstance(value, list):
            return _INVALID, f"expected a list, got {value!r:.80}{default_note}"
        item_kind = typing.get_args(kind)[0]
        good = [item for item in value if _fits(item, item_kind)]
        bad = [item for item in value if not _fits(item, item_kind)]
        return good, (f"ignored {len(bad)} item(s) that are not {item_kind.__name__}: {bad!r:.80}" if bad else "")
    if not _fits(value, kind):
        return _INVALID, f"expected {kind.__name__}, got {value!r:.80}{default_note}"
    value = float(value) if kind is float else value
    if key in LIMITS:
        low, high = LIMITS[key]
        if not low <= value <= high or (isinstance(value, float) and math.isnan(value)):
            return _INVALID, f"{value!r} is outside {low:g}…{high:g}{default_note}"
    if key in CHOICES and value not in CHOICES[key]:
        return _INVALID, f"{value!r} is not one of {', '.join(CHOICES[key])}{default_note}"
    return value, ""


def _fits(value: Any, kind: Any) -> bool:
    # bool is a subclass of int: check it first so `true` never becomes a font size.
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)
