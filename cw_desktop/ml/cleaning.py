"""Cleaning: turn a manuscript's raw text into the prose and verse a model should learn from.

Every rule is a small pure function `str -> str`. `clean` runs them in order and repeats the
pass until the text stops changing (removing one mark can expose another: "_CONTENTS_" becomes a
CONTENTS heading), so cleaning is idempotent: clean(clean(x)) == clean(x). Real files settle in
one pass; the second pass only confirms it.

Output conventions (relied on by chapter splitting and the dataset):
  - "\n" line endings, no trailing spaces, no leading indentation;
  - paragraphs separated by exactly one blank line ("\n\n");
  - a prose paragraph is one line; verse keeps one line per verse line, stanzas are paragraphs.

All patterns are linear regular expressions or single passes over lines: the whole 62 MB test
corpus must clean in well under a minute on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# -- line endings and invisible characters -------------------------------------------------------

_STRAY_CR = re.compile(r"\r+\n?")
_UNICODE_NEWLINES = re.compile(r"[\u2028\u2029\x85]")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def normalize_line_endings(text: str) -> str:
    """CRLF, CR, doubled CR (\\r\\r\\n from a botched conversion) and Unicode separators -> \\n."""
    text = text.replace("\r\n", "\n")  # the common case first: a plain replace is 20x faster
    if "\r" in text:
        text = _STRAY_CR.sub("\n", text)
    if "\u2028" in text or "\u2029" in text or "\x85" in text:
        text = _UNICODE_NEWLINES.sub("\n", text)
    return text


def remove_invisible_characters(text: str) -> str:
    """Zero-width spaces/joiners, stray BOMs and soft hyphens: invisible to the writer, noise to a model."""
    return _INVISIBLE.sub("", text)


# -- Project Gutenberg boilerplate ---------------------------------------------------------------

# The last line of the header. Modern files: "*** START OF THE PROJECT GUTENBERG EBOOK X ***";
# 1990s files end their licence with "*END*THE SMALL PRINT! ..." or ["Small Print" V.12.08.93].
_PG_HEADER_END = re.compile(
    r"^[^\n]*(?:\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG|\*END\*\s*THE SMALL PRINT"
    r"|\[\"Small Print\" V\.)[^\n]*$", re.M | re.I)
# The first line of the footer: "*** END OF THE PROJECT GUTENBERG EBOOK", "End of the Project
# Gutenberg EBook of", "End of Project Gutenberg's X", "End of this Etext of", ...
_PG_FOOTER_START = re.compile(
    r"^\W*(?:\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG|(?:The )?End of (?:the |this )?Project Gutenberg"
    r"|End of (?:the |this )?(?:Project Gutenberg )?E-?text)", re.M | re.I)
# The World Library Shakespeare files repeat a copyright notice in <<...>> between acts.
_WORLD_LIBRARY_NOTICE = re.compile(r"<<[^<>]{0,1500}?(?:ELECTRONIC VERSION|COPYRIGHT)[^<>]{0,1500}?>>", re.I)


_HEADER_NEEDLES = ("start of the project gutenberg", "start of this project gutenberg", "the small print",
                   '["small print" v.')
_FOOTER_NEEDLES = ("end of the project gutenberg", "end of this project gutenberg", "end of project gutenberg",
                   "end of the etext", "end of this etext", "end of etext", "end of the e-text",
                   "end of this e-text", "end of the project gutenberg etext", "end of this project gutenberg etext")


def _marker_lines(text: str, lowered: str, needles: tuple[str, ...], pattern: re.Pattern[str],
                  start: int = 0) -> list[re.Match[str]]:
    """Matches of `pattern` on the lines that contain one of `needles`, in text order.

    str.find on the lower-cased text finds the few candidate lines far faster than running a
    case-insensitive, line-anchored pattern over the whole file."""
    line_starts: set[int] = set()
    for needle in needles:
        position = lowered.find(needle, start)
        while position >= 0:
            line_starts.add(text.rfind("\n", 0, position) + 1)
            position = lowered.find(needle, position + len(needle))
    matches = []
    for line_start in sorted(line_starts):
        line_end = text.find("\n", line_start)
        match = pattern.match(text, line_start, len(text) if line_end < 0 else line_end)
        if match is not None and match.start() >= start:
            matches.append(match)
    return matches


def strip_gutenberg_header_footer(text: str) -> str:
    """Keep only what lies between the Project Gutenberg header and footer (when present)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # rare characters lower-case to two; fall back to the plain search
        headers = list(_PG_HEADER_END.finditer(text))
        footers = list(_PG_FOOTER_START.finditer(text))
    else:
        headers = _marker_lines(text, lowered, _HEADER_NEEDLES, _PG_HEADER_END)
        footers = _marker_lines(text, lowered, _FOOTER_NEEDLES, _PG_FOOTER_START)
    first_header_end = headers[0].end() if headers else 0
    footer = next((f for f in footers if f.start() >= first_header_end), None)
    end = footer.start() if footer else len(text)
    start = 0
    for match in headers:
        if match.start() < end:
            start = match.end()
    if start == 0 and end == len(text):
        return text
    return text[start:end]


def strip_world_library_notices(text: str) -> str:
    return _WORLD_LIBRARY_NOTICE.sub("", text)


# Paragraphs that talk about the file rather than tell the story: licence and production credits
# left outside (or inside) the markers, e.g. "Produced by ... Online Distributed Proofreading Team".
_BOILERPLATE_PARAGRAPH = re.compile(
    r"project gutenberg|gutenberg\.(?:org|net)|gutenberg\s*#\s*\d|gutenberg-tm|\bpgdp\b|\be-?texts?\b|distributed proofread"
    r"|this file should be named|^\W*(?:produced|prepared|transcribed) by\b|^character set encoding:"
    r"|^(?:release|posting) date:|^last updated:|^\W*\[?e-?book #\d+", re.I | re.M)


def is_boilerplate(paragraph: str) -> bool:
    return _BOILERPLATE_PARAGRAPH.search(paragraph) is not None


# Every boilerplate match contains one of these; str.find on the lower-cased text locates the few
# candidate paragraphs much faster than the full case-insensitive pattern over the whole text.
_BOILERPLATE_NEEDLES = ("gutenberg", "pgdp", "etext", "e-text", "proofread", "should be named", "produced by",
                        "prepared by", "transcribed by", "encoding:", "date:", "updated:", "book #")


def remove_boilerplate_paragraphs(text: str) -> str:
    """Drop every blank-line-separated paragraph that matches a boilerplate pattern."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two; positions would not align
        lowered = text
    candidates: set[int] = set()
    for needle in _BOILERPLATE_NEEDLES:
        position = lowered.find(needle)
        while position >= 0:
            start = text.rfind("\n\n", 0, position)
            candidates.add(0 if start < 0 else start + 2)
            position = lowered.find(needle, position + len(needle))
    spans: list[tuple[int, int]] = []
    for start in sorted(candidates):
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end + 2  # the paragraph and the blank line after it
        if is_boilerplate(text[start:end]):
            spans.append((start, end))
    if not spans:
        return text
    parts: list[str] = []
    previous = 0
    for start, end in spans:
        parts.append(text[previous:start])
        previous = end
    parts.append(text[previous:])
    return "".join(parts)


# -- transcriber's notes, illustrations, footnotes, page numbers ----------------------------------

# Bracketed marks end at the first "]" and never contain "[": an unclosed mark then costs one short
# scan instead of one long scan per occurrence.
_TRANSCRIBER_BRACKET = re.compile(r"\[\s*Transcriber['’]?s?\s+Notes?\b[^\[\]]{0,3000}\]", re.I)
_TRANSCRIBER_HEADING = re.compile(
    r"^\W*(?:Transcriber['’]?s?\s+(?:Notes?|Errata)\b|[\w ]{0,30}\bby (?:the )?transcriber\b)", re.I)
# Words that mark a paragraph as part of a transcriber's note ("Page 12: 'teh' changed to 'the'").
_NOTE_LIKE = re.compile(
    r"\bchanged\b|\bcorrected\b|\bpage \d|\boriginal\b|\bitalics?\b|\bspelling\b|\bpunctuation\b"
    r"|\bprinter|\btypographical|\bretained\b|\bindicated\b|\brepresented\b|\bsymbol\b|\bhyphenation\b"
    r"|\bsilently\b|\binconsisten|\btranscriber|\badded\b|\bbrackets\b|\brestored\b|\bmissing\b"
    r"|\berrors?\b|\bnotes?\b", re.I)
# [Illustration: ...] and relatives; a bare [Music:] stands for a score image in song books (a
# "[Music plays]" stage direction is the writer's own and stays).
_ILLUSTRATION = re.compile(r"\[\s*(?:(?:Illustration|Frontispiece|Sidenote|Decoration)\b[^\[\]]{0,2000}"
                           r"|(?:Music|Image|Picture):?\s*)\]", re.I)
_FOOTNOTE_BLOCK = re.compile(r"\[\s*Footnote\b[^\[\]]{0,5000}(?:\[[^\[\]]{0,200}\][^\[\]]{0,5000})*\]", re.I)
_FOOTNOTE_ANCHOR = re.compile(r"\[(?:\d{1,3}|[A-Z]|[*†‡])\]")
_PAGE_MARK = re.compile(r"\[\s*(?:Pg|Page|p\.)\s*[\dIVXLCivxlc]+\s*\]|\{\s*(?:Pg\s*)?\d{1,4}\s*\}")
_NUMBER_LINE = re.compile(r"^[ \t]*\d{1,4}[ \t]*$", re.M)


_SEPARATOR_BLOCK = re.compile(r"^[ \t]*(?:[*•·~=_-][ \t]*){3,}$")


def remove_transcriber_notes(text: str) -> str:
    """Drop bracketed notes everywhere, and 'Transcriber's Note' paragraphs. After a bare
    'Transcriber's Notes:' heading, its body goes too: everything up to a separator line
    ('* * *') when one follows closely, otherwise the note-like paragraphs that follow."""
    text = _TRANSCRIBER_BRACKET.sub("", text)
    if "ranscriber" not in text and "RANSCRIBER" not in text:
        return text
    blocks = [block for block in re.split(r"\n[ \t]*\n", text)]
    kept: list[str] = []
    index = 0
    while index < len(blocks):
        stripped = blocks[index].strip()
        if not _TRANSCRIBER_HEADING.match(stripped):
            kept.append(blocks[index])
            index += 1
            continue
        index += 1
        if len(stripped) > 40:  # the note is this paragraph
            continue
        # A separator closes the note only when what lies before it looks like notes (a few short
        # paragraphs), never pages of story before the first scene break.
        ahead = next((i for i in range(index, min(len(blocks), index + 10))
                      if _SEPARATOR_BLOCK.match(blocks[i].strip())), None)
        if ahead is not None and all(len(blocks[i]) < 600 for i in range(index, ahead)):
            index = ahead + 1
            continue
        skipped = 0
        while index < len(blocks) and skipped < 30:
            body = blocks[index].strip()
            if body and not _NOTE_LIKE.search(body):
                break
            index += 1
            skipped += 1
    return "\n\n".join(kept)


def remove_illustration_marks(text: str) -> str:
    """[Illustration], [Illustration: caption], [Frontispiece: ...], [Sidenote: ...], [Music:]."""
    return _ILLUSTRATION.sub("", text)


def remove_footnotes(text: str) -> str:
    """[Footnote 1: ...] blocks (editors' notes) and the [1] anchors pointing to them."""
    text = _FOOTNOTE_BLOCK.sub("", text) if "[F" in text or "[f" in text else text
    # An anchor hugs the word before it ("Duke[1]"); "[1]" at the start of a line is a list marker.
    # The check is done in Python because a pattern starting with a look-behind is slow.
    return _FOOTNOTE_ANCHOR.sub(lambda m: "" if m.start() > 0 and not text[m.start() - 1].isspace()
                                else m.group(0), text)


def remove_page_numbers(text: str) -> str:
    """[Pg 12], {12} and lines that hold nothing but a number."""
    return _NUMBER_LINE.sub("", _PAGE_MARK.sub("", text))


# -- tables of contents ----------------------------------------------------------------------------

_CONTENTS_HEADING = re.compile(
    r"^[ \t]*(?:table of contents|contents|list of (?:illustrations|plates)|illustrations)\.?:?[ \t]*$",
    re.I | re.M)
_TOC_MAX_LINES = 250
_TOC_MAX_LINE_CHARS = 90


def remove_tables_of_contents(text: str) -> str:
    """Drop a CONTENTS heading and its entries.

    Entries are the short lines after the heading, up to the first gap of three or more blank
    lines (how Project Gutenberg separates front matter from the text). Without such a gap, or
    when a long prose line comes first, only the heading is dropped: losing the first chapter
    heading would be worse than keeping a list of titles.
    """
    if _CONTENTS_HEADING.search(text) is None:
        return text
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not _CONTENTS_HEADING.match(line):
            out.append(line)
            index += 1
            continue
        end = _toc_end(lines, index + 1)
        index = end if end is not None else index + 1
    return "\n".join(out)


def _toc_end(lines: list[str], start: int) -> int | None:
    """Index just past the entries of a table of contents starting at `start`, or None."""
    blank_run = 0
    seen_entry = False
    for index in range(start, min(len(lines), start + _TOC_MAX_LINES)):
        line = lines[index].strip()
        if not line:
            blank_run += 1
            if seen_entry and blank_run >= 3:
                return index
            continue
        blank_run = 0
        if len(line) > _TOC_MAX_LINE_CHARS or _CONTENTS_HEADING.match(line):
            return None
        seen_entry = True
    return None


# -- markup ---------------------------------------------------------------------------------------

_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|blockquote|body|br|center|cite|code|dd|del|div|dl|dt|em|font|h[1-6]|head|hr|html"
    r"|i|img|ins|kbd|li|mark|ol|p|pre|q|s|small|span|strike|strong|sub|sup|table|tbody|td|th|thead|tr|tt"
    r"|u|ul|section|article|header|footer|figure|figcaption|title|meta|link)\b[^<>]{0,500}/?>", re.I)
_HTML_COMMENT = re.compile(r"<!--.{0,5000}?-->", re.S)
_HTML_ENTITIES = {"&nbsp;": " ", "&mdash;": "—", "&ndash;": "–", "&hellip;": "…", "&rsquo;": "’",
                  "&lsquo;": "‘", "&rdquo;": "”", "&ldquo;": "“"}
_HTML_ENTITY = re.compile("|".join(map(re.escape, _HTML_ENTITIES)))


def remove_html_markup(text: str) -> str:
    """Tags and comments left by conversions (<i>, <br/>, <p class=...>) and the typographic entities
    a writer never typed. &amp;/&lt;/&gt; stay: decoding them could create new tags."""
    text = _HTML_COMMENT.sub("", text)
    text = _HTML_TAG.sub("", text)
    return _HTML_ENTITY.sub(lambda m: _HTML_ENTITIES[m.group(0)], text)


_MD_FENCE = re.compile(r"^[ \t]*(?:```|~~~)[^\n]*$", re.M)
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_MD_SETEXT = re.compile(r"(?<=\S)([ \t]*\n)[ \t]*(?:=+|-{2,})[ \t]*$", re.M)
_MD_BLOCKQUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M)
# Bullets, possibly nested ("* - item"); a line of markers only ("* * *") is a rule, not a list.
_MD_BULLET = re.compile(r"^[ \t]*(?:[-+*][ \t]+)+(?=[^\s*+-])", re.M)
_MD_REFERENCE = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*\S+.*$", re.M)
_MD_HARD_BREAK = re.compile(r"(?:[ \t]{2,}|\\)$", re.M)


def remove_markdown_blocks(text: str) -> str:
    """Line-level Markdown: headings (# and underlined), code fences, block quotes, list bullets,
    reference-link definitions, hard-break markers. Only for Markdown files: in plain text a line
    starting with '#' or '>' is the writer's own."""
    text = _MD_FENCE.sub("", text)
    text = _MD_REFERENCE.sub("", text)
    text = _MD_HEADING.sub(r"\1", text)
    text = _MD_SETEXT.sub(r"\1", text)
    text = _MD_BLOCKQUOTE.sub("", text)
    text = _MD_BULLET.sub("", text)
    return _MD_HARD_BREAK.sub("", text)


_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\([^)\n]{0,1000}\)")
_MD_LINK = re.compile(r"\[([^\]\n]{1,500})\]\([^)\n]{0,1000}\)")
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]{1,1000}>")
_INLINE_CODE = re.compile(r"`([^`\n]{1,500})`")
# Emphasis: a run of * or _ hugging a word on both sides. The content may not contain the marker,
# so nested/adjacent runs are peeled by applying the rule until nothing changes.
_EMPHASIS = re.compile(
    r"(?<![\w*])(\*{1,3})(?=[^\s*])([^*\n]{1,2000}?)(?<=[^\s*])\1(?![\w*])"
    r"|(?<![\w])(_{1,3})(?=[^\s_])([^_\n]{1,2000}?)(?<=[^\s_])\3(?!\w)")


def _remove_inline_markup_paragraph(text: str) -> str:
    if "[" in text:
        text = _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", text))
    if "<" in text:
        text = _AUTOLINK.sub("", text)
    if "`" in text:
        text = _INLINE_CODE.sub(r"\1", text)
    for _ in range(4):
        if "*" not in text and "_" not in text:
            break
        new = _EMPHASIS.sub(lambda m: m.group(2) if m.group(1) else m.group(4), text)
        if new == text:
            break
        text = new
    return text


def remove_inline_markup(text: str) -> str:
    """Markdown images, links (keep the link text), inline code and *emphasis* / _italics_
    (Project Gutenberg marks italics with underscores)."""
    # Checked per paragraph: most paragraphs hold no marker at all, and the emphasis pattern is
    # the slowest regex in the pipeline.
    return "\n\n".join(_remove_inline_markup_paragraph(p) if ("*" in p or "_" in p or "[" in p
                         or "`" in p or "<" in p) else p for p in text.split("\n\n"))


# -- whitespace, paragraphs and verse --------------------------------------------------------------

_SPACE_CHARS = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000\f\v"
# Only runs that are not already a single plain space: most text has no other kind.
_SPACES = re.compile(rf"[^\S\n ][{_SPACE_CHARS}]*| [{_SPACE_CHARS}]+")
_RULE_LINE = re.compile(r"^[ \t]*(?:[*•·~=_-][ \t]*){3,}$", re.M)


def normalize_scene_breaks(text: str) -> str:
    """Lines of only asterisks, dashes or similar ('*       *       *') become a plain '* * *'."""
    return _RULE_LINE.sub("* * *", text)


# Underscores are left out: "_Finis._" is italics, not a drawing.
_DRAWING_CHARS = re.compile(r"[|+=\\/#{}<>~^]")
_DRAWING_HINT = re.compile(r"[|+#=]")
# A line where this share of characters are box-drawing symbols is a table or a diagram.
DRAWING_SHARE = 0.25


def remove_ascii_drawings(text: str) -> str:
    """Lines of ASCII tables and diagrams (logic books, accounts): "+------+-+----+ | | |"."""
    if _DRAWING_HINT.search(text) is None:
        return text
    kept = [line for line in text.split("\n")
            if len(line) < 4 or not _DRAWING_HINT.search(line)
            or len(_DRAWING_CHARS.findall(line)) < DRAWING_SHARE * len(line.replace(" ", ""))]
    return "\n".join(kept)


def normalize_spaces(text: str) -> str:
    """Tabs and exotic spaces become one space; lines lose indentation and trailing spaces."""
    return "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))


# A line this long is a whole paragraph (a word processor's), never a hard-wrapped line.
PARAGRAPH_LINE_CHARS = 100
# Verse: most lines of the block start with a capital letter, as poems and plays do.
VERSE_CAPITAL_SHARE = 0.7
_FIRST_LETTER = re.compile(r"[^\W\d_]")


def starts_with_capital(line: str) -> bool | None:
    """Whether the first letter of the line is a capital (None when the line has no letter)."""
    if line[:1].isalpha():  # the common case, without a regex
        return line[0].isupper()
    match = _FIRST_LETTER.search(line)
    return None if match is None else match.group(0).isupper()


_ENDS_MID_PHRASE = re.compile(
    r"\b(?:a|an|the|of|to|in|on|at|by|for|with|from|that|which|who|and|but|or|as|than|if|is|was|were"
    r"|be|been|had|have|has|not|my|his|her|their|our|your|its|this|these|those|so|very|Mr|Mrs|Dr)\.?$")
# Hard-wrapped prose fills its lines to the wrap width (~70 characters in Project Gutenberg files).
WRAPPED_LINE_CHARS = 60


def looks_hard_wrapped(lines: list[str]) -> bool:
    """Every line but the last is long and most of them stop mid-sentence (no punctuation at the
    end): wrapped prose, even when the next line happens to start with a capital ("Mr. Weston")."""
    body = lines[:-1]
    if not body or any(len(line) < WRAPPED_LINE_CHARS for line in body):
        return False
    if len(body) == 1:
        # One long line and a short one could as well be a couplet of long verse lines; only a
        # line that ends on a word no verse line ends on ("... What a pity it is that") says prose.
        return _ENDS_MID_PHRASE.search(body[0]) is not None
    open_ended = sum(1 for line in body if line[-1].isalnum())
    return open_ended * 2 >= len(body)


def is_verse(lines: list[str]) -> bool:
    """A block of short lines that mostly begin with capitals is verse (poem stanza, speech in a
    play); hard-wrapped prose continues mid-sentence, so its lines mostly begin in lower case."""
    if looks_hard_wrapped(lines):
        return False
    starts = [s for s in (starts_with_capital(line) for line in lines[1:]) if s is not None]
    if not starts:
        return True
    return sum(starts) / len(starts) >= VERSE_CAPITAL_SHARE


def join_wrapped(lines: list[str]) -> str:
    """Hard-wrapped prose lines -> one line; a dash at the end of a line joins without a space."""
    out = lines[0]
    for line in lines[1:]:
        out += line if out.endswith(("--", "—")) else " " + line
    return out


def unwrap_block(lines: list[str]) -> list[str]:
    """One blank-line-separated block -> its paragraphs (each a string; verse keeps its \\n)."""
    if len(lines) == 1:
        return lines
    if any(len(line) > PARAGRAPH_LINE_CHARS for line in lines):
        return lines  # one paragraph per line, as word processors export
    if is_verse(lines):
        return ["\n".join(lines)]
    return [join_wrapped(lines)]


def split_blocks(text: str) -> list[list[str]]:
    """Blank-line-separated blocks of non-empty lines."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def unwrap_paragraphs(text: str) -> str:
    """Normalised lines -> paragraphs separated by one blank line; wrapped prose joined, verse kept."""
    paragraphs: list[str] = []
    for block in split_blocks(text):
        paragraphs.extend(unwrap_block(block))
    return "\n\n".join(paragraphs)


_JUNK_LINE = re.compile(r"^(?:\d{1,4}|[^\w\n]{1,3}|_{1,3})\n", re.M)
_SPACE_AROUND_NEWLINE = re.compile(r" +\n *|\n +")
_DOUBLE_SPACES = re.compile(r" {2,}")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def tidy_paragraphs(text: str) -> str:
    """Final pass: collapse spaces left by removed marks, drop lines that became empty or hold only
    a number or stray punctuation (a removed mark's remains), one blank line between paragraphs.

    normalize_spaces already ran in this pass, so only plain spaces can be left over; cheap
    substring checks skip the regexes when there is nothing to do (the common case)."""
    if "  " in text:
        text = _DOUBLE_SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _JUNK_LINE.sub("\n", text.strip(" ") + "\n")
    if "\n\n\n" in text:
        text = _EXTRA_BLANK_LINES.sub("\n\n", text)
    return remove_boilerplate_paragraphs(text.strip("\n") + "\n\n").strip("\n")


# -- quotes ---------------------------------------------------------------------------------------

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                         "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "″": '"'})


def normalize_quotes(text: str) -> str:
    """Curly quotes -> straight quotes (optional: many writers want their typography kept)."""
    return text.translate(_QUOTES)


# -- the pipeline ---------------------------------------------------------------------------------

Rule = Callable[[str], str]

# Rules that need the raw layout (markers, blank-line gaps, line starts), in order.
RAW_RULES: tuple[Rule, ...] = (
    normalize_line_endings,
    remove_invisible_characters,
    strip_gutenberg_header_footer,
    strip_world_library_notices,
    remove_tables_of_contents,
    remove_transcriber_notes,
    remove_illustration_marks,
    remove_footnotes,
    remove_page_numbers,
)


def clean_once(text: str, *, markdown: bool = False, straight_quotes: bool = False) -> str:
    """One pass of every rule, in order."""
    for rule in RAW_RULES:
        text = rule(text)
    if markdown:
        text = remove_markdown_blocks(text)
    text = remove_html_markup(text)
    text = normalize_scene_breaks(text)
    text = remove_ascii_drawings(text)
    text = normalize_spaces(text)
    # Boilerplate is judged per paragraph, so only after unwrapping has decided what a paragraph is
    # (an RTF or DOCX export has one paragraph per line and no blank lines at all).
    text = unwrap_paragraphs(text)
    text = remove_boilerplate_paragraphs(text)
    # Inline marks may span a hard-wrapped line break, so they go after unwrapping.
    text = remove_inline_markup(text)
    text = remove_illustration_marks(text)
    text = tidy_paragraphs(text)
    if straight_quotes:
        text = normalize_quotes(text)
    return text


# Removing one mark can expose another ("_CONTENTS_" becomes a CONTENTS heading); a few passes
# reach the fixed point. Real texts almost always settle after the second (checking) pass.
MAX_PASSES = 4


def clean(text: str, *, markdown: bool = False, straight_quotes: bool = False) -> str:
    """Raw extracted text -> clean paragraphs (see the module docstring for the output format).

    markdown: also remove line-level Markdown syntax (for .md files).
    straight_quotes: replace curly quotes with straight ones.
    Idempotent: the rules are repeated until the text no longer changes.
    """
    text = clean_once(text, markdown=markdown, straight_quotes=straight_quotes)
    for _ in range(MAX_PASSES - 1):
        again = clean_once(text, markdown=markdown, straight_quotes=straight_quotes)
        if again == text:
            break
        text = again
    return text


def count_words(text: str) -> int:
    return len(text.split())
