"""Durations as the writer reads them: measured ones exactly, estimates roughly."""

from __future__ import annotations

import math

from cw_desktop.core.units import format_duration, format_size


def test_a_measured_duration_is_exact() -> None:
    assert format_duration(640) == "10 min 40 s"
    assert format_duration(3900) == "1 h 05 min"
    assert format_duration(7) == "7 s"
    assert format_duration(None) == "—"


def test_an_estimate_does_not_pretend_to_precision() -> None:
    assert format_duration(0.2, rough=True) == "1 s"
    assert format_duration(640, rough=True) == "11 min"
    assert format_duration(5400, rough=True) == "1.5 h"
    assert format_duration(3 * 86400, rough=True) == "3.0 days"  # not "72.0 h"
    assert format_duration(math.inf, rough=True) == "—"


def test_sizes() -> None:
    assert format_size(512) == "512 B" and format_size(3 * 1024 ** 2) == "3.0 MB" and format_size(None) == "—"
