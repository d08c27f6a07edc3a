"""Junk in ghost text: what a small model emits that no writer wants to see inline.

A suggestion is cut just before its first piece of junk (or dropped when it starts with one):
runs of digits ("...knelt down to pray. 107892435"), web addresses, markup, the phrasing of quiz
sheets and assistant chat ("Question:", "In this article"), a switch to a script the draft does not
use, and quotation marks that close a quotation never opened. Plain Python; the engine calls
`junk_start` on every decoding step, so it stays a handful of regular expressions.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_PATTERNS = [
    r"\d{5,}",  # ids, phone numbers, page dumps; years (1811) and sums (10,000) stay
    r"https?:|www\.|\b[\w.-]+\.(?:com|org|net|html?|php)\b|\S+@\S+\.\w",
    r"</?[a-zA-Z][^>\n]{0,40}>|\[\[|\]\]|\{\{|\}\}|```|\]\(|&[a-z]{2,6};|\\[a-z]{3,}\{|\|\s*\|",
    r"^\s*(?:#{1,6} |[*\-•] \w|\d+[.)] \w)",  # headings, bullets, numbered lists
    r"\*\*|__",
    r"\b(?:Question|Answer|Q|A|Solution|Explanation|Options?|Exercise|Summary|Instructions?|Note|Output|"
    r"Input|Translation|Example|Step \d+|User|Assistant|Hint)\s*:",
    r"\b(?:In this (?:article|essay|post|chapter|passage|lesson|section|story)|As an AI|I'm sorry, but|"
    r"Here (?:is|are) (?:a|an|the|some) |Let's (?:break|take a look|analy[sz]e)|Sure[!,] |Click here|Read more|"
    r"(?:This|The) (?:passage|text|excerpt) (?:is|describes|tells)|Choose the|Which of the following|"
    r"True or False|Fill in the blank|Copyright|All rights reserved)",
]
_JUNK = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.MULTILINE)
_HELD_BACK = re.compile(r"(?:\d+|https?|www|<[^>\s]*|\[|\{|\*|_|&\w*)$")


def _script(char: str) -> str:
    """'LATIN', 'CYRILLIC', 'CJK', ... for a letter; '' for anything else."""
    if not char.isalpha():
        return ""
    try:
        return unicodedata.name(char).split(" ")[0]
    except ValueError:
        return ""


@functools.lru_cache(maxsize=8)
def _scripts_of(context_tail: str) -> frozenset[str]:
    """The scripts a draft's end uses. Cached: the engine asks on every decoding step with the same
    draft, and naming 2,000 characters costs milliseconds, as much as a llama.cpp decoding step."""
    return frozenset({_script(c) for c in context_tail} - {""}) or frozenset({"LATIN"})


def _foreign_script_start(text: str, context: str) -> int | None:
    """Where `text` starts writing in a script the context does not use (a switch of language)."""
    known = _scripts_of(context[-2000:])
    for index, char in enumerate(text):
        script = _script(char)
        if script and script not in known:
            return index
    return None


def _unopened_quote_start(text: str, context: str) -> int | None:
    """A closing quotation mark in `text` with no opening one before it in the same paragraph."""
    paragraph = context[context.rfind("\n") + 1:]
    depth = paragraph.count("“") - paragraph.count("”")
    for index, char in enumerate(text):
        if char == "\n":
            depth = 0
        elif char == "“":
            depth += 1
        elif char == "”":
            if depth <= 0:
                return index
            depth -= 1
    return None


def junk_start(text: str, context: str = "") -> int | None:
    """Index in `text` (a suggestion continuing `context`) where junk begins, or None if it is clean."""
    found = [i for i in (_first_match(text), _foreign_script_start(text, context),
                         _unopened_quote_start(text, context)) if i is not None]
    return min(found) if found else None


def _first_match(text: str) -> int | None:
    match = _JUNK.search(text)
    return match.start() if match else None


def is_junk(text: str, context: str = "") -> bool:
    return junk_start(text, context) is not None


def clean_suggestion(text: str, context: str = "") -> tuple[str, bool]:
    """(the part of `text` before any junk, whether junk was cut off), trailing spaces dropped."""
    start = junk_start(text, context)
    if start is None:
        return text, False
    return text[:start].rstrip(" \t\n"), True


def streamable(text: str) -> str:
    """What of a suggestion still being decoded may be shown: an unfinished run of digits, tag or
    address at its end is held back until the next tokens show whether it is junk."""
    return _HELD_BACK.sub("", text)
