"""The suggestion log: what the history dialog and --include-accepted read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from cw_desktop.core.suggestion_log import SuggestionLog, make_event


def test_events_round_trip_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    log = SuggestionLog(tmp_path / "log" / "suggestions.jsonl")
    assert log.read() == []
    log.append(make_event(model="bundled", outcome="accepted", suggestion=" the sea.",
                          accepted_text=" the sea.", context="x" * 500 + "She looked at", after_text=" Then"))
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write('{"time": "2026-01-01", "outc')  # a crash mid-write
        handle.write("\n")
    log.append(make_event(model="bundled", outcome="rejected", suggestion=" nothing"))
    events = log.read()
    assert [e["outcome"] for e in events] == ["accepted", "rejected"]
    assert len(events[0]["context_tail"]) == 300 and events[0]["context_tail"].endswith("She looked at")
    assert set(events[0]) == {"time", "model", "outcome", "suggestion", "accepted_text", "context_tail",
                              "after_text"}


def test_acceptance_rates_per_model_and_training_texts(tmp_path: Path) -> None:
    log = SuggestionLog(tmp_path / "suggestions.jsonl")
    for outcome in ("accepted", "partial", "rejected", "typed_over"):
        log.append(make_event(model="bundled", outcome=outcome, suggestion=" a b c", accepted_text=" a b" if
                              outcome in ("accepted", "partial") else "", context="Once", after_text=" end."))
    log.append(make_event(model="/models/austen", outcome="accepted", suggestion=" x", accepted_text=" x"))
    table = log.acceptance_by_model()
    assert table["bundled"]["shown"] == 4 and table["bundled"]["rate"] == pytest.approx(0.5)
    assert table["/models/austen"]["rate"] == 1.0
    assert log.training_texts() == ["Once a b end.", "Once a b end.", "x"]
    log.wipe()
    assert log.read() == [] and not log.path.exists()


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown suggestion outcome"):
        make_event(model="m", outcome="liked", suggestion="s")
