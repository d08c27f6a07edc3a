"""What a "rewrite the selection" request and its answer look like, as plain picklable data.

The GUI builds a RewriteRequest from the editor's selection, the generation worker forwards it
unchanged to ml/rewrite.py (which turns it into a prompt), and a RewriteResult comes back. Plain
Python so the GUI, the worker and the engine can all hold them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

# action -> menu label, in menu order. "custom" carries the writer's own instruction.
ACTIONS: dict[str, str] = {
    "rewrite": "Rewrite",
    "expand": "Expand",
    "shorten": "Shorten",
    "describe": "Describe (sensory detail)",
    "custom": "Custom instruction…",
}

# A small model rewrites a paragraph or a scene well enough; a chapter swamps its window and the
# writer's patience. ~700 words.
MAX_SELECTION_CHARS = 4000
# The story around the selection that goes into the prompt: enough to keep names, tense and voice.
CONTEXT_BEFORE_CHARS = 400
CONTEXT_AFTER_CHARS = 200
MAX_INSTRUCTION_CHARS = 300


@dataclass(frozen=True)
class RewriteRequest:
    action: str  # a key of ACTIONS
    selection: str  # the exact text the writer selected
    before: str = ""  # the document's text just before the selection (context only, never rewritten)
    after: str = ""  # and just after it
    instruction: str = ""  # the writer's own words, for "custom"
    seed: int | None = None  # None: a fresh result every time (Retry)
    max_new_tokens: int | None = None  # None: sized from the selection and the action
    banned_phrases: tuple[str, ...] = ()  # the writer's banned phrases: a rewrite never writes them either


@dataclass
class RewriteResult:
    text: str  # the rewritten passage, chat artefacts removed
    finish_reason: str  # "eos" | "stop" | "length" | "cancelled"
    tokens: int  # tokens the model generated
    seconds: float
    chat: bool  # whether the model was asked through its chat template


def request_problem(request: RewriteRequest) -> str | None:
    """Why this request cannot be sent (a sentence for the writer), or None when it can."""
    if request.action not in ACTIONS:
        return f"Unknown rewrite action {request.action!r}; choose one of {', '.join(ACTIONS)}."
    if not request.selection.strip():
        return "Select the text to rewrite first."
    if len(request.selection) > MAX_SELECTION_CHARS:
        words = len(request.selection.split())
        return (f"The selection is too long to rewrite at once ({words:,} words): select a paragraph or a "
                f"scene of at most about {MAX_SELECTION_CHARS // 6:,} words.")
    if request.action == "custom" and not request.instruction.strip():
        return "Type an instruction for the rewrite (for example: \"make it funnier\")."
    if len(request.instruction) > MAX_INSTRUCTION_CHARS:
        return f"The instruction is too long: keep it under {MAX_INSTRUCTION_CHARS} characters."
    return None
