"""Durations and sizes as a writer reads them (the one place these are formatted)."""

from __future__ import annotations

import math


def format_duration(seconds: float | None, *, rough: bool = False) -> str:
    """A measured duration ("10 min 40 s", "1 h 05 min") or, with `rough`, an estimate or ETA that
    should not pretend to precision ("40 s", "12 min", "1.5 h", "3.2 days"). "—" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if rough:
        if seconds < 90:
            return f"{max(1, round(seconds))} s"
        if seconds < 90 * 60:
            return f"{round(seconds / 60)} min"
        if seconds < 48 * 3600:
            return f"{seconds / 3600:.1f} h"
        return f"{seconds / 86400:.1f} days"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def format_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
