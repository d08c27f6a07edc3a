"""Rewrite a selected passage: Rewrite / Expand / Shorten / Describe / a custom instruction.

An instruct model (the bundled SmolLM2-135M-Instruct) is asked in its own chat format (the
story around the passage can go in too: SURROUNDING_CONTEXT says why it does not by default).
A model without a chat template (a base model or a fine-tune of one) cannot follow instructions;
it gets a plain document framing it can continue ("Original: …\\nRewritten (shorter): ").

Chat models wrap their answer in chat manners ("Sure! Here is the rewritten passage:", the whole
answer in quotation marks, "I hope this helps!"). The suggestion engine's junk filter would cut
the answer at the first of those, i.e. often at its very start, so it is switched off for the
request and `clean_rewrite` strips the manners instead, then applies the junk filter to the rest.

Runs on the generation worker's thread through the ordinary engine (prefix cache, cancellation,
either backend). No Qt here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.core.rewrite_request import RewriteRequest, RewriteResult, request_problem
from cw_desktop.ml import junk

if TYPE_CHECKING:
    from cw_desktop.ml.engine import Engine

TextCallback = Callable[[str], None]
StopCheck = Callable[[], bool]

SYSTEM = ("You are a skilled fiction editor. You rewrite one passage of a writer's story as asked. "
          "You reply with the new passage only: no title, no introduction, no comments.")

INSTRUCTIONS = {
    "rewrite": "Rewrite the passage in fresh words. Keep its meaning, its tense and its point of view.",
    "expand": "Expand the passage to about twice its length with more detail, action and feeling. "
              "Keep its tense and its point of view.",
    "shorten": "Shorten the passage to about half its length. Keep the key events, the tense and the "
               "point of view.",
    "describe": "Rewrite the passage with vivid sensory detail: what can be seen, heard, smelled, touched "
                "and tasted. Keep the events, the tense and the point of view.",
}

# The label a base model continues after "Original: <passage>\n".
PLAIN_LABELS = {
    "rewrite": "Rewritten",
    "expand": "Rewritten (longer, with more detail)",
    "shorten": "Rewritten (shorter)",
    "describe": "Rewritten (with vivid sensory detail)",
}

# Room for the answer, in tokens: factor x the selection's tokens + a constant. Generous, since
# the model ends its answer itself (end of turn); the cap only stops a runaway.
LENGTH = {"rewrite": (1.6, 32), "expand": (3.0, 64), "shorten": (1.2, 16), "describe": (3.0, 64),
          "custom": (3.0, 64)}
MIN_ANSWER_TOKENS = 16
# Whether the chat prompt shows the story around the passage. Off: on the bundled SmolLM2-135M the
# neighbouring sentences leaked into the rewrite (their names, events and even a switch to the
# first person; docs/editor.md); with the passage alone it stayed on the passage. A bigger
# instruct model keeps the two apart: switch it on for those.
SURROUNDING_CONTEXT = False

SETTINGS = GenerationSettings(max_new_tokens=256, temperature=0.7, top_p=0.9, top_k=50,
                              # A light penalty only: a rewrite rightly reuses the passage's words.
                              repetition_penalty=1.05, alternatives=1, stop="none", greedy_first=False)


class RewriteTooLong(ValueError):
    """The passage and the request do not fit in the model's window."""


@dataclass
class RewritePrompt:
    text: str  # everything the model reads before its answer
    chat: bool  # built with the model's chat template
    max_new_tokens: int
    stop: str  # a stop rule of core/generation_settings.py
    one_paragraph: bool = False  # the answer ends with its first paragraph


# -- the prompt ------------------------------------------------------------------------------------

def _instruction(request: RewriteRequest) -> str:
    if request.action == "custom":
        return f"Rewrite the passage as follows: {request.instruction.strip()}"
    return INSTRUCTIONS[request.action]


def chat_request(request: RewriteRequest, with_context: bool = True) -> str:
    """The user's turn: the story around the passage (when there is any), the passage, the task."""
    parts = []
    before, after = request.before.strip(), request.after.strip()
    if with_context and (before or after):
        story = ""
        if before:
            story += f"Just before the passage: …{before}\n"
        if after:
            story += f"Just after the passage: {after}…\n"
        parts.append("The story around the passage (do not rewrite this part):\n" + story)
    parts.append(f"The passage:\n{request.selection.strip()}\n")
    parts.append(f"{_instruction(request)} Reply with the new passage only.")
    return "\n".join(parts)


def chat_prompt(tokenizer: Any, request: RewriteRequest, with_context: bool = True) -> str | None:
    """The request in the model's chat format, ending where its answer starts; None without a template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    user = chat_request(request, with_context)
    # Some templates refuse a system turn: fold the system text into the user's turn for those.
    for messages in ([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                     [{"role": "user", "content": f"{SYSTEM}\n\n{user}"}]):
        try:
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        except Exception:  # noqa: BLE001 - a malformed template: try the next form, then plain framing
            continue
    return None


def plain_prompt(request: RewriteRequest) -> str:
    """A document framing a base model continues: the passage, then a label for the new version."""
    label = PLAIN_LABELS.get(request.action) or f"Rewritten ({request.instruction.strip().rstrip('.')})"
    return f"Original: {request.selection.strip()}\n{label}: "


def plan_prompt(tokenizer: Any, request: RewriteRequest, window: int) -> RewritePrompt:
    """The prompt, the room for the answer and the stop rule for `request` on a model with `window`
    tokens. Drops the surrounding story first when the window is tight; raises RewriteTooLong when
    even the passage alone leaves no room for an answer."""
    problem = request_problem(request)
    if problem:
        raise ValueError(problem)

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    factor, extra = LENGTH[request.action]
    wanted = request.max_new_tokens or int(count(request.selection) * factor + extra)
    single_paragraph = "\n" not in request.selection.strip()
    for with_context in ((True, False) if SURROUNDING_CONTEXT else (False,)):
        chat = chat_prompt(tokenizer, request, with_context)
        text = chat if chat is not None else plain_prompt(request)
        room = window - count(text) - 2  # the document-start token, and one to spare
        if room >= min(wanted, MIN_ANSWER_TOKENS):
            # One paragraph in, one out for Rewrite and Shorten: the bundled model, done with a
            # shortened paragraph, went on with one of its own (Expand and Describe may add some).
            # A base model always stops at the paragraph, through the engine's stop rule; a chat
            # answer's lead-in may be a line of its own, so clean_rewrite cuts it after cleaning.
            one_paragraph = single_paragraph and (chat is None or request.action in ("rewrite", "shorten"))
            stop = "paragraph" if one_paragraph and chat is None else "none"
            return RewritePrompt(text=text, chat=chat is not None, max_new_tokens=min(wanted, room), stop=stop,
                                 one_paragraph=one_paragraph)
    raise RewriteTooLong(f"The selection is too long for this model's window of {window} tokens: "
                         "select a shorter passage.")


def rewrite_settings(request: RewriteRequest, prompt: RewritePrompt) -> GenerationSettings:
    return replace(SETTINGS, max_new_tokens=prompt.max_new_tokens, stop=prompt.stop, seed=request.seed,
                   banned_phrases=list(request.banned_phrases)).validated()


# -- cleaning the answer -----------------------------------------------------------------------------

_OPENER = re.compile(r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok|great|alright|gladly)"
                     r"(?: thing)?[!,.]+\s*)+", re.IGNORECASE)
# Where an answer announces itself: "Here is the rewritten passage:", "Below is a shorter version."
# Only with words about the rewrite, so a story's own "Here is the thing: ..." stays.
_ANNOUNCE = re.compile(r"^(?:here(?:'s|’s| is| are)|below is|this is|the following)\b", re.IGNORECASE)
_ABOUT_REWRITE = re.compile(r"rewrit|revis|version|passage|paragraph|\btext\b|expanded|shortened|shorter|"
                            r"longer|sensory|vivid|detail", re.IGNORECASE)
# A label line: "Rewritten passage:", "Shorter version (50 words):", "Expanded:".
_LABEL = re.compile(r"^(?:(?:the|a|an|my|your)\s+)?(?:re-?written|revised|expanded|shortened|shorter|"
                    r"longer|new|updated|edited|improved|sensory|more\s+\w+|passage|version|rewrite|"
                    r"revision)\b[^:\n]{0,60}:[ \t]*", re.IGNORECASE)
# How announcements and labels start: while the first line is still one of these (or on its way
# to one), the stream holds it back until its line shows what it is.
_STARTERS = ("here is", "here's", "here’s", "here are", "below is", "this is", "the following",
             "the rewritten", "the revised", "the expanded", "the shortened", "rewritten", "revised",
             "expanded", "shortened", "shorter", "longer", "passage", "version", "a more", "a shorter",
             "a longer", "new version")
# Chat openers: held only while the text could still become one ("Sure" may be "Sure!").
_OPENER_WORDS = ("sure", "certainly", "of course", "absolutely", "okay", "alright", "gladly")
_HOLD_CHARS = 100

# What follows the passage in a chatty answer: comments on it, or the framing starting over.
_AFTERWORD = re.compile(r"\n\s*(?:I hope|Let me know|Feel free|Note:|Original:|Here(?:'s|’s| is) what|"
                        r"In this (?:version|rewrit|revision)|"
                        r"This (?:version|rewrite|revision|rewritten|new version|passage (?:now|keeps|uses))|"
                        r"The (?:rewritten|revised|expanded|shortened) (?:passage|version|text)|"
                        # a label line ("The passage:"), not a story's "The passage was dark: ..."
                        r"(?:The |New )?(?:passage|version)\b[^\n:]{0,40}:[ \t]*(?:\n|$)|"
                        r"(?:Rewrite|Rewritten|Expand|Expanded|Shorten|Shortened|Describe)\b[^\n]{0,60}"
                        r"\b(?:passage|version|text)\b)", re.IGNORECASE)
# The framing starting over, cut off by the length limit: "...\n\nThe passage".
_TRAILING_LABEL = re.compile(r"\n\s*(?:the )?(?:passage|original|version|rewritten)\s*$", re.IGNORECASE)
_QUOTES = {'"': '"', "“": "”", "«": "»", "'": "'"}


def _strip_lead_in(text: str, original: str, final: bool) -> str | None:
    """`text` without a chatty opening; None while a possible opening is still arriving. An answer
    that starts as the passage itself does ("Of course, she knew...") is the passage: kept whole."""
    if text.lstrip()[:12].lower() == original.lstrip()[:12].lower():
        return text.lstrip()
    body = text.lstrip()
    opener = _OPENER.match(body)
    # "Sure! Rain fell." and "Sure, here is..." open a chat answer; "Of course, nobody slept" is prose.
    if opener and not (body[opener.end():][:1].islower() and not _ANNOUNCE.match(body[opener.end():])):
        body = body[opener.end():].lstrip()
    first_line, newline, rest = body.partition("\n")
    if _ANNOUNCE.match(first_line) and _ABOUT_REWRITE.search(first_line):
        colon = first_line.find(":")
        if colon >= 0 and _ABOUT_REWRITE.search(first_line[:colon]):
            return (first_line[colon + 1:] + newline + rest).lstrip()
        if newline and colon < 0:  # "Here is a more vivid version." on a line of its own
            return rest.lstrip()
    label = _LABEL.match(first_line)
    if label:
        return body[label.end():].lstrip()
    if not final:
        opening = " ".join(first_line.lower().split())
        if not body or (not newline and ":" not in first_line and len(first_line) < _HOLD_CHARS
                        and (any(s.startswith(opening) or opening.startswith(s) for s in _STARTERS)
                             or any(s.startswith(opening) for s in _OPENER_WORDS))):
            return None
    return body


def _strip_wrapping_quotes(text: str, original: str, final: bool) -> str:
    """Quotation marks around the whole answer, when the passage itself was not a quotation."""
    stripped = text.strip()
    if not stripped or stripped[0] not in _QUOTES or original.lstrip().startswith(stripped[0]):
        return text
    opening, closing = stripped[0], _QUOTES[stripped[0]]
    inner = stripped[1:]
    if final:
        if not inner.endswith(closing) or len(inner) < 2:
            return text
        inner = inner[:-1]
    elif inner.endswith(closing):
        inner = inner[:-1]
    if opening in inner or closing in inner:
        return text  # quotes inside too: dialogue, not a wrapper
    return inner.strip() if final else inner.lstrip()


def _cut_junk(text: str, request: RewriteRequest) -> tuple[str, bool]:
    """The suggestion junk filter (ml/junk.py), except where the passage itself has the same words:
    a story's own "Here is the key," is not chat manners."""
    context = request.before[-1000:] + "\n" + request.selection
    original = " ".join(request.selection.lower().split())
    masked = text
    for _ in range(8):
        start = junk.junk_start(masked, context)
        if start is None:
            return text, False
        piece = " ".join(masked[start:start + 16].lower().split())
        if len(piece) < 4 or piece not in original:
            return text[:start].rstrip(" \t\n"), True
        masked = masked[:start] + " " * 16 + masked[start + 16:]
    return text, False


def clean_rewrite(text: str, request: RewriteRequest, final: bool = True,
                  one_paragraph: bool = False) -> tuple[str, bool]:
    """(the passage in a model's answer, whether something after it was cut off).

    final=False is for the stream: a possible opening still arriving is held back (""), so the
    preview never flashes "Sure! Here is" before the passage.
    """
    body = _strip_lead_in(text, request.selection, final)
    if body is None:
        return "", False
    cut = False
    afterword = _AFTERWORD.search(body)
    if afterword:
        body, cut = body[:afterword.start()], True
    elif final:
        body = _TRAILING_LABEL.sub("", body)
    start = len(body) - len(body.lstrip("\n"))
    paragraph_end = body.find("\n", start)
    if one_paragraph and paragraph_end >= 0:
        body, cut = body[:paragraph_end], True
    # Markdown emphasis from a chat model: keep the words, drop the asterisks.
    body = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), body)
    clean, was_junk = _cut_junk(body, request)
    cut = cut or was_junk
    clean = _strip_wrapping_quotes(clean, request.selection, final or cut)
    clean = clean.rstrip() if final or cut else clean
    return clean, cut


# -- running it ------------------------------------------------------------------------------------

def run_rewrite(generator: "Engine", request: RewriteRequest, *, on_text: TextCallback | None = None,
                should_stop: StopCheck | None = None) -> RewriteResult:
    """Ask `generator` for the rewrite, streaming the cleaned text so far through `on_text`.

    The answer ends when the model ends its turn, at the room planned for it, when what follows the
    passage turns into comments (cut here, no point decoding them), or when `should_stop()`.
    """
    started = time.perf_counter()
    prompt = plan_prompt(generator.tokenizer, request, generator.window)
    settings = rewrite_settings(request, prompt)
    ended = False
    shown = ""

    def on_token(_index: int, raw: str) -> None:
        nonlocal ended, shown
        text, cut = clean_rewrite(raw, request, final=False, one_paragraph=prompt.one_paragraph)
        ended = ended or cut
        if text != shown:
            shown = text
            if on_text is not None:
                on_text(text)

    def stop() -> bool:
        return ended or (should_stop is not None and should_stop())

    generator.filter_junk = False
    try:
        answer = generator.suggest(prompt.text, settings, on_token=on_token, should_stop=stop)[0]
    finally:
        generator.filter_junk = True
    text, cut = clean_rewrite(answer.text, request, final=True, one_paragraph=prompt.one_paragraph)
    reason = answer.finish_reason
    if reason == "cancelled" and not (should_stop is not None and should_stop()):
        reason = "stop"  # ended here, at the comments after the passage
    elif cut and reason != "cancelled":
        reason = "stop"
    return RewriteResult(text=text, finish_reason=reason, tokens=answer.tokens,
                         seconds=time.perf_counter() - started, chat=prompt.chat)
