"""Form-aware decoding: a poem gets short lines and stanzas, a dialogue gets speaker turns."""

from __future__ import annotations

import numpy as np

from cw_desktop.ml.form_shaping import STANZAS, TURNS, FormShaper, poem_state, speeches
from cw_desktop.ml.forms import looks_like_dialogue, looks_like_poem
from cw_desktop.ml.generation import GenerationSettings, Generator

END = "<end>"


class CharTokenizer:
    """One token per character, and an end token: enough vocabulary for a toy model."""

    def __init__(self, chars: str) -> None:
        self.tokens = list(dict.fromkeys(chars)) + [END]
        self.all_special_ids = [len(self.tokens) - 1]

    def __len__(self) -> int:
        return len(self.tokens)

    def batch_decode(self, ids: list[list[int]]) -> list[str]:
        return ["" if self.tokens[i[0]] == END else self.tokens[i[0]] for i in ids]

    def id(self, token: str) -> int:
        return self.tokens.index(token)


SCRIPT = ("“Where were you?” asked Anna. “Out on the cliffs,” said Tom. “All night?” “All night, with the lamp.” "
          "“You might have sent word.” “I might.” “Then why not?” “The wind was too loud to think.”")
TOY = CharTokenizer(SCRIPT + "\n")


def toy_model(text: str) -> np.ndarray:
    """A model that writes SCRIPT, its speeches run together in one paragraph; a line break is its
    second choice wherever a space would go (a real model rates a new paragraph likely there too)."""
    position = 0
    for char in text:
        if char == "\n":
            position += SCRIPT[position:position + 1] == " "
            continue
        assert SCRIPT[position] == char
        position += 1
    logits = np.zeros(len(TOY), dtype=np.float32)
    following = SCRIPT[position] if position < len(SCRIPT) else END
    logits[TOY.id(following)] = 5.0
    if following == " ":
        logits[TOY.id("\n")] = 3.5
    return logits


def greedy(shaper: FormShaper | None, steps: int = 400) -> str:
    text = ""
    for _ in range(steps):
        scores = toy_model(text)[None]
        if shaper is not None:
            scores = shaper.shape(scores, [text])
        token = TOY.tokens[int(scores[0].argmax())]
        if token == END:
            break
        text += token
    return text


def test_a_dialogue_run_together_in_one_paragraph_comes_out_in_turns() -> None:
    plain = greedy(None)
    assert "\n" not in plain and not looks_like_dialogue(plain)
    shaped = greedy(FormShaper("dialogue", TOY, [TOY.id(END)]))
    paragraphs = [p for p in shaped.split("\n") if p.strip()]
    assert looks_like_dialogue(shaped) and len(paragraphs) >= 4
    assert all(p.startswith("“") for p in paragraphs)
    # A new paragraph only after a finished speech, never inside one or before "said Tom".
    assert "“Where were you?” asked Anna." in paragraphs and "“Out on the cliffs,” said Tom." in paragraphs
    assert shaped.replace("\n", " ") == SCRIPT[:len(shaped)]  # the model's own words, in its order


def test_a_dialogue_opens_with_a_speech_and_ends_after_its_turns() -> None:
    shaper = FormShaper("dialogue", TOY, [TOY.id(END)], prompt="The Cliffs\n\n")
    scores = shaper.shape(np.zeros((1, len(TOY)), dtype=np.float32), [""])[0]
    assert {TOY.tokens[i] for i in np.flatnonzero(scores > -np.inf).tolist()} == {"“"}
    shaper.before = "The Cliffs\n\n" + "\n\n".join(["“Yes,” she said."] * TURNS) + "\n\n"
    scores = shaper.shape(np.zeros((1, len(TOY)), dtype=np.float32), [""])[0]
    assert int(scores.argmax()) == TOY.id(END) and bool(np.isneginf(scores[:-1]).all())
    # ...and never ends before a few turns.
    shaper.before = "The Cliffs\n\n“Yes,” she said.\n\n"
    assert shaper.shape(np.zeros((1, len(TOY)), dtype=np.float32), [""])[0, TOY.id(END)] == float("-inf")


def test_the_line_break_grows_likelier_as_a_poem_line_grows() -> None:
    shaper = FormShaper("poem", TOY, [TOY.id(END)])
    newline = TOY.id("\n")
    bias = [float(shaper.shape(np.zeros((1, len(TOY)), dtype=np.float32), ["At dusk\n" + "a" * n])[0, newline]) for n in (10, 50, 70)]
    assert bias[0] == 0.0 < bias[1] < bias[2]


def test_poem_state_counts_lines_and_stanzas() -> None:
    assert poem_state("One\nTwo\nThree") == (5, 3, 0)
    assert poem_state("One\nTwo\n\nThree\nFour\n\n") == (0, 0, 2)
    assert speeches("“Yes.”\n\nShe left.\n\n“No.”") == 2


def test_a_shaped_poem_from_a_tiny_model_has_short_lines_and_stops_after_its_stanzas(tiny_loaded) -> None:
    engine = Generator(tiny_loaded)
    engine.filter_junk = False  # a random model's text is junk; here only its shape matters
    settings = GenerationSettings(max_new_tokens=220, temperature=0.9, stop="none", seed=3)
    # The random tiny model almost never writes a line break by itself.
    prose = engine.write("Night Harbour\n\n", settings, form="story").text
    assert not looks_like_poem(prose)
    poem = engine.write("Night Harbour\n\n", settings, form="poem")
    lines = [line for line in poem.text.split("\n") if line.strip()]
    assert looks_like_poem(poem.text) and max(len(line) for line in lines) < 80
    assert poem_state(poem.text)[2] <= STANZAS
    assert engine.form_shaper is None  # ghost text after it is not shaped


def test_a_shaped_dialogue_from_a_tiny_model_opens_every_paragraph_with_a_speech(tiny_loaded) -> None:
    engine = Generator(tiny_loaded)
    engine.filter_junk = False
    settings = GenerationSettings(max_new_tokens=160, temperature=0.9, stop="none", seed=5)
    text = engine.write("Night Harbour\n\n", settings, form="dialogue").text
    paragraphs = [p for p in text.split("\n") if p.strip()]
    assert paragraphs and all(p.startswith(("“", '"')) for p in paragraphs)


def test_the_fine_tune_reports_poem_sample_is_shaped_too(tiny_loaded) -> None:
    from cw_desktop.ml.evaluation import generate_samples

    prompt = "Night Harbour\n\nAt dusk the lamp"
    poem, story = generate_samples(tiny_loaded.model, tiny_loaded.tokenizer, [("poem", prompt), ("story", prompt)],
                                   max_new_tokens=90)
    assert max(len(line) for line in ("At dusk the lamp" + story).split("\n")) > 100  # unshaped: one long line
    lines = ("At dusk the lamp" + poem).split("\n")
    assert len([line for line in lines if line.strip()]) >= 3 and max(len(line) for line in lines) < 80


def test_a_piece_that_junk_cut_short_is_written_again(tiny_loaded, monkeypatch) -> None:
    from cw_desktop.ml import engine as engine_module

    engine = Generator(tiny_loaded)
    attempts: list[int | None] = []
    real = engine._write_windows

    def first_one_cut_short(prompt, settings, *args):  # noqa: ANN001
        attempts.append(settings.seed)
        result = real(prompt, settings, *args)
        if len(attempts) == 1:  # what the junk filter leaves of a piece that opened with junk
            result.text, result.finish_reason = "", "stop"
        return result

    monkeypatch.setattr(engine, "_write_windows", first_one_cut_short)
    engine.filter_junk = False
    settings = GenerationSettings(max_new_tokens=120, temperature=0.9, stop="none", seed=3)
    piece = engine.write("Night Harbour\n\n", settings, form="poem")
    assert attempts == [3, 4] and looks_like_poem(piece.text)
    attempts.clear()
    engine.write("Night Harbour\n\n", settings, form="story")  # a story is never cut short by form
    assert len(attempts) == 1 and engine_module.WRITE_RETRIES >= 1
