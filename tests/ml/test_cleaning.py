"""Cleaning rules, one by one on real text, then the whole pipeline (idempotent, never crashes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cw_desktop.ml import cleaning as c

WRITERS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "writers"


def read_writer(relative: str) -> str:
    path = WRITERS / relative
    if not path.is_file():
        pytest.skip(f"shared corpus file missing: {path}")
    return path.read_bytes().decode("utf-8")


# -- line endings, invisible characters ---------------------------------------------------------

def test_line_endings_crlf_cr_and_doubled_cr() -> None:
    assert c.normalize_line_endings("a\r\nb\rc\r\r\nd\u2028e") == "a\nb\nc\nd\ne"
    assert c.normalize_line_endings("no change\n") == "no change\n"


def test_invisible_characters() -> None:
    assert c.remove_invisible_characters("\ufeffword\u200bs and soft\u00adhyphen") == "words and softhyphen"


# -- Project Gutenberg ------------------------------------------------------------------------------

def test_modern_gutenberg_header_and_footer() -> None:
    raw = c.normalize_line_endings(read_writer("austen/Emma.txt"))
    body = c.strip_gutenberg_header_footer(raw)
    assert "*** START OF" not in body and "END OF THIS PROJECT GUTENBERG" not in body
    assert "Title: Emma" not in body
    assert "Emma Woodhouse, handsome, clever, and rich" in body
    assert body.rstrip().endswith("FINIS")


def test_old_small_print_header() -> None:
    raw = c.normalize_line_endings(read_writer("shakespeare/The Passionate Pilgrim.txt"))
    body = c.strip_gutenberg_header_footer(raw)
    assert "SMALL PRINT" not in body.upper()
    assert "End of Project Gutenberg Etext" not in body


def test_world_library_notices() -> None:
    raw = c.normalize_line_endings(read_writer("shakespeare/Macbeth.txt"))
    body = c.strip_world_library_notices(c.strip_gutenberg_header_footer(raw))
    assert "WORLD LIBRARY" not in body
    assert "When shall we three meet again?" in body


def test_gutenberg_rule_leaves_text_without_markers_alone() -> None:
    text = "Chapter 1\n\nIt was a bright cold day in April.\n"
    assert c.strip_gutenberg_header_footer(text) == text


def test_boilerplate_paragraphs() -> None:
    text = ("Produced by An Anonymous Volunteer\n\nEMMA\n\nThis eBook is for the use of anyone, see the "
            "Project Gutenberg License.\n\nShe was the youngest of the two daughters.")
    assert c.remove_boilerplate_paragraphs(text) == "EMMA\n\nShe was the youngest of the two daughters."
    assert c.remove_boilerplate_paragraphs("He produced a letter by the fire.") == "He produced a letter by the fire."


# -- notes, illustrations, footnotes, page numbers, contents -------------------------------------

def test_transcriber_note_heading_and_body_until_separator() -> None:
    text = ("Transcriber's Notes:\n\nIn the List of Illustrations I restored a missing single quote.\n\n"
            "The List uses 'visitor' where the poem uses 'visiter'.\n\n   *       *       *\n\nTHE RAVEN\n\nOnce upon")
    cleaned = c.remove_transcriber_notes(text)
    assert cleaned.startswith("THE RAVEN")


def test_transcriber_note_inline_and_bracketed() -> None:
    text = ("Transcriber's Note: Italics have been converted to capitals.\n\nCHAPTER I\n\n"
            "It was late [Transcriber's note: 'lat' in the original] at night.")
    cleaned = c.remove_transcriber_notes(text)
    assert "Transcriber" not in cleaned and "CHAPTER I" in cleaned and "It was late  at night." in cleaned


def test_transcriber_rule_keeps_a_story_that_mentions_notes() -> None:
    text = "She left him a note on the table.\n\nHe read the notes twice."
    assert c.remove_transcriber_notes(text) == text


def test_illustration_marks() -> None:
    text = ('[Illustration]\n\nElizabeth smiled.\n\n[Illustration: "_Mr. Darcy, I have never desired your good\n'
            'opinion_"]\n\nShe turned.')
    cleaned = c.remove_illustration_marks(text)
    assert "Illustration" not in cleaned and "Elizabeth smiled." in cleaned and "She turned." in cleaned
    assert c.remove_illustration_marks("[Aside] to Horatio") == "[Aside] to Horatio"


def test_footnotes() -> None:
    text = "The Duke[1] arrived.\n\n[Footnote 1: See the letter of 12 May [p. 3].]\n\nHe sat."
    cleaned = c.remove_footnotes(text)
    assert cleaned == "The Duke arrived.\n\n\n\nHe sat."
    assert c.remove_footnotes("[1] is a list marker at the start") == "[1] is a list marker at the start"


def test_page_numbers() -> None:
    text = "the end of a page[Pg 12] and\n\n  14  \n\nmore {15} text on 1906 lines like 42 sheep"
    cleaned = c.remove_page_numbers(text)
    assert "[Pg" not in cleaned and "{15}" not in cleaned and "\n  14  \n" not in cleaned
    assert "1906 lines like 42 sheep" in cleaned


def test_table_of_contents_with_gap() -> None:
    raw = c.normalize_line_endings(read_writer("carroll/Alice in Wonderland, Retold in Words of One Syllable.txt"))
    body = c.strip_gutenberg_header_footer(raw)
    cleaned = c.remove_tables_of_contents(body)
    assert "CONTENTS" not in cleaned
    assert "THE POOL OF TEARS" not in cleaned.split("DOWN THE RAB-BIT HOLE")[0]
    assert cleaned.count("CHAPTER I.\n") == 1  # the real chapter heading survives


def test_table_of_contents_without_gap_keeps_what_follows() -> None:
    text = "CONTENTS\n\nI. The Beginning\n\nII. The End\n\nCHAPTER I\n\n" + "It was a long tale, told slowly. " * 10
    cleaned = c.remove_tables_of_contents(text)
    assert "CONTENTS" not in cleaned and "CHAPTER I" in cleaned


# -- markup -------------------------------------------------------------------------------------

def test_html_tags_and_entities() -> None:
    assert c.remove_html_markup("<p class='x'>She <i>was</i>&nbsp;here.<br/></p><!-- note -->") == "She was here."
    assert c.remove_html_markup("if a < b and c > d") == "if a < b and c > d"


def test_markdown_blocks() -> None:
    text = "# The Raven\n\nSubtitle\n--------\n\n> Quoth the raven\n\n- first\n* second\n\n```\ncode\n```\n\n[1]: http://x"
    cleaned = c.remove_markdown_blocks(text)
    assert cleaned.split("\n")[0] == "The Raven"
    assert "Subtitle\n" in cleaned and "---" not in cleaned and ">" not in cleaned
    assert "first\nsecond" in cleaned and "```" not in cleaned and "http" not in cleaned


def test_inline_markup() -> None:
    text = "Between _them_ it was **very** *much* [a link](http://x.org) ![img](a.png) and `code`."
    assert c.remove_inline_markup(text) == "Between them it was very much a link  and code."
    # snake_case and arithmetic are not emphasis
    assert c.remove_inline_markup("file_name_here and 2*3*4") == "file_name_here and 2*3*4"


def test_scene_breaks() -> None:
    assert c.normalize_scene_breaks("a\n       *       *       *       *       *\nb") == "a\n* * *\nb"
    assert c.normalize_scene_breaks("a - b") == "a - b"


# -- paragraphs and verse ------------------------------------------------------------------------

PROSE = """Emma Woodhouse, handsome, clever, and rich, with a comfortable home
and happy disposition, seemed to unite some of the best blessings of
existence; and had lived nearly twenty-one years in the world with very
little to distress or vex her."""

RAVEN = """Once upon a midnight dreary, while I pondered, weak and weary,
Over many a quaint and curious volume of forgotten lore,
While I nodded, nearly napping, suddenly there came a tapping,
As of some one gently rapping, rapping at my chamber door.
"'Tis some visitor," I muttered, "tapping at my chamber door--
Only this, and nothing more.\""""

SONNET = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date:"""


def test_wrapped_prose_is_joined_into_one_line() -> None:
    assert c.unwrap_paragraphs(PROSE) == " ".join(PROSE.split("\n"))


def test_verse_keeps_its_lines_and_stanzas() -> None:
    text = RAVEN + "\n\n" + SONNET
    assert c.unwrap_paragraphs(text) == text


def test_dash_at_line_end_joins_without_space() -> None:
    assert c.unwrap_paragraphs("Sorrow came--\na gentle sorrow--but not at all in the shape of any") == \
        "Sorrow came--a gentle sorrow--but not at all in the shape of any"


def test_long_lines_are_paragraphs() -> None:
    long_a, long_b = "a " * 80 + "end.", "b " * 80 + "end."
    assert c.unwrap_paragraphs(f"{long_a}\n{long_b}") == f"{long_a}\n\n{long_b}"


def test_quotes_normalisation_is_optional() -> None:
    text = "“I do not know what your opinion may be,” said she, ‘perhaps.’"
    assert c.clean(text) == text
    assert c.clean(text, straight_quotes=True) == "\"I do not know what your opinion may be,\" said she, 'perhaps.'"


# -- the whole pipeline on real files -------------------------------------------------------------

def test_clean_austen() -> None:
    cleaned = c.clean(read_writer("austen/Pride and Prejudice.txt"))
    assert "Gutenberg" not in cleaned and "\r" not in cleaned and "[Illustration" not in cleaned
    assert "It is a truth universally acknowledged, that a single man in possession of a good fortune, " \
           "must be in want of a wife." in cleaned
    assert "\n\n\n" not in cleaned and "  " not in cleaned


def test_clean_raven_keeps_the_stanzas() -> None:
    cleaned = c.clean(read_writer("poe/The Raven.txt"))
    assert "Transcriber" not in cleaned and "Gutenberg" not in cleaned
    assert ("Once upon a midnight dreary, while I pondered, weak and weary,\n"
            "Over many a quaint and curious volume of forgotten lore,") in cleaned


def test_clean_sonnets_keeps_the_lines() -> None:
    cleaned = c.clean(read_writer("shakespeare/Shakespeare's Sonnets.txt"))
    assert "From fairest creatures we desire increase,\nThat thereby beauty's rose might never die," in cleaned
    assert "Gutenberg" not in cleaned


def test_clean_play_keeps_speeches_as_lines() -> None:
    cleaned = c.clean(read_writer("shakespeare/Macbeth.txt"))
    assert "FIRST WITCH. When shall we three meet again?\nIn thunder, lightning, or in rain?" in cleaned
    assert "ELECTRONIC VERSION" not in cleaned and "Gutenberg" not in cleaned


def test_clean_grimm_and_carroll() -> None:
    grimm = c.clean(read_writer("grimm/jacob/Grimms' Fairy Tales.txt"))
    assert "Gutenberg" not in grimm and "HANSEL AND GRETEL" in grimm
    alice = c.clean(read_writer("carroll/Alice's Adventures in Wonderland.txt"))
    assert "Alice was beginning to get very tired of sitting by her sister on the bank" in alice
    assert "Gutenberg" not in alice


def test_clean_real_files_is_idempotent() -> None:
    for relative in ("austen/Lady Susan.txt", "poe/The Raven.txt", "carroll/Phantasmagoria and Other Poems.txt"):
        once = c.clean(read_writer(relative))
        assert c.clean(once) == once, relative


# -- properties -----------------------------------------------------------------------------------

FRAGMENTS = [
    "*** START OF THIS PROJECT GUTENBERG EBOOK EMMA ***", "*** END OF THE PROJECT GUTENBERG EBOOK ***",
    "End of the Project Gutenberg EBook of Emma", "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*END*",
    "CONTENTS", "Transcriber's Notes:", "[Transcriber's Note: fixed]", "[Illustration: a cat]", "[Illustration",
    "[Footnote 1: see [Pg 3]]", "[Pg 12]", "{14}", "12", "XIV", "CHAPTER I", "* * *", "*", "_", "__", "**",
    "_them_", "*very*", "<i>", "</p>", "<br/>", "&nbsp;", "[link](http://x)", "![i](y)", "`", "# ", ">", "- ",
    "<<THIS ELECTRONIC VERSION IS COPYRIGHT>>", "Produced by Someone", "\u200b", "\ufeff", "\u00a0", "\t",
    "--", "—", "“", "’", "Once upon a midnight dreary, while I pondered, weak and weary,",
    "and happy disposition, seemed to unite some of the best blessings of", "Over many a quaint and curious",
    "a", "B", "x" * 120, "   ", "| a | b |", "+--+", "x + y = z",
]
SEPARATORS = ["", " ", "\n", "\n\n", "\r\n", "\r", "\n\n\n\n", "\r\r\n"]
texts = st.lists(st.tuples(st.sampled_from(FRAGMENTS) | st.text(max_size=12), st.sampled_from(SEPARATORS)),
                 max_size=40).map(lambda parts: "".join(f + s for f, s in parts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_clean_is_idempotent_on_hostile_text(text: str) -> None:
    once = c.clean(text)
    assert c.clean(once) == once


@settings(max_examples=150, deadline=None)
@given(texts)
def test_clean_markdown_mode_is_idempotent(text: str) -> None:
    once = c.clean(text, markdown=True)
    assert c.clean(once, markdown=True) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_clean_never_crashes_and_output_is_normalised(text: str) -> None:
    cleaned = c.clean(text)
    assert "\r" not in cleaned and "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip()
    assert c.clean(cleaned) == cleaned


def test_two_line_prose_starting_with_a_name_is_still_joined() -> None:
    prose = ("“Poor Miss Taylor!--I wish she were here again. What a pity it is that\n"
             "Mr. Weston ever thought of her!”")
    assert c.unwrap_paragraphs(prose) == prose.replace("\n", " ")
    couplet = ('"With a murmurous stir uncertain, in the air, the purple curtain\n'
               'Swelleth in and swelleth out around her motionless pale brows,"')
    assert c.unwrap_paragraphs(couplet) == couplet


def test_music_marks_of_song_books() -> None:
    assert c.remove_illustration_marks("Beautiful soup!\n\n[Music:]\n\nMore") == "Beautiful soup!\n\n\n\nMore"
    assert c.remove_illustration_marks("[Music plays softly]") == "[Music plays softly]"


def test_ascii_tables_and_diagrams() -> None:
    text = ("The answer is shown below.\n+------+-+----+\n| A = a | b = B |\n#=====H=====#\n"
            "He said: \"x + y = z\" and left.\n* * *")
    assert c.remove_ascii_drawings(text) == "The answer is shown below.\nHe said: \"x + y = z\" and left.\n* * *"
    assert c.remove_ascii_drawings("_Finis._\n_A_ _B_\n12/5/1890") == "_Finis._\n_A_ _B_\n12/5/1890"


def test_errata_by_transcriber_heading() -> None:
    text = "The end of the play.\n\nErrata Noted by Transcriber\n\nPage 12: 'teh' changed to 'the'."
    assert c.remove_transcriber_notes(text) == "The end of the play."
