"""Hostile manuscripts folders, built on the fly: every file is reported, nothing crashes or hangs.

Undecodable names, zip bombs, named pipes and sockets, folders 1,000 levels deep, links out of the
folder, names with junk after the extension; and the CLI tables that show the results.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import socket
import sys
from pathlib import Path

import pytest
from hostile_files import STORY, ZIP_DOCUMENTS

from cw_desktop.cli import run_cli
from cw_desktop.ml.corpus import Corpus, FileResult, load_corpus
from cw_desktop.ml.dataset import document_units, split_units
from cw_desktop.ml.readers import SkipFile, read_bytes_readonly

_WORDS = ("harbour tide lamp rope quay gull mast sail storm lantern cottage kettle letter window "
          "morning evening shadow river bridge orchard meadow candle winter summer voice silence").split()


def prose(seed: int, paragraphs: int = 40) -> str:
    """About 3,000 words of prose; each seed a different text (never a near-duplicate of another)."""
    rng = random.Random(seed)
    return "\n\n".join(" ".join(rng.choice(_WORDS) for _ in range(75)).capitalize() + "."
                       for _ in range(paragraphs))


PROSE = prose(0)


def cli(tmp_path: Path, *args: str) -> int:
    return run_cli(["--config", str(tmp_path / "config"), "--data", str(tmp_path / "data"),
                    "--cache", str(tmp_path / "cache"), *args])


def by_path(corpus: Corpus) -> dict[str, FileResult]:
    return {f.path: f for f in corpus.files}


# -- names that are not valid UTF-8 ---------------------------------------------------------------

@pytest.fixture
def latin1_folder(tmp_path: Path) -> Path:
    """A folder named b"r\\xe9cits" holding b"caf\\xe9.txt": names copied from an old Latin-1 disk."""
    root = os.fsencode(tmp_path)
    folder = os.path.join(root, b"r\xe9cits")
    try:
        os.mkdir(folder)
        with open(os.path.join(folder, b"caf\xe9.txt"), "w", encoding="utf-8") as handle:
            handle.write(PROSE)
    except (OSError, UnicodeError):
        pytest.skip("this file system only accepts UTF-8 names")
    (Path(os.fsdecode(folder)) / "plain.txt").write_text(prose(1), encoding="utf-8")
    return Path(os.fsdecode(folder))


def test_undecodable_file_name_trains_the_split(latin1_folder: Path) -> None:
    corpus = load_corpus(latin1_folder)
    assert by_path(corpus)["caf\\xe9.txt"].status == "used"
    units = document_units(corpus.documents)
    split = split_units(units)
    again = split_units(document_units(load_corpus(latin1_folder).documents))
    assert [u.key for u in split.eval] == [u.key for u in again.eval]  # the split stays deterministic
    assert any(u.key.startswith("caf\\xe9.txt#") for u in split.train + split.eval)


def test_scan_json_names_an_undecodable_file(latin1_folder: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "scan", str(latin1_folder), "--json", "--model", str(tmp_path / "none")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["folder"].endswith("r\\xe9cits")
    assert {f["path"]: f["status"] for f in report["files"]} == {"caf\\xe9.txt": "used", "plain.txt": "used"}


def test_scan_table_names_an_undecodable_file(latin1_folder: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "scan", str(latin1_folder), "--model", str(tmp_path / "none")) == 0
    assert "caf\\xe9.txt" in capsys.readouterr().out


# -- zip bombs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(ZIP_DOCUMENTS))
def test_zip_bomb_is_skipped_before_it_is_unpacked(tmp_path: Path, fmt: str) -> None:
    make = ZIP_DOCUMENTS[fmt]
    (tmp_path / f"bomb.{fmt}").write_bytes(make(repeat=10_000))  # ~50 kB holding 5-9 MB
    (tmp_path / f"fine.{fmt}").write_bytes(make())
    corpus = load_corpus(tmp_path, max_file_mb=2)
    results = by_path(corpus)
    assert (tmp_path / f"bomb.{fmt}").stat().st_size < 200_000
    assert results[f"bomb.{fmt}"].reason == "too large"
    assert "unpacked" in results[f"bomb.{fmt}"].detail
    assert results[f"fine.{fmt}"].status == "used"


@pytest.mark.parametrize("fmt", sorted(ZIP_DOCUMENTS))
def test_highly_compressed_member_is_refused_even_under_a_large_limit(tmp_path: Path, fmt: str) -> None:
    (tmp_path / f"bomb.{fmt}").write_bytes(ZIP_DOCUMENTS[fmt](repeat=4000))
    corpus = load_corpus(tmp_path, max_file_mb=1000)
    result = by_path(corpus)[f"bomb.{fmt}"]
    assert (result.status, result.reason) == ("skipped", "too large") and "zip bomb" in result.detail


# -- named pipes, sockets, devices -----------------------------------------------------------------

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")


@needs_fifo
@pytest.mark.timeout(20)
def test_named_pipe_and_socket_are_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "chapter.txt")
    (tmp_path / "story.txt").write_text(PROSE)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "notes.md"))
        results = by_path(load_corpus(tmp_path))
    finally:
        server.close()
    assert results["chapter.txt"].reason == "not a regular file" and "named pipe" in results["chapter.txt"].detail
    assert results["notes.md"].reason == "not a regular file" and "socket" in results["notes.md"].detail
    assert results["story.txt"].status == "used"


@needs_fifo
@pytest.mark.timeout(20)
def test_a_file_swapped_for_a_pipe_after_listing_does_not_hang(tmp_path: Path) -> None:
    pipe = tmp_path / "chapter.txt"
    os.mkfifo(pipe)
    with pytest.raises(SkipFile) as info:
        read_bytes_readonly(pipe, 1000)
    assert info.value.reason == "not a regular file" and "named pipe" in info.value.detail


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.timeout(20)
def test_a_followed_link_to_a_device_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "endless.txt").symlink_to("/dev/zero")
    result = by_path(load_corpus(tmp_path, follow_outside_links=True))["endless.txt"]
    assert result.reason == "not a regular file" and "device" in result.detail


# -- very deep folders ------------------------------------------------------------------------------

@pytest.fixture
def deep_folder(tmp_path: Path):
    """LEVELS nested folders d/d/.../d with a story at the top and one at the bottom.

    Built from the bottom up and removed from the top down by renames next to the top, so every
    system call takes a short path; no recursive rmtree, which could hit the recursion limit."""
    root = tmp_path / "deep"
    chain, spare = root / "d", root / "spare"
    chain.mkdir(parents=True)
    (chain / "bottom.txt").write_text(PROSE)
    for _ in range(LEVELS - 1):
        spare.mkdir()
        chain.rename(spare / "d")
        spare.rename(chain)
    (root / "top.txt").write_text(PROSE)
    yield root
    while (chain / "d").is_dir():
        (chain / "d").rename(spare)
        chain.rmdir()
        spare.rename(chain)
    (chain / "bottom.txt").unlink()
    chain.rmdir()


# Writers' folders that crashed were ~1,000 levels deep, past Python's recursion limit of 1,000.
# The test lowers the limit to LEVELS / 2 frames above its own instead: the same crash in a
# recursive walk, with a folder small enough to build and remove quickly.
LEVELS = 300


def test_a_folder_deeper_than_the_recursion_limit_is_reported_not_a_crash(deep_folder: Path) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + LEVELS // 2)
    try:
        corpus = load_corpus(deep_folder)
    except RecursionError:
        corpus = None  # reported below, once the limit is back (pytest needs it to format a failure)
    finally:
        sys.setrecursionlimit(limit)
    assert corpus is not None, "the folder walk recursed once per level"
    results = by_path(corpus)
    assert results["top.txt"].status == "used"
    too_deep = [f for f in corpus.files if f.reason == "too deep"]
    assert len(too_deep) == 1 and too_deep[0].path == "d/" * 65
    assert all("bottom.txt" not in f.path for f in corpus.files)


# -- links out of the chosen folder -----------------------------------------------------------------

def test_links_out_of_the_folder_are_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.txt").write_text("A private diary entry about the neighbours. " * 80)
    book = tmp_path / "book"
    (book / "part").mkdir(parents=True)
    (book / "part" / "chapter.txt").write_text(PROSE)
    (book / "diary").symlink_to(outside, target_is_directory=True)
    (book / "diary.txt").symlink_to(outside / "private.txt")
    (book / "root").symlink_to("/", target_is_directory=True)
    (book / "same.txt").symlink_to(book / "part" / "chapter.txt")  # inside: still read
    corpus = load_corpus(book)
    results = by_path(corpus)
    for path in ("diary/", "diary.txt", "root/"):
        assert results[path].reason == "link outside", path
    assert "outside the chosen folder" in results["diary.txt"].detail
    assert results["part/chapter.txt"].status == "used"
    assert results["same.txt"].reason == "duplicate of part/chapter.txt"
    assert "neighbours" not in "".join(d.text for d in corpus.documents)


def test_scan_follow_links_option_reads_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(PROSE)
    book = tmp_path / "book"
    book.mkdir()
    (book / "linked.txt").symlink_to(outside)
    assert cli(tmp_path, "scan", str(book), "--json", "--model", str(tmp_path / "none"), "--follow-links") == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["status"] == "used"


# -- names with junk after the extension -------------------------------------------------------------

def test_junk_after_a_known_extension_is_read_by_content(tmp_path: Path) -> None:
    (tmp_path / 'notes.txt"').write_text(PROSE)
    (tmp_path / "draft.md ").write_text(prose(1))
    (tmp_path / 'photo.txt"').write_bytes(bytes(range(256)) * 20)
    (tmp_path / "letter.docx”").write_text("not a Word file at all")
    results = by_path(load_corpus(tmp_path))
    assert results['notes.txt"'].status == "used" and results['notes.txt"'].format == "txt"
    assert results["draft.md "].status == "used"
    assert results['photo.txt"'].reason == "binary"
    assert results["letter.docx”"].reason == "corrupt"


# -- tables that must fit their data -----------------------------------------------------------------

def test_scan_word_column_fits_a_ten_digit_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from cw_desktop.ml import corpus as corpus_module

    files = [FileResult("huge.txt", "used", None, 12_345_678_901, "txt"),
             FileResult("small.txt", "used", None, 7, "txt")]
    monkeypatch.setattr(corpus_module, "load_corpus", lambda *a, **k: Corpus(tmp_path, [], files))
    assert cli(tmp_path, "scan", str(tmp_path), "--model", str(tmp_path / "none")) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("status"))
    rows = [next(line for line in lines if name in line) for name in ("huge.txt", "small.txt")]
    assert "12,345,678,901" in rows[0]
    assert header.index("path") == rows[0].index("huge.txt") == rows[1].index("small.txt")


def test_models_list_shows_whole_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "data" / "models" / "harbour-stories-fine-tuned-2026-12-01"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    assert cli(tmp_path, "models", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if "harbour-stories" in line)
    assert row.startswith(str(model) + " ")
    catalog_row = next(line for line in lines if line.startswith("distilgpt2 "))
    assert lines[0].index("NAME") == row.index(model.name, len(str(model))) == catalog_row.index("DistilGPT-2")


def test_train_on_a_folder_with_an_undecodable_name_reports_not_crashes(
        latin1_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in os.listdir(latin1_folder):
        (latin1_folder / name).write_text("A short idea for a story about the sea.\n" * 20)
    code = cli(tmp_path, "train", str(latin1_folder), "--base", str(tmp_path / "none"), "--json-progress")
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and events[-1]["event"] == "error" and "Not enough text" in events[-1]["message"]
    assert "Traceback" not in err
