"""Human assessment of a fine-tuned model: blind side-by-side ratings saved with the model.

For each sample prompt in report.json the results page shows the base model's and the tuned
model's text side by side. Which column holds the tuned model is drawn at random per prompt (from a
stored seed, so reopening the page shows the same layout) and hidden until the writer has rated,
so the writer judges the writing, not the label.

ratings.json lives in the model folder:
{
  "version": 1, "seed": 1234, "created": iso, "updated": iso,
  "pairs": [{"index": 0, "form": "poem", "prompt": "...", "tuned_column": "left" | "right",
             "preference": "tuned" | "base" | "same" | null,
             "scores": {"tuned": {"creativity": 1-5, "coherence": 1-5, "originality": 1-5},
                        "base": {...}},
             "rated_at": iso | null}]
}
Preferences and scores are stored resolved to tuned/base (not left/right) so the summary never
needs the layout.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cw_desktop.core.atomic import atomic_write_text

RATINGS_FILE = "ratings.json"
CRITERIA = ("creativity", "coherence", "originality")
COLUMNS = ("left", "right")
PREFERENCES = ("tuned", "base", "same")
FORMAT_VERSION = 1


class RatingsError(ValueError):
    """ratings.json is unreadable or a rating is out of range; the message says which."""


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


@dataclass
class PairRating:
    index: int
    form: str
    prompt: str
    tuned_column: str  # "left" | "right": where the tuned model's text is shown
    preference: str | None = None  # "tuned" | "base" | "same"
    # {"tuned": {"creativity": 4, ...}, "base": {...}}; missing criteria are unrated.
    scores: dict[str, dict[str, int]] = field(default_factory=lambda: {"tuned": {}, "base": {}})
    rated_at: str | None = None

    def role_of(self, column: str) -> str:
        """"tuned" or "base": which model wrote the text shown in `column`."""
        if column not in COLUMNS:
            raise RatingsError(f"unknown column {column!r}")
        return "tuned" if column == self.tuned_column else "base"

    def column_of(self, role: str) -> str:
        if role == "tuned":
            return self.tuned_column
        return "right" if self.tuned_column == "left" else "left"

    @property
    def is_complete(self) -> bool:
        return self.preference is not None and all(
            criterion in self.scores.get(role, {}) for role in ("tuned", "base") for criterion in CRITERIA)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "form": self.form, "prompt": self.prompt,
                "tuned_column": self.tuned_column, "preference": self.preference,
                "scores": {role: dict(self.scores.get(role, {})) for role in ("tuned", "base")},
                "rated_at": self.rated_at}


@dataclass
class Ratings:
    seed: int
    pairs: list[PairRating]
    created: str = field(default_factory=_now)
    updated: str | None = None

    # -- the writer's input, given in terms of what they saw (columns) --------------------------
    def rate(self, index: int, *, preferred_column: str | None,
             scores_by_column: dict[str, dict[str, int]]) -> PairRating:
        """Record one pair's rating. `preferred_column` is "left", "right" or None (no preference)."""
        pair = self.pairs[index]
        if preferred_column is None:
            pair.preference = "same"
        else:
            pair.preference = pair.role_of(preferred_column)
        resolved: dict[str, dict[str, int]] = {"tuned": {}, "base": {}}
        for column, scores in scores_by_column.items():
            role = pair.role_of(column)
            for criterion, value in scores.items():
                if criterion not in CRITERIA:
                    raise RatingsError(f"unknown criterion {criterion!r} (expected one of {', '.join(CRITERIA)})")
                if not isinstance(value, int) or not 1 <= value <= 5:
                    raise RatingsError(f"{criterion} must be a whole number from 1 to 5, got {value!r}")
                resolved[role][criterion] = value
        pair.scores = resolved
        pair.rated_at = _now()
        return pair

    @property
    def rated(self) -> list[PairRating]:
        return [pair for pair in self.pairs if pair.is_complete]

    def to_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "seed": self.seed, "created": self.created,
                "updated": self.updated, "pairs": [pair.to_dict() for pair in self.pairs]}


def assign_columns(count: int, seed: int) -> list[str]:
    """Which column shows the tuned model, per prompt: a fair coin per pair, reproducible from `seed`."""
    rng = random.Random(seed)
    return [rng.choice(COLUMNS) for _ in range(count)]


def new_ratings(samples: list[dict[str, Any]], seed: int | None = None) -> Ratings:
    """A blank, blind layout for report.json's samples ([{form, prompt, before, after}, ...])."""
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    columns = assign_columns(len(samples), seed)
    pairs = [PairRating(index=i, form=str(sample.get("form", "")), prompt=str(sample.get("prompt", "")),
                        tuned_column=column) for i, (sample, column) in enumerate(zip(samples, columns))]
    return Ratings(seed=seed, pairs=pairs)


def ratings_path(model_folder: Path) -> Path:
    return Path(model_folder) / RATINGS_FILE


def load_ratings(model_folder: Path) -> Ratings | None:
    """The folder's ratings.json, or None when the model was never rated."""
    path = ratings_path(model_folder)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        pairs = [_pair_from_dict(item) for item in raw["pairs"]]
        return Ratings(seed=int(raw["seed"]), pairs=pairs, created=str(raw.get("created") or _now()),
                       updated=raw.get("updated"))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RatingsError(f"{path} is unreadable ({exc}); delete it to rate the model again") from None


def _pair_from_dict(item: dict[str, Any]) -> PairRating:
    tuned_column = item["tuned_column"]
    if tuned_column not in COLUMNS:
        raise ValueError(f"tuned_column must be left or right, got {tuned_column!r}")
    preference = item.get("preference")
    if preference is not None and preference not in PREFERENCES:
        raise ValueError(f"preference must be one of {PREFERENCES}, got {preference!r}")
    scores = item.get("scores") or {}
    return PairRating(index=int(item["index"]), form=str(item.get("form", "")), prompt=str(item.get("prompt", "")),
                      tuned_column=tuned_column, preference=preference,
                      scores={role: {k: int(v) for k, v in (scores.get(role) or {}).items()}
                              for role in ("tuned", "base")},
                      rated_at=item.get("rated_at"))


def load_or_create_ratings(model_folder: Path, samples: list[dict[str, Any]], seed: int | None = None) -> Ratings:
    """Reuse the stored layout when it matches the samples, so a reopened page stays the same blind test."""
    try:
        existing = load_ratings(model_folder)
    except RatingsError:
        existing = None
    if existing is not None and [p.prompt for p in existing.pairs] == [str(s.get("prompt", "")) for s in samples]:
        return existing
    return new_ratings(samples, seed)


def save_ratings(model_folder: Path, ratings: Ratings) -> Path:
    ratings.updated = _now()
    path = ratings_path(model_folder)
    atomic_write_text(path, json.dumps(ratings.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return path


@dataclass
class RatingSummary:
    rated: int
    tuned_preferred: int
    base_preferred: int
    same: int
    # criterion -> mean score, per model; empty when nothing was rated
    tuned_means: dict[str, float]
    base_means: dict[str, float]

    @property
    def win_rate(self) -> float | None:
        """Share of rated pairs where the writer preferred the tuned model (ties count half)."""
        if not self.rated:
            return None
        return (self.tuned_preferred + 0.5 * self.same) / self.rated

    def short_text(self) -> str:
        """For a table cell: "tuned preferred 3/4"."""
        if not self.rated:
            return "not rated"
        return f"tuned preferred {self.tuned_preferred}/{self.rated}"

    def long_text(self) -> str:
        """Everything, for a tooltip: preferences and the mean 1-5 scores of both models."""
        if not self.rated:
            return "Not rated yet."
        means = "; ".join(f"{c} {self.tuned_means[c]:.1f} vs {self.base_means[c]:.1f}" for c in CRITERIA)
        return (f"Blind comparison of {self.rated} pairs: tuned preferred {self.tuned_preferred}, base preferred "
                f"{self.base_preferred}, about the same {self.same}. Mean scores, tuned vs base: {means}.")

    def to_dict(self) -> dict[str, Any]:
        return {"rated": self.rated, "tuned_preferred": self.tuned_preferred, "base_preferred": self.base_preferred,
                "same": self.same, "win_rate": self.win_rate, "tuned_means": self.tuned_means,
                "base_means": self.base_means}


def summarise(ratings: Ratings) -> RatingSummary:
    rated = ratings.rated

    def means(role: str) -> dict[str, float]:
        if not rated:
            return {}
        return {c: sum(pair.scores[role][c] for pair in rated) / len(rated) for c in CRITERIA}

    return RatingSummary(rated=len(rated),
                         tuned_preferred=sum(1 for p in rated if p.preference == "tuned"),
                         base_preferred=sum(1 for p in rated if p.preference == "base"),
                         same=sum(1 for p in rated if p.preference == "same"),
                         tuned_means=means("tuned"), base_means=means("base"))
