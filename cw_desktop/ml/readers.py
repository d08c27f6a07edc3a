"""Turn one manuscript file into plain text, or say precisely why it cannot be used.

Every reader gets the file's bytes, never its path: the file is opened once, read-only, by
`read_bytes_readonly`, so no library can write to, lock or leave a handle on the writer's files.

Reader output keeps the document's own structure in a form `cleaning.clean` understands:
paragraphs separated by a blank line, line breaks inside a paragraph (poems) as single newlines.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

# Suffix -> format name shown to the writer. Everything else is "unsupported".
FORMATS: dict[str, str] = {
    ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
    ".docx": "docx", ".odt": "odt", ".rtf": "rtf",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".epub": "epub",
}

# Formats a writer might reasonably expect to work, with what to do instead.
UNSUPPORTED_HINTS: dict[str, str] = {
    ".pdf": "PDF is not supported; export the manuscript as .docx, .odt or .txt",
    ".doc": "old Word .doc is not supported; save it as .docx",
    ".pages": "Apple Pages files are not supported; export as .docx",
    ".scriv": "Scrivener projects are not supported; compile to .docx or .txt",
}

# Operating-system and editor droppings: never manuscripts, so they are "hidden", not "unsupported".
SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "icon\r", "__macosx", "$recycle.bin",
                ".spotlight-v100", ".trashes", ".fseventsd", "ehthumbs.db"}

# A file with more than this share of C0 control characters is not text in any legacy encoding.
MAX_CONTROL_SHARE = 0.005
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\v") + b"\x7f"


class SkipFile(Exception):
    """This file cannot be used. `reason` is a stable keyword; `detail` is for the writer."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_hidden_name(name: str) -> bool:
    """Dotfiles, OS metadata, and office lock/backup files (~$draft.docx, draft.txt~)."""
    lowered = name.lower()
    return (name.startswith(".") or lowered in SYSTEM_NAMES or name.startswith("~$")
            or name.endswith("~") or lowered.endswith((".swp", ".tmp")))


def format_of(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def read_bytes_readonly(path: Path, max_bytes: int) -> bytes:
    """Read a whole file without ever opening it for writing (O_RDONLY, no locks)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError as exc:
        raise SkipFile("unreadable", f"permission denied ({exc.strerror or exc})") from exc
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "rb", closefd=True) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:
        raise SkipFile("too large", f"larger than the {max_bytes / 1e6:g} MB limit")
    return data


# -- plain text ---------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _utf16_without_bom(sample: bytes) -> str | None:
    """Text saved as UTF-16 without a BOM has a zero byte in every other position."""
    if len(sample) < 16:
        return None
    even_zero = sample[0::2].count(0) / len(sample[0::2])
    odd_zero = sample[1::2].count(0) / len(sample[1::2])
    if odd_zero > 0.6 and even_zero < 0.05:
        return "utf-16-le"
    if even_zero > 0.6 and odd_zero < 0.05:
        return "utf-16-be"
    return None


def _looks_printable(text: str) -> bool:
    sample = text[:100_000]
    if not sample:
        return True
    bad = sum(1 for ch in sample if not (ch.isprintable() or ch in "\t\n\r\f\v"))
    return bad / len(sample) < 0.01


def decode_text(data: bytes) -> str:
    """Decode a text file: BOM first, then strict UTF-8, then a legacy single-byte guess.

    Raises SkipFile("binary") for data that is not text in any plausible encoding.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SkipFile("binary", f"starts with a {encoding} byte-order mark but does not decode") from exc
    sample = data[:65536]
    if b"\x00" in sample:
        encoding16 = _utf16_without_bom(sample)
        if encoding16 is None:
            raise SkipFile("binary", "contains NUL bytes: not a text file")
        try:
            return data.decode(encoding16)
        except UnicodeDecodeError as exc:
            raise SkipFile("binary", "looks like UTF-16 but does not decode") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    if controls / max(1, len(sample)) > MAX_CONTROL_SHARE:
        raise SkipFile("binary", "contains control bytes: not a text file")
    text = _decode_legacy(data)
    if text is None or not _looks_printable(text):
        raise SkipFile("binary", "not UTF-8 and no legacy text encoding fits")
    return text


# Encodings charset-normalizer may name for text that is not in a Latin script: trust those.
# For any Latin single-byte guess (cp1250, cp850, mac_roman, ...) the bytes are far more likely
# Windows-1252/Latin-1, the most common legacy encoding of Western manuscripts; the guesses are
# often a sibling code page that decodes the same accents wrongly (na\xefve -> "naďve").
_NON_LATIN_HINTS = ("1251", "1253", "1255", "1256", "koi8", "8859_5", "8859_6", "8859_7", "8859_8",
                    "cyrillic", "greek", "hebrew", "arabic", "866", "855", "shift", "jis", "gb", "big5",
                    "euc", "949", "932", "950", "johab", "874", "tis", "hz", "2022", "utf")


def _decode_legacy(data: bytes) -> str | None:
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is not None and any(hint in best.encoding.lower() for hint in _NON_LATIN_HINTS):
        return str(best)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; Latin-1 maps every byte.
        return data.decode("latin-1") if best is None or "125" in best.encoding else str(best)


def read_txt(data: bytes) -> str:
    return decode_text(data)


# -- office documents ----------------------------------------------------------------------------

def join_paragraphs(paragraphs: list[str]) -> str:
    """Join a word processor's paragraphs.

    Writers who press Enter twice between paragraphs (and type poems one line per paragraph)
    leave empty paragraphs: then paragraphs are lines and empty ones are the breaks. Otherwise
    every paragraph is a paragraph.
    """
    stripped = [p.rstrip() for p in paragraphs]
    empty = sum(1 for p in stripped if not p.strip())
    if stripped and empty / len(stripped) >= 0.15:
        return "\n".join(stripped)
    return "\n\n".join(p for p in stripped if p.strip())


def _check_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise SkipFile("corrupt", f"not a valid {kind} file (it is not a zip archive)") from exc


def read_docx(data: bytes) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data, ".docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for broken packages
        raise SkipFile("corrupt", f"not a valid .docx file ({type(exc).__name__}: {exc})") from exc
    paragraphs: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            paragraphs.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                paragraphs.extend(cell.text for cell in row.cells)
    return join_paragraphs(paragraphs)


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def _odf_inline_text(element) -> str:
    """Text of an ODF paragraph: <text:s c="3"/> is 3 spaces, <text:tab/> a tab,
    <text:line-break/> a line break; notes (footnotes) and annotations are not the story."""
    parts: list[str] = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == f"{{{_ODF_TEXT}}}s":
            parts.append(" " * int(child.get(f"{{{_ODF_TEXT}}}c", "1")))
        elif tag == f"{{{_ODF_TEXT}}}tab":
            parts.append("\t")
        elif tag == f"{{{_ODF_TEXT}}}line-break":
            parts.append("\n")
        elif tag in (f"{{{_ODF_TEXT}}}note", "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}annotation"):
            pass
        else:
            parts.append(_odf_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def read_odt(data: bytes) -> str:
    # odfpy's loader rejects the (valid) styles.xml that pandoc and some other tools write
    # ("SAX FAILED TO PARSE", no text at all), so content.xml is walked directly.
    import xml.etree.ElementTree as ET

    archive = _check_zip(data, ".odt")
    try:
        root = ET.fromstring(archive.read("content.xml"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError) as exc:
        raise SkipFile("corrupt", f"not a valid .odt file ({type(exc).__name__}: {exc})") from exc
    paragraph_tags = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}
    paragraphs: list[str] = []

    def walk(node) -> None:
        for child in node:
            if child.tag in paragraph_tags:
                paragraphs.append(_odf_inline_text(child))
            elif child.tag != f"{{{_ODF_TEXT}}}note":
                walk(child)

    walk(root)
    return join_paragraphs(paragraphs)


def read_rtf(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    raw = data.decode("latin-1")  # RTF is 7-bit with escapes; latin-1 never fails
    if not raw.lstrip().startswith("{\\rtf"):
        raise SkipFile("corrupt", "not a valid .rtf file (missing the {\\rtf header)")
    try:
        return rtf_to_text(raw, errors="ignore")
    except Exception as exc:
        raise SkipFile("corrupt", f"the RTF could not be parsed ({type(exc).__name__})") from exc


# -- HTML and EPUB --------------------------------------------------------------------------------

_BLOCK_TAGS = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "div",
               "td", "th", "dt", "dd", "figcaption", "section", "article", "header", "footer"]
_BR = "\ue000"  # stands for <br> while whitespace is collapsed (private-use, not whitespace)
_DROP_TAGS = ["script", "style", "noscript", "template", "head", "nav", "svg", "math", "iframe", "object"]


def html_to_text(markup: bytes | str) -> str:
    """Visible text of an HTML page: block elements become paragraphs, <br> a line break."""
    from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        # EPUB chapters are XHTML; the lenient HTML parser reads them fine.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_BR)
    paragraphs: list[str] = []
    block_names = set(_BLOCK_TAGS)
    root = soup.body or soup
    for tag in root.find_all(_BLOCK_TAGS):
        # Only innermost blocks: an outer <div> would repeat the text of its <p> children.
        if any(isinstance(d, Tag) and d.name in block_names for d in tag.descendants):
            continue
        text = tag.get_text()
        if tag.name == "pre":
            text = text.replace(_BR, "\n")
        else:
            # Newlines in the HTML source are only wrapping; line breaks the reader sees are <br>.
            text = re.sub(r"\s+", " ", text)
            text = re.sub(rf" ?{_BR} ?", "\n", text)
        if text.strip():
            paragraphs.append(text.strip())
    if not paragraphs:  # a page without block elements: fall back to all visible text
        text = root.get_text("\n")
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n\n".join(paragraphs)


def read_html(data: bytes) -> str:
    return html_to_text(data)


def read_epub(data: bytes) -> str:
    import ebooklib
    from ebooklib import epub

    _check_zip(data, ".epub")
    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # EpubException, KeyError, XML errors
        raise SkipFile("corrupt", f"not a valid .epub file ({type(exc).__name__}: {exc})") from exc
    parts: list[str] = []
    # The spine is the reading order; the manifest order is arbitrary.
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        text = html_to_text(item.get_content())
        if text.strip():
            parts.append(text)
    return "\n\n".join(parts)


READERS: dict[str, Callable[[bytes], str]] = {
    "txt": read_txt, "md": read_txt, "docx": read_docx, "odt": read_odt, "rtf": read_rtf,
    "html": read_html, "epub": read_epub,
}


def extract_text(data: bytes, fmt: str) -> str:
    """Raw text of a file's bytes in format `fmt` (a value of FORMATS). Raises SkipFile."""
    if not data.strip():
        raise SkipFile("empty", "the file has no content")
    text = READERS[fmt](data)
    if not text.strip():
        raise SkipFile("empty", "the document contains no text")
    return text
