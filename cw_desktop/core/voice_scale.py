"""The colour scale of the "sounds like you" gutter (plain Python: the GUI uses it without torch)."""

from __future__ import annotations

from collections.abc import Sequence

MIN_SPREAD = 0.05  # nats per token: below this, differences between paragraphs are noise


def relative_scale(scores: Sequence[float | None]) -> tuple[float, float]:
    """(centre, spread) the gutter colours by, from the document's own scores: the centre half-way
    between its 10th and 90th percentiles, the spread half that distance. A manuscript mostly in the
    writer's voice then shows those paragraphs green and the few that drift amber; a uniform one
    stays pale (the spread never falls below MIN_SPREAD), and a single outlier does not wash out the rest."""
    values = sorted(s for s in scores if s is not None)
    if not values:
        return 0.0, 1.0
    low = values[int(0.1 * (len(values) - 1))]
    high = values[round(0.9 * (len(values) - 1))]
    return (low + high) / 2, max((high - low) / 2, MIN_SPREAD)
