"""Export chapters to one .docx, .odt, .epub or .md file, each chapter under its own heading.

Each format is written with the library the app already depends on for reading it (python-docx,
odfpy, ebooklib), so the app's own importer (ml/readers.py) reads every export back; the whole
file is built in memory and written atomically, so a failed export never leaves half a book.
Plain Python: the GUI runs it through workers/project_export_worker.py.

A chapter's text keeps its structure: a blank line separates paragraphs, a single line break
stays a line break (verse, letters).
"""

from __future__ import annotations

import html
import io
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cw_desktop.core.atomic import atomic_write_bytes

FORMATS = ("docx", "odt", "epub", "md")
FORMAT_NAMES = {"docx": "Word document (*.docx)", "odt": "OpenDocument text (*.odt)",
                "epub": "EPUB e-book (*.epub)", "md": "Markdown (*.md)"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


class ExportError(Exception):
    """The export could not be written; the message names the file. Nothing was written."""


@dataclass(frozen=True)
class ExportChapter:
    heading: str
    text: str


def chapter_from_file(relative: str, text: str) -> ExportChapter:
    """The heading is the chapter's own first-line Markdown heading ("# The Storm") when it has
    one (then not repeated in the text), else its file name without the extension."""
    lines = text.lstrip("\n").split("\n", 1)
    found = _MD_HEADING.match(lines[0]) if lines and lines[0] else None
    if found:
        return ExportChapter(found.group(1).strip(), lines[1] if len(lines) > 1 else "")
    return ExportChapter(PurePosixPath(relative).stem, text)


def paragraphs(text: str) -> list[list[str]]:
    """Paragraphs (separated by blank lines), each a list of its lines."""
    # Control characters (a form feed from an old file) cannot be stored in the XML formats.
    text = _NOT_XML.sub("", text.replace("\r\n", "\n"))
    blocks = re.split(r"\n(?:[ \t]*\n)+", text.strip("\n"))
    return [[line.rstrip() for line in block.split("\n")] for block in blocks if block.strip()]


# -- the formats ----------------------------------------------------------------------------------

def to_markdown(chapters: list[ExportChapter], title: str) -> bytes:
    parts = [f"# {title}\n"] if title else []
    level = "##" if title else "#"
    for chapter in chapters:
        # Two trailing spaces keep a line break inside a paragraph in Markdown.
        body = "\n\n".join("  \n".join(lines) for lines in paragraphs(chapter.text))
        parts.append(f"{level} {chapter.heading}\n\n{body}\n" if body else f"{level} {chapter.heading}\n")
    return "\n".join(parts).encode("utf-8")


def to_docx(chapters: list[ExportChapter], title: str) -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.core_properties.title = title
    if title:
        document.add_heading(title, level=0)
    for number, chapter in enumerate(chapters):
        heading = document.add_heading(chapter.heading, level=1)
        if number or title:
            heading.paragraph_format.page_break_before = True  # each chapter starts a page
        for lines in paragraphs(chapter.text):
            paragraph = document.add_paragraph()
            for index, line in enumerate(lines):
                run = paragraph.add_run(line)
                if index < len(lines) - 1:
                    run.add_break(WD_BREAK.LINE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def to_odt(chapters: list[ExportChapter], title: str) -> bytes:
    from odf import teletype
    from odf.opendocument import OpenDocumentText
    from odf.style import ParagraphProperties, Style, TextProperties
    from odf.text import H, LineBreak, P

    document = OpenDocumentText()
    heading_style = Style(name="Heading 1", family="paragraph")
    heading_style.addElement(TextProperties(fontsize="18pt", fontweight="bold"))
    heading_style.addElement(ParagraphProperties(breakbefore="page", marginbottom="0.4cm"))
    title_style = Style(name="Title", family="paragraph")
    title_style.addElement(TextProperties(fontsize="26pt", fontweight="bold"))
    document.styles.addElement(heading_style)
    document.styles.addElement(title_style)
    if title:
        document.text.addElement(P(stylename=title_style, text=title))
    for chapter in chapters:
        document.text.addElement(H(outlinelevel=1, stylename=heading_style, text=chapter.heading))
        for lines in paragraphs(chapter.text):
            paragraph = P()
            for index, line in enumerate(lines):
                teletype.addTextToElement(paragraph, line)  # runs of spaces and tabs kept
                if index < len(lines) - 1:
                    paragraph.addElement(LineBreak())
            document.text.addElement(paragraph)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def to_epub(chapters: list[ExportChapter], title: str) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book_title = title or "Untitled"
    # The same book exported twice gets the same identifier: e-readers treat it as one book.
    book.set_identifier(str(uuid.uuid5(uuid.NAMESPACE_URL, f"cw-desktop:{book_title}")))
    book.set_title(book_title)
    book.set_language("en")
    items = []
    if title:  # a title page, as a printed book has
        title_page = epub.EpubHtml(title=title, file_name="title.xhtml", lang="en")
        title_page.content = f"<h1>{html.escape(title)}</h1>"
        book.add_item(title_page)
    for number, chapter in enumerate(chapters, start=1):
        body = "".join("<p>" + "<br/>".join(html.escape(line) for line in lines) + "</p>"
                       for lines in paragraphs(chapter.text))
        item = epub.EpubHtml(title=chapter.heading, file_name=f"chapter_{number:03d}.xhtml", lang="en")
        item.content = f"<h1>{html.escape(chapter.heading)}</h1>{body}"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *([title_page] if title else []), *items]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book)
    return buffer.getvalue()


WRITERS: dict[str, Callable[[list[ExportChapter], str], bytes]] = {
    "docx": to_docx, "odt": to_odt, "epub": to_epub, "md": to_markdown}


def format_of(target: str | os.PathLike[str]) -> str | None:
    suffix = Path(target).suffix.lower().lstrip(".")
    return {"markdown": "md"}.get(suffix, suffix) if suffix in (*FORMATS, "markdown") else None


def export_chapters(chapters: list[ExportChapter], target: str | os.PathLike[str], title: str = "",
                    fmt: str | None = None, protected: list[Path] | None = None) -> Path:
    """Write `chapters` to `target` in `fmt` (from the suffix when None). `protected` files (the
    chapters themselves) are never written over. Raises ExportError; returns the file written."""
    path = Path(target)
    fmt = fmt or format_of(path)
    if fmt not in WRITERS:
        raise ExportError(f"{path}: cannot export to “{path.suffix}” files; choose .docx, .odt, .epub or .md")
    resolved = path.resolve()
    for chapter_path in protected or []:
        if resolved == Path(chapter_path).resolve():
            raise ExportError(f"{path} is one of the chapters being exported; choose another file name")
    try:
        data = WRITERS[fmt](chapters, title)
    except Exception as exc:  # noqa: BLE001 - a library failing on odd text must reach the writer
        raise ExportError(f"{path}: the {fmt} file could not be made ({type(exc).__name__}: {exc})") from exc
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"{path}: could not be written ({exc.strerror or exc})") from None
    return path
