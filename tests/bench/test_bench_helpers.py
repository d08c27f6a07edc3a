"""The benchmark harness's own arithmetic and formatting (bench/ is not a package: imported by path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
from latency import typing_steps  # noqa: E402


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert common.p90(values) == 9.0
    assert common.percentile(values, 1.0) == 10.0
    assert common.percentile([5.0], 0.9) == 5.0
    assert common.median([3.0, 1.0, 2.0]) == 2.0


def test_ratio_reads_as_times_faster() -> None:
    assert common.ratio(1.0, 0.1) == "10.0x"
    assert common.ratio(1.0, 0.0) == "–"
    assert common.ratio(float("nan"), 0.1) == "–"


def test_table_is_markdown_with_aligned_columns() -> None:
    text = common.table(["a", "long header"], [[1, 2], ["three", 4]])
    lines = text.splitlines()
    assert lines[0].startswith("| a ") and lines[1].startswith("|---")
    assert len({len(line) for line in lines}) == 1  # padded to the same width


def test_section_round_trips_through_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "OUT", tmp_path)
    section = common.Section("9. Example", "python bench/x.py", ["a table"])
    section.target("speed", ">= 1x", "1.2x", True)
    section.target("memory", "< 1 GB", "2 GB", False)
    section.save("example")
    again = common.load_section("example")
    assert again is not None and again.markdown() == section.markdown()
    assert "**missed**" in again.markdown() and "| met" in again.markdown()


def test_typing_steps_follow_the_text_in_small_chunks() -> None:
    text = "It is a truth universally acknowledged, that a single man in possession of a good fortune"
    steps = typing_steps(text, 6)
    assert "".join(steps) == text[:len("".join(steps))]
    assert all(2 <= len(s) <= 8 for s in steps)


def test_profile_frames_are_shortened_to_package_paths() -> None:
    frame = "forward (/work/main/.venv/lib/python3.11/site-packages/torch/nn/modules/linear.py:134)"
    assert common._short_frame(frame) == "forward (torch/nn/modules/linear.py:134)"
