"""Form-aware decoding for "Write a piece": lines and stanzas for a poem, speaker turns for a dialogue.

Asked for a poem, a small model often writes lines of prose length and runs on past the poem into
commentary ("Here's a poem to remember..."); asked for a dialogue, it writes a paragraph of
narration. Asking better (ml/forms.py) helps only so far, so the decoding loop nudges the shape too:
`FormShaper.shape` is a logits hook (ml/decoding.py runs it at every step of Generator.write with a
form; ml/evaluation.py at every step of the fine-tune report's samples). It reads the piece so far:

- poem: no numbered or bulleted lines; a bias toward a line break that grows with the line past
  SOFT_LINE characters, so a line ends at a pause the model itself finds likely rather than at a
  hard cut; a blank line favoured once a stanza has STANZA_LINES lines and discouraged after one;
  no runs of blank lines; the end after STANZAS stanzas (never before MIN_LINES lines).
- dialogue: every paragraph opens with a speech (an opening quotation mark, as in a novel: a new
  paragraph is a new speaker); once a speech has closed and its sentence ended, a bias toward a new
  paragraph that grows with the paragraph; the end after TURNS turns.
- Generator.write writes a poem or dialogue again when junk cut it short (`unfinished`).

Biases rather than rules where the writing is concerned: the model still picks the words and most
line ends. Stories are not shaped.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

SOFT_LINE = 36  # characters of a poem's line after which a line break grows likelier
LINE_BIAS_PER_CHAR = 0.2  # logit added to a line break per character past SOFT_LINE (70 chars: +6.8)
STANZA_LINES = 4  # lines after which a blank line (a new stanza) grows likelier
STANZA_BIAS_PER_LINE = 1.0
STANZAS = 3  # a poem ends after this many stanzas
TURNS = 8  # a dialogue ends after this many speeches
SOFT_PARAGRAPH = 40  # characters of a finished speech's paragraph after which a new one grows likelier
PARAGRAPH_BIAS = 2.0  # logit added to a paragraph break after a finished speech and its attribution...
SPEECH_END_BIAS = 1.0  # ...or right after a speech's closing quotation mark, and
PARAGRAPH_BIAS_PER_CHAR = 0.03  # ...and per character of the paragraph past SOFT_PARAGRAPH

OPENING_QUOTES = ("“", '"')
# After a paragraph's opening quotation mark: a closed speech whose sentence has ended after its
# attribution ('Where were you?” asked Anna.'), or with the speech itself ('I was out.”'), where
# an attribution may still follow (hence a smaller bias); not one that goes on ('Yes,” said Tom,').
_ATTRIBUTION_ENDED = re.compile(r"[”\"][^“”\"]*[.!?…][’'”\"]?$")
_SPEECH_ENDED = re.compile(r"[.!?…—-][”\"]$")
MIN_LINES = 4  # a poem does not end before this many lines...
MIN_TURNS = 3  # ...nor a dialogue before this many speeches


class TokenClasses:
    """Which tokens break a line, and which open a speech, for one tokenizer (decoded once)."""

    def __init__(self, tokenizer: Any) -> None:
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        special = set(getattr(tokenizer, "all_special_ids", ()) or ())
        self.size = len(texts)
        # Only whitespace, with at least one line break: "\n", "\n\n", " \n"...
        self.breaks = [i for i, t in enumerate(texts) if "\n" in t and not t.strip() and i not in special]
        self.double_breaks = [i for i in self.breaks if texts[i].count("\n") >= 2]
        # What opens a list item rather than a line of verse: "1.", "2", "-", "*", "#", "•".
        self.list_markers = [i for i, t in enumerate(texts)
                             if t.strip() and (t.lstrip()[0].isdigit() or t.lstrip()[0] in "-*#•")]
        # An opening quotation mark alone or before a word: '“', '"', '“The'; not code like '",'.
        self.speech_openers = [i for i, t in enumerate(texts)
                               if t.startswith(OPENING_QUOTES) and (len(t) == 1 or t[1].isalpha())]


_classes: "weakref.WeakKeyDictionary[Any, TokenClasses]" = weakref.WeakKeyDictionary()


def token_classes(tokenizer: Any) -> TokenClasses:
    """Decoding a 50k vocabulary takes a second or two: once per tokenizer."""
    try:
        return _classes[tokenizer]
    except (KeyError, TypeError):
        pass
    classes = TokenClasses(tokenizer)
    try:
        _classes[tokenizer] = classes
    except TypeError:  # not weak-referenceable: just not cached
        pass
    return classes


def _lines(piece: str) -> list[str]:
    return piece.split("\n")


def poem_state(piece: str) -> tuple[int, int, int]:
    """(characters in the current line, lines in the current stanza, finished stanzas)."""
    stanzas = [s for s in re.split(r"\n[ \t]*\n", piece.strip("\n")) if s.strip()]
    finished = len(stanzas) if re.search(r"\n[ \t]*\n[ \t\n]*$", piece) else max(0, len(stanzas) - 1)
    current = stanzas[-1] if stanzas and finished < len(stanzas) else ""
    line = _lines(piece)[-1]
    return len(line), len([x for x in current.split("\n") if x.strip()]), finished


def speeches(piece: str) -> int:
    """Paragraphs of `piece` that open with a quotation mark."""
    return sum(1 for line in piece.split("\n") if line.lstrip().startswith(OPENING_QUOTES))


def unfinished(form: str, piece: str) -> bool:
    """Whether a piece that ended early (the junk filter stops at a switch of script, a run of
    digits...) is too short to be its form: worth writing again rather than showing."""
    if form == "poem":
        return sum(1 for line in piece.split("\n") if line.strip()) < MIN_LINES
    if form == "dialogue":
        return speeches(piece) < MIN_TURNS
    return False


class FormShaper:
    """The logits hook for one piece of `form` ("poem" or "dialogue"; anything else: no change).

    `prompt`: what the piece was started from (form_prompt's title heading "Winter Orchard\n\n",
    not part of the piece, or a first line, which is); `before`: the text ahead of what the model is
    generating now (Generator.write sets it for each window; it starts with the prompt)."""

    def __init__(self, form: str, tokenizer: Any, end_ids: Iterable[int], prompt: str = "") -> None:
        self.form = form
        self.classes = token_classes(tokenizer) if form in ("poem", "dialogue") else None
        self.end_ids = sorted(end_ids)
        heading = prompt.split("\n\n", 1)[0]
        is_title = "\n\n" in prompt and "\n" not in heading and not heading.lstrip().startswith(OPENING_QUOTES)
        self.title = heading + "\n\n" if is_title else ""
        self.before = prompt

    def piece(self, generated: str) -> str:
        text = self.before + generated
        return text[len(self.title):] if self.title and text.startswith(self.title) else text

    def shape(self, scores: np.ndarray, generated: Sequence[str]) -> np.ndarray:
        """`scores` (B, V) for the next token after each row's `generated` text; a new tensor."""
        if self.classes is None:
            return scores
        bias = np.zeros(scores.shape, dtype=np.float32)
        for row, text in enumerate(generated):
            piece = self.piece(text)
            if self.form == "poem":
                self._poem(bias[row], piece)
            else:
                self._dialogue(bias[row], piece)
        return scores.astype(np.float32) + bias

    def _end(self, bias: np.ndarray) -> None:
        """Only an end token may follow: the piece is complete."""
        bias.fill(-np.inf)
        bias[self.end_ids] = 0.0

    def _breaks(self, bias: np.ndarray) -> list[int]:
        return [i for i in self.classes.breaks if i < bias.shape[0]]  # type: ignore[union-attr]

    def _poem(self, bias: np.ndarray, piece: str) -> None:
        classes = self.classes
        assert classes is not None
        line_length, stanza_lines, stanzas = poem_state(piece)
        at_line_start = piece.endswith("\n") or not piece.strip()
        enough_lines = sum(1 for line in piece.split("\n") if line.strip()) >= MIN_LINES
        if stanzas >= STANZAS and at_line_start and enough_lines:
            self._end(bias)
            return
        if not enough_lines:
            bias[self.end_ids] = float("-inf")
        breaks = self._breaks(bias)
        if at_line_start:
            # Asked for a poem, the model often numbers its lines ("1. In twilight..."): verse has no list numbers.
            bias[[i for i in classes.list_markers if i < bias.shape[0]]] = float("-inf")
            blank_line_done = not piece.strip() or bool(re.search(r"\n[ \t]*\n$", piece))
            if blank_line_done:  # no runs of blank lines, no blank opening
                bias[breaks] = float("-inf")
            elif stanza_lines >= STANZA_LINES:
                bias[breaks] += STANZA_BIAS_PER_LINE * (stanza_lines - STANZA_LINES + 1)
            elif stanza_lines < 2:  # a blank line here would make a stanza of one line
                bias[breaks] -= 4.0
            else:  # ...or of two or three: possible, less likely
                bias[breaks] -= 2.0
            return
        if line_length > SOFT_LINE:
            bias[breaks] += LINE_BIAS_PER_CHAR * (line_length - SOFT_LINE)
            # A line ends with one line break; a stanza break comes on its own after the line.
            stanza_ends = stanza_lines + 1 >= STANZA_LINES
            bias[[i for i in classes.double_breaks if i < bias.shape[0]]] -= 1.0 if stanza_ends else 3.0

    def _dialogue(self, bias: np.ndarray, piece: str) -> None:
        classes = self.classes
        assert classes is not None
        paragraph = piece.rsplit("\n", 1)[-1]
        breaks = self._breaks(bias)
        if speeches(piece) < MIN_TURNS:
            bias[self.end_ids] = float("-inf")
        if piece.endswith("\n") or not piece.strip():
            if speeches(piece) >= TURNS:
                self._end(bias)
                return
            if piece.strip() and not re.search(r"\n[ \t]*\n$", piece):
                # One line break so far: a blank line between speeches, as in a novel.
                allowed = breaks + classes.speech_openers
            else:
                allowed = classes.speech_openers
            keep = np.full_like(bias, -np.inf)
            keep[[i for i in allowed if i < bias.shape[0]]] = 0.0
            bias += keep
            return
        speech = paragraph.lstrip()
        if not speech.startswith(OPENING_QUOTES):
            return
        extra = max(0, len(paragraph) - SOFT_PARAGRAPH) * PARAGRAPH_BIAS_PER_CHAR
        if _ATTRIBUTION_ENDED.search(speech[1:].rstrip()):
            bias[breaks] += PARAGRAPH_BIAS + extra
        elif _SPEECH_ENDED.search(speech[1:].rstrip()):
            bias[breaks] += SPEECH_END_BIAS + extra


class FormLogitsProcessor:
    """`FormShaper` as a transformers logits processor, for `model.generate` (the report's samples):
    `prompt` is the text of the first `prompt_tokens` tokens of every row."""

    def __init__(self, shaper: FormShaper, tokenizer: Any, prompt_tokens: int) -> None:
        self.shaper = shaper
        self.tokenizer = tokenizer
        self.prompt_tokens = prompt_tokens

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch  # only model.generate calls this, in a process that has torch anyway

        generated = [self.tokenizer.decode(row[self.prompt_tokens:], skip_special_tokens=True) for row in input_ids]
        shaped = self.shaper.shape(scores.detach().float().cpu().numpy(), generated)
        # Back on the scores' device: the fine-tune report samples on cuda/mps when it trains there.
        return torch.from_numpy(shaped).to(device=scores.device, dtype=scores.dtype)
