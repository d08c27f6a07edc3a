"""Every reader, fed random bytes and damaged real files, returns text or a reason, quickly.

"A reason" is SkipFile: the scan shows it next to the file. Anything else a reader raises would
reach the writer as "could not be read (zlib.error: ...)" at best. A per-example deadline catches
readers that are merely slow on hostile input, the test timeout one that hangs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hostile_files import SAMPLES, ZIP_DOCUMENTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cw_desktop.ml import readers
from cw_desktop.ml.readers import SkipFile, extract_text

FORMATS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "formats"
REASONS = {"empty", "binary", "corrupt", "too large"}
ALL_FORMATS = sorted(readers.READERS)

# Generous deadlines: the machine may be busy; a reader that is quadratic on hostile input takes
# far longer (12 s for 10,000 nested <div>s; a .docx bomb parsed at ~1 s per MB, before the fixes).
FUZZ = settings(max_examples=25, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.too_slow])


def seeds(fmt: str) -> list[bytes]:
    """A small file built here, and the real one from the shared corpus when it is there."""
    found = [SAMPLES[fmt]()]
    if FORMATS.is_dir():
        suffixes = [suffix for suffix, name in readers.FORMATS.items() if name == fmt]
        found += [p.read_bytes() for p in sorted(FORMATS.iterdir()) if p.suffix in suffixes][:1]
    return found


def text_or_reason(data: bytes, fmt: str) -> None:
    try:
        text = extract_text(data, fmt, max_unpacked=5_000_000)
    except SkipFile as skip:
        assert skip.reason in REASONS and skip.detail, skip
        return
    assert isinstance(text, str) and text.strip()


@pytest.fixture(scope="module", autouse=True)
def warm_readers() -> None:
    """Import every reader's library once, so the first example is not timed with the import."""
    for fmt in ALL_FORMATS:
        text_or_reason(SAMPLES[fmt](), fmt)


# The bytes each format's reader checks first, so random data gets past the first test.
MAGIC = {"txt": b"", "md": b"# ", "docx": b"PK\x03\x04", "odt": b"PK\x03\x04", "epub": b"PK\x03\x04",
         "rtf": b"{\\rtf1 ", "html": b"<html><body><p>"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ALL_FORMATS)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(fmt: str, data: bytes) -> None:
    text_or_reason(data, fmt)
    text_or_reason(MAGIC[fmt] + data, fmt)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ALL_FORMATS)
@FUZZ
@given(choice=st.data())
def test_truncated_real_files(fmt: str, choice: st.DataObject) -> None:
    for seed in seeds(fmt):
        text_or_reason(seed[:choice.draw(st.integers(0, len(seed)))], fmt)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ALL_FORMATS)
@FUZZ
@given(choice=st.data())
def test_damaged_real_files(fmt: str, choice: st.DataObject) -> None:
    for seed in seeds(fmt):
        damaged = bytearray(seed)
        for _ in range(choice.draw(st.integers(1, 8))):
            damaged[choice.draw(st.integers(0, len(seed) - 1))] = choice.draw(st.integers(0, 255))
        text_or_reason(bytes(damaged), fmt)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", sorted(ZIP_DOCUMENTS))
@settings(FUZZ, max_examples=8, deadline=timedelta(seconds=10))
@given(repeat=st.integers(1, 15_000))
def test_zip_documents_of_any_size_are_read_or_refused_quickly(fmt: str, repeat: int) -> None:
    text_or_reason(ZIP_DOCUMENTS[fmt](repeat=repeat), fmt)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("markup", [
    b"<div>" * 20_000 + b"deep" + b"</div>" * 20_000,  # 12 s for 10,000 before the fix
    b"<p>" + b"word " * 500_000 + b"</p>",
    b"<ul>" + b"<li><div><p>x</p></div></li>" * 5_000 + b"</ul>",
], ids=["nested-divs", "one-huge-line", "many-blocks"])
def test_hostile_html_is_read_in_linear_time(markup: bytes) -> None:
    text_or_reason(markup, "html")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rtf", [
    b"{\\rtf1 " + b"{" * 50_000 + b"deep" + b"}" * 50_000 + b"}",
    b"{\\rtf1 " + b"word " * 200_000 + b"}",
    b"{\\rtf1 " + b"\\u8212?" * 100_000 + b"}",
], ids=["nested-groups", "one-huge-line", "many-escapes"])
def test_hostile_rtf_is_read_in_linear_time(rtf: bytes) -> None:
    text_or_reason(rtf, "rtf")
