"""The junk filter: what is never shown as ghost text, and what prose keeps."""

import pytest

from cw_desktop.ml.junk import clean_suggestion, is_junk, junk_start, streamable

CONTEXT = "She closed the book and knelt down to pray."


@pytest.mark.parametrize("suggestion", [
    " 107892435",
    " Visit https://example.com for more",
    " See www.gutenberg.org",
    " <div class=\"x\">",
    "\n\nQuestion: What did she pray for?",
    "\n\nIn this article we look at prayer.",
    "\n\n**Chapter 2**",
    "\n\n1. The first point",
    " Она молилась",
    " 她祈祷",
    " Then she rose.” And",  # closes a quotation nobody opened
])
def test_junk_is_recognised(suggestion: str) -> None:
    assert is_junk(suggestion, CONTEXT)


@pytest.mark.parametrize("suggestion", [
    " Then she rose, and went down to breakfast.",
    " It was the year 1811, and ten thousand pounds a year.",
    "\n\n“I am quite well,” said she.",
    " Mr. Darcy bowed; Mrs. Bennet said nothing at all.",
    " “Come,” she whispered.",
])
def test_prose_is_not_junk(suggestion: str) -> None:
    assert not is_junk(suggestion, CONTEXT)


def test_a_quotation_opened_in_the_draft_may_close_in_the_suggestion() -> None:
    assert not is_junk(" I shall,” said she.", "“Will you come?” he asked. “Yes,")


def test_junk_is_cut_off_and_the_good_words_before_it_kept() -> None:
    text, cut = clean_suggestion(" Amen. 107892435 and more", CONTEXT)
    assert (text, cut) == (" Amen.", True)
    assert junk_start(" Amen.", CONTEXT) is None


def test_a_growing_digit_run_is_held_back_while_streaming() -> None:
    assert streamable(" Amen. 107") == " Amen. "
    assert streamable(" in 18") == " in "
    assert streamable(" and so") == " and so"
