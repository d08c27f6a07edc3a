"""load_corpus on real folders: every hazard reported, nothing written, duplicates dropped, chapters."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cw_desktop.ml import corpus as corpus_module
from cw_desktop.ml import plan
from cw_desktop.ml.corpus import (CorpusError, Document, ScanCancelled, estimate_training, find_duplicates,
                                  load_corpus, split_chapters)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FORMATS = SHARED / "formats"
WRITERS = SHARED / "writers"

pytestmark = pytest.mark.skipif(not FORMATS.is_dir(), reason="shared corpus not available")

# /work/shared/corpus/README.md, formats/ table: expected status, reason, and a phrase of the text.
EXPECTED = {
    "amontillado.txt": ("used", None, "The thousand injuries of Fortunato"),
    "sonnets.md": ("used", None, "From fairest creatures we desire increase,\nThat thereby beauty's rose"),
    "raven.docx": ("used", None, "Nevermore"),
    "usher.odt": ("used", None, "Usher"),
    "red-death.rtf": ("used", None, "Prince Prospero"),
    "snowdrop.epub": ("used", None, "Snowdrop"),
    "alice-songs.html": ("used", None, "Twinkle"),
    "nested/philosophy-latin1.txt": ("used", None, "dénouement"),
    "nested/lady-susan-utf16.txt": ("used", None, "MY DEAR BROTHER"),
    "nested/drafts/feeding-crlf.txt": ("used", None, "FEEDING THE MIND"),
    "nested/drafts/empty.txt": ("skipped", "empty", None),
    "nested/drafts/chapter-9.txt": ("skipped", "binary", None),
    "cover.jpg": ("skipped", "unsupported", None),
    ".DS_Store": ("skipped", "hidden", None),
}


@pytest.fixture(scope="module")
def formats_corpus():
    return load_corpus(FORMATS)


def test_every_file_of_the_formats_folder_is_reported(formats_corpus) -> None:
    assert sorted(f.path for f in formats_corpus.files) == sorted(EXPECTED)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_formats_case(formats_corpus, path: str) -> None:
    status, reason, phrase = EXPECTED[path]
    result = next(f for f in formats_corpus.files if f.path == path)
    assert (result.status, result.reason) == (status, reason), result.detail
    documents = {d.path: d for d in formats_corpus.documents}
    if status == "used":
        document = documents[path]
        assert result.words == document.words > 500
        assert phrase in document.text
        # what cleaning must have removed, whatever the format
        for leftover in ("Project Gutenberg", "<p", "</", "\r", "START OF", "[Illustration"):
            assert leftover not in document.text, (path, leftover)
        assert "\n\n".join(document.chapters) == document.text
    else:
        assert path not in documents and result.words == 0


def test_markdown_and_html_markup_is_gone(formats_corpus) -> None:
    documents = {d.path: d for d in formats_corpus.documents}
    html = documents["alice-songs.html"].text
    assert "font-family" not in html and "function(" not in html and "<" not in html
    assert "\n# " not in documents["sonnets.md"].text


def test_folder_is_unchanged_after_a_scan(tmp_path: Path) -> None:
    folder = tmp_path / "manuscripts"
    shutil.copytree(FORMATS, folder)
    for path in folder.rglob("*"):  # copytree keeps the read-only modes; make it a normal folder
        path.chmod(0o755 if path.is_dir() else 0o644)

    def snapshot() -> dict[str, tuple[int, int, int]]:
        return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
                for p in sorted(folder.rglob("*"))}

    before = snapshot()
    load_corpus(folder)
    assert snapshot() == before


def test_hidden_folders_symlink_loops_and_size_limit(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "a.txt").write_text("not a manuscript " * 100)
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "chapter.txt").write_text("resource fork " * 100)
    (folder / "part").mkdir()
    (folder / "part" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "part" / "chapter.txt").write_text("The storm broke over the harbour. " * 200)
    (folder / "big.txt").write_text("word " * 400_000)  # 2 MB
    (folder / "Thumbs.db").write_bytes(b"\x00" * 100)
    (folder / "draft.pdf").write_bytes(b"%PDF-1.4")
    corpus = load_corpus(folder, max_file_mb=1)
    by_path = {f.path: f for f in corpus.files}
    assert by_path[".git/"].reason == "hidden" and by_path["__MACOSX/"].reason == "hidden"
    assert by_path["Thumbs.db"].reason == "hidden"
    assert by_path["big.txt"].reason == "too large"
    assert by_path["draft.pdf"].reason == "unsupported" and "PDF" in by_path["draft.pdf"].detail
    assert [d.path for d in corpus.documents] == ["part/chapter.txt"]  # the loop was not followed twice


def test_unreadable_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "open.txt").write_text("A readable story about the sea and the ships. " * 50)
    (tmp_path / "locked.txt").write_text("A private story. " * 50)
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if str(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    corpus = load_corpus(tmp_path)
    by_path = {f.path: f for f in corpus.files}
    assert by_path["locked.txt"].reason == "unreadable"
    assert by_path["open.txt"].status == "used"


def test_corrupt_docx_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_text("I am not a zip file")
    (tmp_path / "fine.md").write_text("# Title\n\nSome *real* prose about the harbour at dusk. " * 30)
    corpus = load_corpus(tmp_path)
    by_path = {f.path: f for f in corpus.files}
    assert by_path["broken.docx"].reason == "corrupt"
    assert by_path["fine.md"].status == "used" and "*" not in corpus.documents[0].text


def test_missing_folder_and_file_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(tmp_path / "file.txt")


def test_progress_and_cancellation(tmp_path: Path) -> None:
    for index in range(5):
        (tmp_path / f"c{index}.txt").write_text(f"Chapter {index} text, a story of the sea. " * 30)
    calls: list[tuple[int, int, str]] = []
    load_corpus(tmp_path, on_file=lambda done, total, path: calls.append((done, total, path)))
    assert calls == [(i + 1, 5, f"c{i}.txt") for i in range(5)]
    with pytest.raises(ScanCancelled):
        load_corpus(tmp_path, should_stop=lambda: len(calls) >= 7,
                    on_file=lambda done, total, path: calls.append((done, total, path)))
    assert len(calls) == 7


# -- duplicates ---------------------------------------------------------------------------------

def test_grimm_identical_subfolders_are_exact_duplicates() -> None:
    corpus = load_corpus(WRITERS / "grimm")
    used = sorted(d.path for d in corpus.documents)
    assert used and all(path.startswith("jacob/") for path in used)
    for result in corpus.files:
        if result.path.startswith("wilhelm/") and result.path.endswith(".txt"):
            assert result.status == "skipped"
            assert result.reason == "duplicate of " + result.path.replace("wilhelm/", "jacob/")


def test_two_editions_of_a_play_are_near_duplicates(tmp_path: Path) -> None:
    for name in ("Macbeth.txt", "The Tragedy of Macbeth.txt", "Hamlet.txt"):
        shutil.copy(WRITERS / "shakespeare" / name, tmp_path / name)
    corpus = load_corpus(tmp_path)
    by_path = {f.path: f for f in corpus.files}
    assert by_path["The Tragedy of Macbeth.txt"].reason == "near-duplicate of Macbeth.txt"
    assert by_path["Macbeth.txt"].status == "used" and by_path["Hamlet.txt"].status == "used"


def test_an_anthology_is_not_a_near_duplicate_of_a_story_it_contains() -> None:
    from cw_desktop.ml.cleaning import clean

    story_text = clean((FORMATS / "amontillado.txt").read_text(encoding="utf-8"))
    others = [clean((WRITERS / "poe" / name).read_text(encoding="utf-8"))
              for name in ("The Fall of the House of Usher.txt", "The Masque of the Red Death.txt")]
    anthology_text = "\n\n".join([others[0], story_text, others[1]])
    documents = [Document("anthology.txt", anthology_text, [anthology_text]),
                 Document("story.txt", story_text, [story_text])]
    assert find_duplicates(documents) == {}
    # ... while a lightly edited copy is one
    edited = story_text.replace("Fortunato", "Fortunatus", 3)
    documents.append(Document("story-edited.txt", edited, [edited]))
    assert find_duplicates(documents) == {"story-edited.txt": ("near-duplicate of", "story.txt")}


# -- chapters -----------------------------------------------------------------------------------

def test_austen_chapters(tmp_path: Path) -> None:
    for name in ("Pride and Prejudice.txt", "Persuasion.txt"):
        shutil.copy(WRITERS / "austen" / name, tmp_path / name)
    corpus = load_corpus(tmp_path)
    pride = next(d for d in corpus.documents if d.path == "Pride and Prejudice.txt")
    assert "Gutenberg" not in pride.text and "It is a truth universally acknowledged" in pride.text
    assert 55 <= len(pride.chapters) <= 65  # 61 chapters in the novel
    words = [len(chapter.split()) for chapter in pride.chapters]
    assert min(words) >= corpus_module.MIN_CHAPTER_WORDS
    assert sum(chapter.startswith("Chapter") or chapter.startswith("CHAPTER") for chapter in pride.chapters) >= 55
    persuasion = next(d for d in corpus.documents if d.path == "Persuasion.txt")
    assert 20 <= len(persuasion.chapters) <= 30  # 24 chapters
    assert "\n\n".join(persuasion.chapters) == persuasion.text


def test_chapters_without_headings_are_runs_of_about_2000_words() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 99 for i in range(100)]  # 10,000 words
    text = "\n\n".join(paragraphs)
    chapters = split_chapters(text)
    assert "\n\n".join(chapters) == text
    assert len(chapters) == 5 and all(1900 <= len(c.split()) <= 2100 for c in chapters)


def test_tiny_sections_merge_and_headings_stay_with_their_text() -> None:
    body = "\n\n".join("word " * 120 for _ in range(5))  # 600 words
    text = f"VOLUME I\n\nCHAPTER I\n\n{body}\n\nCHAPTER II\n\nShort.\n\nCHAPTER III\n\n{body}"
    chapters = split_chapters(text)
    assert "\n\n".join(chapters) == text
    assert len(chapters) == 2
    assert chapters[0].startswith("VOLUME I\n\nCHAPTER I\n\n")
    assert chapters[1].startswith("CHAPTER II\n\nShort.\n\nCHAPTER III")


def test_play_is_split_by_act_and_scene() -> None:
    from cw_desktop.ml.cleaning import clean

    play = clean((WRITERS / "shakespeare" / "Macbeth.txt").read_text(encoding="utf-8"))
    chapters = split_chapters(play)
    assert 6 <= len(chapters) <= 20
    assert sum(c.startswith(("ACT", "SCENE")) for c in chapters) >= 5


# -- estimate ------------------------------------------------------------------------------------

def test_estimate_without_and_with_a_tokenizer(formats_corpus, tiny_model_dir: Path) -> None:
    rough = estimate_training(formats_corpus)
    assert rough["tokens_exact"] is False
    assert rough["tokens"] == round(formats_corpus.words * 1.33)
    # The trainer's own speed estimate (ml/plan.py), not a second figure of its own.
    speed = plan.estimate_tokens_per_second(plan.REFERENCE_MODEL, "full", "cpu")
    assert rough["tokens_per_second"] == speed and rough["estimated_seconds"] == pytest.approx(rough["tokens"] / speed)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    exact = estimate_training(formats_corpus, tokenizer)
    assert exact["tokens_exact"] is True and exact["tokens"] > formats_corpus.words
    assert exact["files_used"] == 10 and exact["files_skipped"] == 4


def test_a_reader_crash_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cw_desktop.ml import readers

    (tmp_path / "odd.rtf").write_text("{\\rtf1 some text}")
    (tmp_path / "fine.txt").write_text("The harbour was quiet that night. " * 40)

    def explode(data: bytes) -> str:
        raise ValueError("unexpected control word")

    monkeypatch.setitem(readers.READERS, "rtf", explode)
    corpus = load_corpus(tmp_path)
    by_path = {f.path: f for f in corpus.files}
    assert by_path["odd.rtf"].reason == "corrupt" and "unexpected control word" in by_path["odd.rtf"].detail
    assert by_path["fine.txt"].status == "used"
