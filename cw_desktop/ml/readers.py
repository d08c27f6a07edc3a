"""Turn one manuscript file into plain text, or say precisely why it cannot be used.

Every reader gets the file's bytes, never its path: the file is opened once, read-only, by
`read_bytes_readonly`, so no library can write to, lock or leave a handle on the writer's files.

Reader output keeps the document's own structure in a form `cleaning.clean` understands:
paragraphs separated by a blank line, line breaks inside a paragraph (poems) as single newlines.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cw_desktop.core.regular_files import FileTooLarge, NotRegularFile, read_regular_file
from cw_desktop.core.text_encoding import NotText, decode

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


# Characters a copy, a shell or a Save dialog can leave after a name's real extension
# ('notes.txt"', "Chapter 3.docx ", "draft.txt."). They are ignored when deciding the format: the
# reader then checks the content anyway (text must decode as text, a .docx must be a Word zip), so a
# file that only looks like a manuscript by name is still skipped, as "binary" or "corrupt".
_TRAILING_JUNK = "\"'`\u00b4\u2019\u201d\u00bb. \t"


def suffix_of(name: str) -> str:
    """The extension that decides the format, lower case, trailing junk ignored ("" if none)."""
    return Path(name.rstrip(_TRAILING_JUNK) or name).suffix.lower()


def format_of(path: Path) -> str | None:
    return FORMATS.get(suffix_of(path.name))


def read_bytes_readonly(path: Path, max_bytes: int) -> bytes:
    """Read a whole file without ever opening it for writing (O_RDONLY, no locks).

    Only a regular file is read (core.regular_files): a named pipe, socket or device is refused
    on the open handle, without blocking, even if it replaced the file after the folder was listed.
    """
    try:
        return read_regular_file(path, max_bytes)
    except NotRegularFile as exc:
        raise SkipFile("not a regular file", exc.kind) from exc
    except FileTooLarge as exc:
        raise SkipFile("too large", f"larger than the {max_bytes / 1e6:g} MB limit") from exc
    except PermissionError as exc:
        raise SkipFile("unreadable", f"permission denied ({exc.strerror or exc})") from exc
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from exc


# -- plain text ---------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    """Decode a text file exactly as the editor does (core.text_encoding.decode).

    Raises SkipFile("binary") for data that is not text in any plausible encoding.
    """
    try:
        return decode(data).text
    except NotText as exc:
        raise SkipFile("binary", str(exc)) from exc


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


# Zip-based formats (.docx, .odt, .epub) are unpacked in memory, so their limit is on what they
# hold, not on the file: a 0.8 MB .docx can hold 200 MB of XML (a "zip bomb") and took gigabytes
# of RAM to parse. Real documents compress 2-12x; deflate can reach ~1000x on repeated bytes.
DEFAULT_MAX_UNPACKED_BYTES = 50_000_000  # the scan's default file size limit
MAX_COMPRESSION_RATIO = 100
_RATIO_CHECKED_FROM = 1_000_000  # small members (styles, settings) may compress as they like
ZIP_FORMATS = frozenset({"docx", "odt", "epub"})


def _check_zip(data: bytes, kind: str, max_unpacked: int = DEFAULT_MAX_UNPACKED_BYTES) -> zipfile.ZipFile:
    """Open a document's zip, refusing it before any member is unpacked if it holds more than
    `max_unpacked` bytes or a member compressed like a bomb. zipfile never returns more bytes than
    a member's declared size (a lying header fails its CRC check), so the sum is a true bound."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise SkipFile("corrupt", f"not a valid {kind} file (it is not a zip archive)") from exc
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    if unpacked > max_unpacked:
        raise SkipFile("too large", f"too large when unpacked ({unpacked / 1e6:.1f} MB, above the "
                                    f"{max_unpacked / 1e6:g} MB limit)")
    for member in members:
        if (member.file_size >= _RATIO_CHECKED_FROM
                and member.file_size > MAX_COMPRESSION_RATIO * max(1, member.compress_size)):
            raise SkipFile("too large", f"{member.filename} is {member.file_size / 1e6:.1f} MB when unpacked, "
                                        f"from {member.compress_size / 1e3:.0f} kB: a zip bomb, not a document")
    return archive


def read_docx(data: bytes, max_unpacked: int = DEFAULT_MAX_UNPACKED_BYTES) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data, ".docx", max_unpacked)
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
            parts.append(" " * _space_count(child.get(f"{{{_ODF_TEXT}}}c", "1")))
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


def _space_count(value: str) -> int:
    """<text:s c="N"/>: a run of N spaces; a damaged file's c="999999999" must not allocate a GB."""
    try:
        return max(0, min(int(value), 1000))
    except ValueError:
        return 1


def read_odt(data: bytes, max_unpacked: int = DEFAULT_MAX_UNPACKED_BYTES) -> str:
    # odfpy's loader rejects the (valid) styles.xml that pandoc and some other tools write
    # ("SAX FAILED TO PARSE", no text at all), so content.xml is walked directly.
    import xml.etree.ElementTree as ET

    archive = _check_zip(data, ".odt", max_unpacked)
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


def _innermost_blocks(root: Any) -> list[Any]:
    """Block elements holding no other block (an outer <div> would repeat its <p>s' text), in
    document order. Each block marks its ancestors once, so this is linear even for thousands of
    nested <div>s (asking every block for its descendants took 12 s for 10,000 of them)."""
    blocks = root.find_all(_BLOCK_TAGS)
    has_block_inside: set[int] = set()
    for tag in blocks:
        parent = tag.parent
        while parent is not None and id(parent) not in has_block_inside:
            has_block_inside.add(id(parent))
            parent = parent.parent
    return [tag for tag in blocks if id(tag) not in has_block_inside]


def html_to_text(markup: bytes | str) -> str:
    """Visible text of an HTML page: block elements become paragraphs, <br> a line break."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        # EPUB chapters are XHTML; the lenient HTML parser reads them fine.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_BR)
    paragraphs: list[str] = []
    root = soup.body or soup
    for tag in _innermost_blocks(root):
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


def read_epub(data: bytes, max_unpacked: int = DEFAULT_MAX_UNPACKED_BYTES) -> str:
    import ebooklib
    from ebooklib import epub

    _check_zip(data, ".epub", max_unpacked)
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


READERS: dict[str, Callable[..., str]] = {
    "txt": read_txt, "md": read_txt, "docx": read_docx, "odt": read_odt, "rtf": read_rtf,
    "html": read_html, "epub": read_epub,
}


def extract_text(data: bytes, fmt: str, max_unpacked: int = DEFAULT_MAX_UNPACKED_BYTES) -> str:
    """Raw text of a file's bytes in format `fmt` (a value of FORMATS). Raises SkipFile.

    `max_unpacked` bounds what a zip-based document may hold once unpacked (the scan passes its
    file size limit), which bounds the memory reading it takes."""
    if not data.strip():
        raise SkipFile("empty", "the file has no content")
    reader = READERS[fmt]
    try:
        text = reader(data, max_unpacked) if fmt in ZIP_FORMATS else reader(data)
    except SkipFile:
        raise
    except MemoryError as exc:
        raise SkipFile("too large", "not enough memory to read it") from exc
    except RecursionError as exc:  # deeply nested HTML/XML
        raise SkipFile("corrupt", "the document structure is too deeply nested") from exc
    except Exception as exc:  # noqa: BLE001 - reader libraries raise zlib.error, EOFError, ValueError,
        # NotImplementedError (zip features), UnicodeDecodeError, ... on damaged files (found by fuzzing)
        raise SkipFile("corrupt", f"not a valid .{fmt} file, could not be read ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise SkipFile("empty", "the document contains no text")
    return text
