"""Exports the app's own importer reads back: every chapter's text, in order, under its heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cw_desktop.core.export import ExportChapter, ExportError, chapter_from_file, export_chapters, paragraphs
from cw_desktop.ml import readers

CHAPTERS = [
    ExportChapter("The Letter", "Emma read the letter twice.\n\nShe folded it  with care; the seal was red."),
    ExportChapter("A Song", "Roses are red,\nviolets are blue.\n\nThe end of the song & <not a tag>."),
    ExportChapter("Dawn", "Naïve café owners — “quoted” — greeted the dawn. 🐉"),
]


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.mark.parametrize("fmt", ["docx", "odt", "epub", "md"])
def test_every_format_reads_back_with_each_heading_followed_by_its_text_in_order(tmp_path: Path, fmt: str) -> None:
    target = export_chapters(CHAPTERS, tmp_path / f"book.{fmt}", title="My Novel")
    text = readers.extract_text(target.read_bytes(), readers.format_of(target))
    position = 0
    for chapter in CHAPTERS:
        heading_at = text.find(chapter.heading, position)
        assert heading_at >= 0, f"{chapter.heading} missing or out of order in the {fmt} export"
        position = heading_at + len(chapter.heading)
        # Word by word: formats differ in how they keep spaces and line breaks, never in the words.
        body_words = words(chapter.text)
        found = words(text[position:])[:len(body_words)]
        assert found == body_words, f"{fmt}: text of {chapter.heading!r} differs"
    assert "My Novel" in text[:text.find("The Letter")]


@pytest.mark.parametrize("fmt", ["docx", "odt", "epub"])
def test_a_line_break_inside_a_paragraph_survives(tmp_path: Path, fmt: str) -> None:
    target = export_chapters([CHAPTERS[1]], tmp_path / f"song.{fmt}")
    text = readers.extract_text(target.read_bytes(), fmt)
    assert "Roses are red,\nviolets are blue." in text


def test_an_export_never_writes_over_a_chapter(tmp_path: Path) -> None:
    chapter = tmp_path / "Chapter 1.md"
    chapter.write_text("Precious words.", encoding="utf-8")
    with pytest.raises(ExportError, match="one of the chapters"):
        export_chapters(CHAPTERS, chapter, protected=[chapter])
    assert chapter.read_text(encoding="utf-8") == "Precious words."
    with pytest.raises(ExportError, match=r"\.pdf"):
        export_chapters(CHAPTERS, tmp_path / "book.pdf")


def test_a_chapter_heading_comes_from_its_markdown_title_or_its_file_name() -> None:
    assert chapter_from_file("part1/03 Storm.md", "# The Storm\n\nRain.") == ExportChapter("The Storm", "\nRain.")
    assert chapter_from_file("part1/03 Storm.txt", "Rain.") == ExportChapter("03 Storm", "Rain.")


def test_control_characters_do_not_break_the_xml_formats(tmp_path: Path) -> None:
    assert paragraphs("a\x0cb\n\n\nc") == [["ab"], ["c"]]
    target = export_chapters([ExportChapter("Old file", "Page one.\x0cPage two.")], tmp_path / "old.docx")
    assert "Page one.Page two." in readers.extract_text(target.read_bytes(), "docx")
