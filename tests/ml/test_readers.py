"""Format readers and encoding detection: every hazard becomes a reason, never a crash."""

from __future__ import annotations

import codecs
import os
import random
from pathlib import Path

import pytest

from cw_desktop.ml import readers
from cw_desktop.ml.readers import SkipFile, decode_text, extract_text, html_to_text, read_bytes_readonly


TEXT = "Café, naïve façade — “quotes” and ‘apostrophes’.\nSecond line."


@pytest.mark.parametrize("encoded", [
    TEXT.encode("utf-8"),
    codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    TEXT.encode("utf-16-le"),  # no BOM: recognised by the zero byte in every other position
], ids=["utf8", "utf8-bom", "utf16-le-bom", "utf16-be-bom", "utf16-le-no-bom"])
def test_unicode_text_decodes_exactly(encoded: bytes) -> None:
    assert decode_text(encoded) == TEXT


def test_legacy_western_text_decodes_accents_and_smart_quotes() -> None:
    text = ("The \x93Philosophy of Composition\x94 speaks of the d\xe9nouement, the caf\xe9 and "
            "the na\xefve reader \x96 again and again.\n") * 20
    decoded = decode_text(text.encode("latin-1"))
    assert "dénouement" in decoded and "café" in decoded and "naïve" in decoded
    assert "“Philosophy of Composition”" in decoded and "–" in decoded


def test_random_bytes_are_binary() -> None:
    noise = random.Random(7).randbytes(20_000)
    with pytest.raises(SkipFile) as info:
        decode_text(noise)
    assert info.value.reason == "binary"


def test_random_bytes_without_nul_are_binary() -> None:
    noise = bytes(b for b in random.Random(3).randbytes(30_000) if b != 0)
    with pytest.raises(SkipFile) as info:
        decode_text(noise)
    assert info.value.reason == "binary"


@pytest.mark.parametrize("fmt", ["docx", "odt", "epub"])
def test_zip_formats_that_are_not_zips_are_corrupt(fmt: str) -> None:
    with pytest.raises(SkipFile) as info:
        extract_text(b"This is plain text saved with the wrong extension.", fmt)
    assert info.value.reason == "corrupt"
    assert f".{fmt}" in info.value.detail


def test_rtf_without_header_is_corrupt() -> None:
    with pytest.raises(SkipFile) as info:
        extract_text(b"just words, no rtf header", "rtf")
    assert info.value.reason == "corrupt"


def test_truncated_docx_is_corrupt(tmp_path: Path) -> None:
    import docx  # python-docx: the reader's own library writes a real file, no shared data needed

    document = docx.Document()
    document.add_paragraph("Once upon a midnight dreary, while I pondered, weak and weary. " * 40)
    document.save(str(tmp_path / "raven.docx"))
    data = (tmp_path / "raven.docx").read_bytes()
    assert extract_text(data, "docx").startswith("Once upon a midnight")  # whole, it reads
    with pytest.raises(SkipFile) as info:
        extract_text(data[: len(data) // 2], "docx")
    assert info.value.reason == "corrupt"


def test_whitespace_only_file_is_empty() -> None:
    with pytest.raises(SkipFile) as info:
        extract_text(b" \r\n\t\n", "txt")
    assert info.value.reason == "empty"


def test_html_drops_scripts_styles_and_keeps_line_breaks() -> None:
    page = b"""<html><head><title>T</title><style>p { color: red }</style></head><body>
    <script>var secret = 1;</script>
    <h1>The Walrus</h1>
    <p>The sun was shining
       on the sea,</p>
    <div class="line-block">The time has come,<br/>the Walrus said,</div>
    </body></html>"""
    text = html_to_text(page)
    assert "secret" not in text and "color" not in text
    assert text.split("\n\n") == ["The Walrus", "The sun was shining on the sea,",
                                  "The time has come,\nthe Walrus said,"]


def test_word_processor_paragraphs_with_blank_paragraphs_keep_stanzas() -> None:
    stanza_style = ["Once upon a midnight dreary,", "while I pondered, weak and weary,", "",
                    "Over many a quaint and curious", "volume of forgotten lore"]
    assert readers.join_paragraphs(stanza_style) == "\n".join(stanza_style)
    spaced_style = ["First paragraph.", "Second paragraph.", "Third."]
    assert readers.join_paragraphs(spaced_style) == "First paragraph.\n\nSecond paragraph.\n\nThird."


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "locked.txt"
    target.write_text("secret draft")
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if Path(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(SkipFile) as info:
        read_bytes_readonly(target, 1000)
    assert info.value.reason == "unreadable"
    assert "permission" in info.value.detail.lower()


def test_reading_never_opens_for_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "draft.txt"
    target.write_text("words")
    flags_seen: list[int] = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        flags_seen.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    assert read_bytes_readonly(target, 1000) == b"words"
    assert flags_seen and all(f & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC) == 0 for f in flags_seen)


def test_too_large_is_detected_while_reading(tmp_path: Path) -> None:
    target = tmp_path / "big.txt"
    target.write_bytes(b"word " * 1000)
    with pytest.raises(SkipFile) as info:
        read_bytes_readonly(target, 100)
    assert info.value.reason == "too large"


@pytest.mark.parametrize("name,hidden", [
    (".DS_Store", True), ("Thumbs.db", True), ("desktop.ini", True), ("~$chapter.docx", True),
    ("draft.txt~", True), (".hidden.txt", True), ("chapter-1.txt", False), ("Emma.txt", False),
])
def test_hidden_names(name: str, hidden: bool) -> None:
    assert readers.is_hidden_name(name) is hidden


def test_legacy_cyrillic_text_is_not_forced_into_a_western_code_page() -> None:
    text = "Мороз и солнце; день чудесный! Еще ты дремлешь, друг прелестный.\n" * 30
    assert decode_text(text.encode("cp1251")) == text


@pytest.mark.parametrize("fmt", ["docx", "odt", "epub"])
def test_zips_without_the_expected_content_are_corrupt(fmt: str) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "a zip, but not a document")
    with pytest.raises(SkipFile) as info:
        extract_text(buffer.getvalue(), fmt)
    assert info.value.reason == "corrupt"
