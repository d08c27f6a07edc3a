"""The colour scale of the "sounds like you" gutter (plain Python: the GUI uses it without torch)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

MIN_SPREAD = 0.05  # nats per token: below this, differences between paragraphs are noise


def relative_scale(scores: Sequence[float | None]) -> tuple[float, float]:
    """(centre, spread) the gutter colours by: the document's median and the 90th percentile of the
    distance from it, so a writer sees which passages drift from the rest of their own text."""
    values = sorted(s for s in scores if s is not None)
    if not values:
        return 0.0, 1.0
    centre = statistics.median(values)
    distances = sorted(abs(v - centre) for v in values)
    spread = distances[min(len(distances) - 1, int(0.9 * len(distances)))]
    return centre, max(spread, MIN_SPREAD)
