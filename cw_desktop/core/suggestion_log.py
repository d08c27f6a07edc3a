"""What happened to each suggestion the editor showed, as JSON lines.

One line per shown suggestion:
  {"time", "model", "outcome", "suggestion", "accepted_text", "context_tail", "after_text"}
outcome is "accepted" (Tab), "partial" (some words taken with Ctrl+Right or typed through),
"rejected" (Esc, or the cursor moved away) or "typed_over" (the writer typed something else; its
after_text is what they typed instead). core/preference_pairs.py turns them into chosen/rejected pairs.
Optional fields (core/suggestion_history.py): "attempt" (the n-th request at the same place, when
n > 1), "via" ("retry": asked for with Retry; "history": shown again from the place's history;
"swap": put in by Swap) and "swapped_out" (accepted, then swapped for another: logged as rejected).

The file is append-only so a crash loses at most the line being written, and a damaged line
(a crash mid-write, a hand edit) is skipped on reading instead of making the history unreadable.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

OUTCOMES = ("accepted", "partial", "rejected", "typed_over")
# Enough context for a training example to make sense; more would bloat the log.
CONTEXT_TAIL_CHARS = 300


def make_event(*, model: str, outcome: str, suggestion: str, accepted_text: str = "",
               context: str = "", after_text: str = "", time: datetime | None = None,
               attempt: int = 1, via: str = "") -> dict[str, Any]:
    """Build one log line; `context` is the draft before the cursor (only its tail is kept)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown suggestion outcome {outcome!r} (expected one of {', '.join(OUTCOMES)})")
    stamp = (time or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    event: dict[str, Any] = {"time": stamp, "model": model, "outcome": outcome, "suggestion": suggestion,
                             "accepted_text": accepted_text, "context_tail": context[-CONTEXT_TAIL_CHARS:],
                             "after_text": after_text}
    # Only when they say something, so a first suggestion's line stays as it always was.
    if attempt > 1:
        event["attempt"] = attempt
    if via:
        event["via"] = via
    return event


class SuggestionLog:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event, ensure_ascii=False) + "\n"
        # One write() of one line in append mode: concurrent windows never interleave within a line.
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        events = []
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and event.get("outcome") in OUTCOMES:
                    events.append(event)
        return events

    def wipe(self) -> None:
        self.path.unlink(missing_ok=True)

    def acceptance_by_model(self) -> dict[str, dict[str, Any]]:
        """{model: {"shown", "accepted", "partial", "rejected", "typed_over", "rate"}}.

        rate counts partial acceptances too: taking half a suggestion is still the model helping.
        """
        table: dict[str, dict[str, Any]] = {}
        for event in self.read():
            row = table.setdefault(str(event.get("model", "")),
                                   {"shown": 0, **{outcome: 0 for outcome in OUTCOMES}, "rate": 0.0})
            row["shown"] += 1
            row[event["outcome"]] += 1
        for row in table.values():
            row["rate"] = (row["accepted"] + row["partial"]) / row["shown"] if row["shown"] else 0.0
        return table

    def training_texts(self) -> list[str]:
        """Accepted text in its surroundings: context tail + accepted words + the writer's follow-up."""
        texts = []
        for event in self.read():
            if event["outcome"] not in ("accepted", "partial"):
                continue
            accepted = str(event.get("accepted_text") or "")
            if not accepted.strip():
                continue
            text = str(event.get("context_tail") or "") + accepted + str(event.get("after_text") or "")
            texts.append(text.strip())
        return texts
