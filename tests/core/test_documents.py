"""Documents on disk: encodings, atomic saves, crash-recovery copies, per-document Memory."""

from __future__ import annotations

from pathlib import Path

import time
import pytest

from cw_desktop.core.documents import (DocumentError, MemoryStore, RecoveryEntry, RecoveryStore, UnencodableDocument,
                                       read_text_file, save_text_file, update_recent)
from cw_desktop.core.text_encoding import TextEncoding


def test_line_endings_and_encoding_survive_a_round_trip(tmp_path: Path) -> None:
    file = tmp_path / "draft.txt"
    file.write_bytes("Caf\xe9 au lait.\r\nSecond line.\r\n".encode("latin-1"))
    loaded = read_text_file(file)
    assert loaded.text == "Café au lait.\nSecond line.\n"
    assert loaded.newline == "\r\n"
    save_text_file(file, loaded.text + "Third.\n", loaded.encoding)
    assert file.read_bytes() == "Caf\xe9 au lait.\r\nSecond line.\r\nThird.\r\n".encode("latin-1")


def test_short_legacy_file_is_read_as_western_european(tmp_path: Path) -> None:
    file = tmp_path / "note.txt"
    file.write_bytes("Café.".encode("cp1252"))
    assert read_text_file(file).text == "Café."


def test_text_the_old_encoding_cannot_hold_is_refused_not_re_encoded(tmp_path: Path) -> None:
    file = tmp_path / "draft.txt"
    file.write_bytes(b"na\xefve")
    with pytest.raises(UnencodableDocument, match="draft.txt.*🌊.*Windows-1252.*nothing was saved") as info:
        save_text_file(file, "“Quoted” — 🌊", TextEncoding("cp1252"))
    assert info.value.characters == ["🌊"]
    assert file.read_bytes() == b"na\xefve"  # untouched
    save_text_file(file, "“Quoted” — 🌊", TextEncoding("cp1252").as_utf8())
    assert file.read_text(encoding="utf-8") == "“Quoted” — 🌊"


def test_unreadable_inputs_name_the_file_and_reason(tmp_path: Path) -> None:
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x01")
    with pytest.raises(DocumentError, match="image.txt.*binary"):
        read_text_file(binary)
    with pytest.raises(DocumentError, match="missing.txt.*does not exist"):
        read_text_file(tmp_path / "missing.txt")
    with pytest.raises(DocumentError, match="is a folder"):
        read_text_file(tmp_path)


def test_failed_save_leaves_the_old_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "draft.txt"
    file.write_text("precious")

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cw_desktop.core.atomic.os.replace", disk_full)
    with pytest.raises(DocumentError, match="draft.txt.*No space left.*previous version on disk is unchanged"):
        save_text_file(file, "new")
    assert file.read_text() == "precious"
    assert [f.name for f in tmp_path.iterdir()] == ["draft.txt"]  # no temp file left behind


def test_recovery_copies_of_dead_sessions_are_offered(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path / "recovery")
    mine = RecoveryEntry(doc_id=RecoveryEntry.new_id(), title="Untitled", text="my words")
    store.write(mine)
    theirs = RecoveryEntry(doc_id=RecoveryEntry.new_id(), title="book.txt", text="old", path="/x/book.txt",
                           memory="Jane is proud")
    store.write(theirs)
    (store.folder / "junk.json").write_text("{not json")
    assert {e.doc_id for e in store.entries()} == {mine.doc_id, theirs.doc_id}
    # This process is alive, so nothing is orphaned...
    assert store.orphaned() == []
    # ...but after a crash the pid is gone.
    orphans = store.orphaned(is_alive=lambda pid: False)
    restored = {e.doc_id: e for e in orphans}[theirs.doc_id]
    assert restored.text == "old" and restored.memory == "Jane is proud" and restored.path == "/x/book.txt"
    store.remove(mine.doc_id)
    assert [e.doc_id for e in store.entries()] == [theirs.doc_id]


def test_memory_is_stored_per_document_outside_its_folder(tmp_path: Path) -> None:
    manuscripts = tmp_path / "manuscripts"
    manuscripts.mkdir()
    store = MemoryStore(tmp_path / "data" / "memory")
    store.save(manuscripts / "a.txt", "Elizabeth: witty.")
    assert store.load(manuscripts / "a.txt") == "Elizabeth: witty."
    assert store.load(manuscripts / "b.txt") == ""
    assert list(manuscripts.iterdir()) == []
    store.save(manuscripts / "a.txt", "  ")
    assert store.load(manuscripts / "a.txt") == ""


def test_recent_files_most_recent_first_without_duplicates(tmp_path: Path) -> None:
    a, b = str((tmp_path / "a.txt").resolve()), str((tmp_path / "b.txt").resolve())
    recent = update_recent([], a)
    recent = update_recent(recent, b)
    recent = update_recent(recent, a)
    assert recent == [a, b]
    assert len(update_recent([str(i) for i in range(20)], a, limit=10)) == 10


def test_a_killed_but_unreaped_session_counts_as_gone() -> None:
    """kill -9 leaves a zombie until the parent reaps it; its recovery copies must still be offered."""
    import signal
    import subprocess
    import sys

    from cw_desktop.core.processes import pid_alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(child.pid)
        child.send_signal(signal.SIGKILL)
        # Not reaped yet (no wait()): the process table still holds it as a zombie.
        deadline = time.monotonic() + 10
        while pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_characters_the_editor_would_change_are_named_with_their_line() -> None:
    from cw_desktop.core.documents import editor_unsafe_characters

    assert editor_unsafe_characters("Plain text\u2028with a line separator and no\u00a0break.") == ""
    assert editor_unsafe_characters("one\ntwo\u2029three\ufdd1") == \
        "2 characters (PARAGRAPH SEPARATOR, U+FDD1), the first on line 2"
