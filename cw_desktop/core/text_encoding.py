"""The one place that turns a text file's bytes into text and back (editor and importer alike).

Rules, in order, all deterministic:
1. a byte-order mark names the encoding (UTF-32, UTF-8, UTF-16);
2. NUL bytes: UTF-16 without a BOM when every other byte is zero, otherwise not text;
3. strict UTF-8;
4. Western text (accents sprinkled in ASCII): Windows-1252, or Latin-1 when the file uses one of
   the five bytes Windows-1252 leaves undefined (Latin-1 maps every byte, so it always fits);
5. only when the bytes do not look like Western text (most letters are high bytes: Cyrillic,
   Greek, CJK; or symbols inside words: Central European code pages) is charset-normalizer asked.

Whatever is chosen, `encode(decode(data))` gives back `data` exactly: a guess that would not
round-trip is rejected. `encode` refuses (UnencodableText) a character the encoding cannot hold;
it never switches encodings by itself.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass, replace

# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_BOM_OF = {codec: bom for bom, codec in _BOMS}

_LABELS = {"utf-8": "UTF-8", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE", "utf-32-le": "UTF-32 LE",
           "utf-32-be": "UTF-32 BE", "cp1252": "Western (Windows-1252)", "latin-1": "Western (ISO-8859-1)"}

# A file with more than this share of C0 control characters is not text in any legacy encoding.
MAX_CONTROL_SHARE = 0.005
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\v") + b"\x7f"
# Windows-1252 punctuation that legitimately sits between two letters (don’t, well–known).
_WORD_JOINERS = set("’‘–—·…\u00a0-")
SAMPLE_BYTES = 65536


class NotText(ValueError):
    """The bytes are not text in any encoding we accept; the message says why."""


class UnencodableText(ValueError):
    """Some characters of the text cannot be written in the file's encoding."""

    def __init__(self, characters: list[str], label: str) -> None:
        shown = ", ".join(f"“{c}” (U+{ord(c):04X})" for c in characters[:5])
        more = f" and {len(characters) - 5} more" if len(characters) > 5 else ""
        super().__init__(f"{shown}{more} cannot be written in {label}")
        self.characters = characters
        self.label = label


@dataclass(frozen=True)
class TextEncoding:
    """How a text file is stored: codec, byte-order mark and line-ending style."""

    codec: str = "utf-8"  # a Python codec name without BOM handling (the mark is `bom`)
    bom: bool = False
    newline: str = "\n"  # "\n", "\r\n" or "\r": what the file used, restored on save

    @property
    def label(self) -> str:
        name = _LABELS.get(self.codec, self.codec)
        return f"{name} with BOM" if self.bom and self.codec == "utf-8" else name

    def as_utf8(self) -> "TextEncoding":
        """The same file in UTF-8 (same line endings): what the writer accepts when a character
        does not fit the old encoding."""
        return replace(self, codec="utf-8", bom=False)


UTF8 = TextEncoding()


@dataclass(frozen=True)
class DecodedText:
    text: str  # exactly as stored: line endings untouched
    encoding: TextEncoding


def decode(data: bytes) -> DecodedText:
    """Decode a text file's bytes; raises NotText for data that is not text."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise NotText(f"starts with a {_LABELS[codec]} byte-order mark but does not decode") from None
            return DecodedText(text, TextEncoding(codec, bom=True, newline=newline_style(text)))
    sample = data[:SAMPLE_BYTES]
    if b"\x00" in sample:
        codec = _utf16_without_bom(sample)
        if codec is None:
            raise NotText("contains NUL bytes: not a text file")
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            raise NotText("looks like UTF-16 but does not decode") from None
        return DecodedText(text, TextEncoding(codec, newline=newline_style(text)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return DecodedText(text, TextEncoding("utf-8", newline=newline_style(text)))
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    if controls / max(1, len(sample)) > MAX_CONTROL_SHARE:
        raise NotText("contains control bytes: not a text file")
    text, codec = _decode_legacy(data)
    if not _looks_printable(text):
        raise NotText("not UTF-8 and no legacy text encoding fits")
    return DecodedText(text, TextEncoding(codec, newline=newline_style(text)))


def encode(text: str, encoding: TextEncoding) -> bytes:
    """The bytes of `text` in `encoding` (BOM included); raises UnencodableText, never substitutes."""
    try:
        body = text.encode(encoding.codec)
    except UnicodeEncodeError:
        raise UnencodableText(unencodable_characters(text, encoding.codec), encoding.label) from None
    return (_BOM_OF[encoding.codec] if encoding.bom else b"") + body


def unencodable_characters(text: str, codec: str) -> list[str]:
    """Distinct characters of `text` that `codec` cannot hold, in order of appearance."""
    found: dict[str, None] = {}
    for char in dict.fromkeys(text):
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            found[char] = None
    return list(found)


def newline_style(text: str) -> str:
    """The line ending most used in `text` ("\\n" when there is none)."""
    crlf = text.count("\r\n")
    counts = {"\r\n": crlf, "\n": text.count("\n") - crlf, "\r": text.count("\r") - crlf}
    best = max(counts, key=lambda style: counts[style])
    return best if counts[best] else "\n"


# -- heuristics ---------------------------------------------------------------------------------

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
    # Control characters only: no-break and other special spaces are not printable to Python, yet
    # they are everyday typography (French « guillemets »).
    bad = sum(1 for ch in sample if ch not in "\t\n\r\f\v" and unicodedata.category(ch) in ("Cc", "Cs", "Cn"))
    return bad / len(sample) < 0.01


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Windows-1252 / Latin-1 for Western text, otherwise a guess that must round-trip exactly."""
    try:
        western, codec = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        western, codec = data.decode("latin-1"), "latin-1"  # never fails: every byte is a character
    if _looks_western(western[:SAMPLE_BYTES]):
        return western, codec
    guess = _charset_normalizer_guess(data)
    if guess is not None:
        return guess
    return western, codec


def _looks_western(text: str) -> bool:
    """Accented letters sprinkled through mostly-ASCII words, no symbols inside words.

    Cyrillic or Greek read as Windows-1252 turns nearly every letter into an accented one;
    Central European code pages put ³ ¹ ¿ ... in the middle of words (g³os = głos).
    """
    letters = high_letters = odd = 0
    for index, char in enumerate(text):
        if char.isalpha():
            letters += 1
            high_letters += ord(char) > 0x7F
        elif ord(char) > 0x7F and char not in _WORD_JOINERS and 0 < index < len(text) - 1 \
                and text[index - 1].isalpha() and text[index + 1].isalpha():
            odd += 1
        elif unicodedata.category(char) == "Cc" and ord(char) > 0x7F:
            odd += 1  # a C1 control (Latin-1 fallback): possible, but not proof of Western text
    if letters == 0:
        return True
    return high_letters / letters < 0.3 and odd <= max(1, high_letters // 50)


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None or not best.encoding:
        return None
    codec = codecs.lookup(best.encoding).name
    if codec.startswith("utf"):
        return None  # strict UTF decoding already failed; a "UTF" guess would not round-trip
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    if text.encode(codec, errors="replace") != data:
        return None  # some multi-byte codecs map two byte sequences to one character
    return text, codec
