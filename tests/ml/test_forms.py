"""Forms that look like their form: the checks, and the chat framing of "Write a piece"."""

from types import SimpleNamespace

from cw_desktop.ml.forms import chat_preamble, looks_like_dialogue, looks_like_poem, looks_like_story

POEM = "At dusk the lamp is lit,\nAnd all the sea grows still;\n\nThe keeper climbs the stair,\nAs keepers always will."
PROSE = ("It was the last evening of the summer, and the house by the river stood open to the air. "
         "Nobody had thought to close the shutters.")
DIALOGUE = "MARGARET: You are late again.\nJOHN: The coach was slow.\nMARGARET: It always is."


def test_the_checks_tell_the_forms_apart() -> None:
    assert looks_like_poem(POEM) and not looks_like_poem(PROSE)
    assert looks_like_dialogue(DIALOGUE) and not looks_like_dialogue(PROSE)
    assert looks_like_dialogue("“You are late.”\n\n“The coach was slow.”\n\n“It always is.”")
    assert looks_like_story(PROSE) and not looks_like_story(POEM)


class _ChatTokenizer:
    chat_template = "{% for m in messages %}<|user|>{{ m.content }}{% endfor %}<|assistant|>"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):  # noqa: ANN001
        return "".join(f"<|user|>{m['content']}" for m in messages) + "<|assistant|>\n"


def test_a_model_with_a_chat_template_is_asked_for_the_form() -> None:
    request = chat_preamble(_ChatTokenizer(), "poem", "The Lighthouse", notes="a storm at sea")
    assert request is not None and request.startswith("<|user|>") and request.endswith("<|assistant|>\n")
    assert "poem" in request and "The Lighthouse" in request and "a storm at sea" in request
    assert "begins: At dusk the lamp" in chat_preamble(_ChatTokenizer(), "poem", "At dusk the lamp is lit, and all the sea")


def test_a_model_without_one_keeps_the_document_framing() -> None:
    assert chat_preamble(SimpleNamespace(chat_template=None), "poem", "The Lighthouse") is None


def test_a_chat_framed_piece_starts_from_the_plain_title() -> None:
    from cw_desktop.ml.generation import form_prompt

    assert form_prompt("dialogue", "The Lighthouse")[0].endswith("“")  # document framing opens a speech
    assert form_prompt("dialogue", "The Lighthouse", chat=True)[0] == "The Lighthouse\n\n"


def test_the_checks_want_enough_lines_and_a_change_of_speaker() -> None:
    assert not looks_like_poem("At dusk the lamp is lit,\nAnd all the sea grows still;\nThe keeper climbs the stair.")
    assert not looks_like_poem("A line\n" * 3 + "x" * 90 + "\n" + "y" * 90)  # long lines are prose
    assert not looks_like_dialogue("MARGARET: You are late again.\nMARGARET: And I have waited.")
    assert not looks_like_dialogue("“You are late.”\n\n“The coach was slow.”")  # one reply is not a scene


def test_a_dialogue_request_shows_a_scene_first_and_a_poem_request_does_not() -> None:
    dialogue = chat_preamble(_ChatTokenizer(), "dialogue", "Harbour Lights")
    poem = chat_preamble(_ChatTokenizer(), "poem", "Harbour Lights")
    assert dialogue is not None and poem is not None
    # The example exchange comes before the writer's request, which is the last thing the model reads.
    assert dialogue.index("she asked") < dialogue.index("Harbour Lights")
    assert dialogue.endswith('titled "Harbour Lights". Each speech is its own paragraph in quotation marks, as in a '
                             "novel, and the speakers take turns. Reply with the dialogue only.<|assistant|>\n")
    assert "she asked" not in poem
