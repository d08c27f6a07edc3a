"""Pieces that look like their form: a poem in lines and stanzas, a dialogue in speaker turns.

Framed as the start of a document ("The Lighthouse\\n\\n"), the bundled instruct model writes a
paragraph of prose whatever the form. When the model has a chat template, "Write a piece" asks
for the form in the model's own instruction format instead; the writer still sees only the title
and the piece (the request goes in front of the draft, like Memory). A model without a template
(a plain base or fine-tune of one) keeps the document framing of `form_prompt`. Either way,
decoding shapes the piece into lines or turns (ml/form_shaping.py).

The form checks are the ones bench/forms.py counts.
"""

from __future__ import annotations

import re
from typing import Any

INSTRUCTIONS = {
    "poem": "Write a short poem{about}: three stanzas of four short lines each, with a blank line "
            "between stanzas. Reply with the poem only.",
    "dialogue": "Write a short scene of dialogue between two characters{about}. Each speech is its own "
                "paragraph in quotation marks, as in a novel, and the speakers take turns. "
                "Reply with the dialogue only.",
    "story": "Write a short story{about}, in paragraphs of prose. Reply with the story only.",
}

# One exchange showing the shape before the real request (a one-shot example). Told "each speech is
# its own paragraph" alone, the bundled model writes monologue in quotation marks; shown a scene, its
# speakers take turns (bench/forms.py, 8 titles: 5.0 -> 6.3 speeches per piece, attributed ones
# 22% -> 54%). The model echoes an example's words, so this one is made of ordinary phrases: an
# example about a borrowed coat put the coat into 3 pieces of 8. A poem gets no example: its
# shape comes from decoding (ml/form_shaping.py), and shown one, the model copied its lines.
EXAMPLES = {
    "dialogue": ("Late Again", "“Are you coming?” she asked.\n\n“In a minute,” he said.\n\n“You said that an hour "
                 "ago.”\n\n“Then I am an hour nearer to coming.”\n\n“You are impossible,” she said, and sat down "
                 "to wait."),
}


def chat_preamble(tokenizer: Any, form: str, title_or_first_line: str, notes: str = "") -> str | None:
    """The hidden request that goes before a `form` piece, in the model's chat format; None when
    the tokenizer has no chat template (or the form is unknown)."""
    if form not in INSTRUCTIONS or not getattr(tokenizer, "chat_template", None):
        return None
    seed = title_or_first_line.strip()
    first_line = len(seed.split()) > 6 or seed.endswith((",", ".", ";", ":", "—"))
    about = f" that begins: {seed}" if first_line else (f' titled "{seed}"' if seed else "")
    request = INSTRUCTIONS[form].format(about=about)
    if notes.strip():
        request += f"\n\nThe writer's notes:\n{notes.strip()}"
    messages = [{"role": "user", "content": request}]
    if form in EXAMPLES:
        title, reply = EXAMPLES[form]
        messages[:0] = [{"role": "user", "content": INSTRUCTIONS[form].format(about=f' titled "{title}"')},
                        {"role": "assistant", "content": f"{title}\n\n{reply}"}]
    try:
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    except Exception:  # a malformed template: the document framing still works
        return None


# -- form checks -------------------------------------------------------------------------------------

_SPEAKER = re.compile(r"^\s*([A-Z][A-Za-z .'-]{0,30}?)\s*:\s*\S")
_QUOTED = re.compile(r"^\s*[“\"]")


def looks_like_poem(text: str) -> bool:
    """At least 4 lines, nearly all under 70 characters."""
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 4 and sum(len(line) < 70 for line in lines) >= 0.9 * len(lines)


def speakers(text: str) -> list[str]:
    """The speaker of each turn: "NAME:" lines, or alternating quoted paragraphs ("A", "B", ...)."""
    named = [m.group(1).strip().upper() for line in text.splitlines() if (m := _SPEAKER.match(line))]
    if len(named) >= 2:
        return named
    quoted = [line for line in text.splitlines() if _QUOTED.match(line)]
    return ["AB"[i % 2] for i in range(len(quoted))]


def looks_like_dialogue(text: str) -> bool:
    """At least two speakers, and turns that change hands at least twice."""
    turns = speakers(text)
    changes = sum(1 for a, b in zip(turns, turns[1:]) if a != b)
    return len(set(turns)) >= 2 and changes >= 2


def looks_like_story(text: str) -> bool:
    """Prose: at least two sentences and lines of prose length, not verse or a list."""
    lines = [line for line in text.splitlines() if line.strip()]
    sentences = len(re.findall(r"[.!?][\"'”’]?(\s|$)", text))
    return sentences >= 2 and bool(lines) and max(len(line) for line in lines) >= 70


FORM_CHECKS = {"poem": looks_like_poem, "dialogue": looks_like_dialogue, "story": looks_like_story}
