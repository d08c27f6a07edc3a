"""The window keeps the writer's files safe (issue 9): exact encodings, asking before re-encoding,
noticing other programs' changes, recovery that survives damaged copies, settings problems shown,
autosave a couple of seconds after typing stops, FIFOs never opened."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cw_desktop.core.documents import editor_unsafe_characters
from cw_desktop.core.settings import Settings
from gui_helpers import crash, make_window


def type_at_end(qtbot, tab, text: str) -> None:
    cursor = tab.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    tab.editor.setTextCursor(cursor)
    if text.isascii():
        qtbot.keyClicks(tab.editor, text)
    else:
        tab.editor.insertPlainText(text)  # QTest aborts on keys outside Latin-1


# -- encodings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,bom", [("utf-8", False), ("utf-8", True), ("utf-16-le", True), ("cp1252", False)])
def test_open_and_save_in_the_window_is_byte_identical(qtbot, qasync_loop, app_paths, tmp_path: Path,
                                                       codec: str, bom: bool) -> None:
    import codecs

    window = make_window(qtbot, app_paths)
    marks = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE}
    draft = tmp_path / "draft.txt"

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(lines=st.lists(st.text(st.characters(codec="latin-1" if codec == "cp1252" else None,
                                                blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30),
                          min_size=1, max_size=6),
           newline=st.sampled_from(["\n", "\r\n"]))
    def check(lines: list[str], newline: str) -> None:
        text = newline.join(lines) + "\u00a0« naïve »"  # no-break spaces too (French typography)
        original = (marks[codec] if bom else b"") + text.encode(codec)
        draft.write_bytes(original)
        for tab in window.document_tabs():
            tab.editor.document().setModified(False)
            window.documents.close_tab(tab)
        tab = window.open_path(draft)
        assert tab is not None
        if editor_unsafe_characters(text):  # U+FDD0/U+FDD1: opened as a copy, never saved over
            assert tab.path is None and tab.text() != text and draft.read_bytes() == original
            return
        assert window.documents.save(tab)
        assert draft.read_bytes() == original

    check()


def test_a_file_the_editor_cannot_hold_exactly_opens_as_a_copy(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    """Qt turns U+2029 and U+FDD0/U+FDD1 into line breaks: such a file opens as an untitled copy,
    with a message naming it and the reason, and Save never writes over it."""
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "odd.txt"
    original = "Chapter one\nShe paused.\u2029Then she went on.\ufdd0\n".encode("utf-8")
    draft.write_bytes(original)
    tab = window.open_path(draft)
    assert tab is not None and tab.path is None and tab.is_modified() and tab.title == "odd (copy)"
    kind, message = window.prompts.asked[-1]
    assert kind == "error" and str(draft) in message and "2 characters" in message and "line 2" in message
    saved = tmp_path / "copy.txt"
    assert window.documents.save_to(tab, saved)
    assert draft.read_bytes() == original  # the file itself is untouched
    assert "She paused.\nThen she went on." in saved.read_text(encoding="utf-8")


def test_typing_a_character_the_file_cannot_hold_asks_first(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "letter.txt"
    original = "Dear Señor, the façade is naïve.\r\n".encode("latin-1") * 200
    draft.write_bytes(original)
    tab = window.open_path(draft)
    type_at_end(qtbot, tab, "Chloë ☃")  # ë fits Windows-1252, the snowman does not
    window.prompts.unencodable_answer = False
    assert not window.documents.save(tab)
    assert window.prompts.asked[-1] == ("unencodable", "“☃”")
    assert draft.read_bytes() == original and tab.is_modified()  # nothing written, nothing re-encoded
    window.prompts.unencodable_answer = True
    assert window.documents.save(tab)
    assert draft.read_bytes() == (original.decode("cp1252") + "Chloë ☃").replace("\r\n", "\n").replace(
        "\n", "\r\n").encode("utf-8")
    assert tab.encoding.codec == "utf-8" and tab.encoding.newline == "\r\n"


# -- other programs' changes ---------------------------------------------------------------------

def test_saving_over_a_file_another_program_changed_asks(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "chapter.txt"
    draft.write_text("Chapter one.\n")
    tab = window.open_path(draft)
    type_at_end(qtbot, tab, "Mine.")
    draft.write_text("Chapter one, edited elsewhere.\n")
    window.prompts.disk_answer = "cancel"
    assert not window.documents.save(tab)
    assert window.prompts.asked[-1] == ("disk_changed", ("chapter.txt", "changed", True))
    assert draft.read_text() == "Chapter one, edited elsewhere.\n"
    window.prompts.disk_answer = "reload"
    assert not window.documents.save(tab)
    assert tab.text() == "Chapter one, edited elsewhere.\n" and not tab.is_modified()
    tab.editor.undo()  # the writer's version is one undo away
    assert tab.text() == "Chapter one.\nMine."
    window.prompts.disk_answer = "keep"
    assert window.documents.save(tab)
    assert draft.read_text() == "Chapter one.\nMine."
    asked = len(window.prompts.asked)
    type_at_end(qtbot, tab, " More.")
    assert window.documents.save(tab) and len(window.prompts.asked) == asked  # our own save is not a change


def test_a_deleted_file_is_not_silently_recreated(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "gone.txt"
    draft.write_text("words")
    tab = window.open_path(draft)
    draft.unlink()
    window.prompts.disk_answer = "cancel"
    assert not window.documents.save(tab) and not draft.exists()
    assert window.prompts.asked[-1] == ("disk_changed", ("gone.txt", "deleted", True))


def test_regaining_focus_offers_reload_once(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    window = make_window(qtbot, app_paths)
    draft = tmp_path / "poem.txt"
    draft.write_text("Roses.\n")
    tab = window.open_path(draft)
    draft.write_text("Roses are red.\n")
    window.prompts.disk_answer = "cancel"  # decide later
    window.documents.check_disk_changes()
    assert window.prompts.asked[-1] == ("disk_changed", ("poem.txt", "changed", False))
    window.documents.check_disk_changes()
    assert len([a for a in window.prompts.asked if a[0] == "disk_changed"]) == 1  # not at every focus change
    draft.write_text("Roses are red, violets blue.\n")
    window.prompts.disk_answer = "reload"
    window.documents.check_disk_changes()
    assert tab.text() == "Roses are red, violets blue.\n" and not tab.is_modified()


def test_focus_in_checks_the_disk(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(qtbot, app_paths)
    draft = tmp_path / "poem.txt"
    draft.write_text("Roses.\n")
    window.open_path(draft)
    draft.write_text("Roses are red.\n")
    window.prompts.disk_answer = "keep"
    window.activateWindow()
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))
    qtbot.waitUntil(lambda: any(a[0] == "disk_changed" for a in window.prompts.asked), timeout=3000)


# -- recovery and settings -----------------------------------------------------------------------

def test_a_malformed_recovery_copy_does_not_hide_a_valid_one(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths, will_crash=True)
    qtbot.keyClicks(window.current_editor(), "keep me")
    window.documents.autosave()
    crash(window)
    from cw_desktop.core.processes import pid_alive

    broken = app_paths.recovery_dir / "0badc0de.json"
    content = json.dumps({"doc_id": "0badc0de", "title": "x", "text": "lost?", "path": None,
                          "memory": "", "pid": "not-a-number", "saved_at": "today"})
    broken.write_text(content)
    later = make_window(qtbot, app_paths)
    # The real liveness check for other sessions (it raised TypeError on "not-a-number"); the
    # crashed window ran in this very process, so its pid counts as gone.
    restored = later.documents.restore_from_crash(is_alive=lambda pid: pid != os.getpid() and pid_alive(pid))
    assert [t.text() for t in restored] == ["keep me"]
    error = next(text for kind, text in later.prompts.asked if kind == "error")
    assert "0badc0de" in error and "pid" in error
    assert not broken.exists()
    assert [p.read_text() for p in (app_paths.recovery_dir / "broken").iterdir()] == [content]  # set aside, kept


def test_settings_problems_are_shown_in_the_window(qtbot, qasync_loop, app_paths) -> None:
    app_paths.settings_file.write_text('[editor]\nfont_family = "Garamond\n')
    settings = Settings.load(app_paths.settings_file)
    window = make_window(qtbot, app_paths, settings)
    window.report_settings_problems()
    error = next(text for kind, text in window.prompts.asked if kind == "error")
    assert str(settings.kept_copy) in error and "settings.toml" in error


def test_bad_recent_files_do_not_break_open_and_save_as(qtbot, qasync_loop, app_paths, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    app_paths.settings_file.write_text("[editor]\nrecent_files = [1, 2.5]\n")
    window = make_window(qtbot, app_paths, Settings.load(app_paths.settings_file))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([], "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    window.documents.open_dialog()  # TypeError before: Path(1)
    assert window.documents.save_as() is False


# -- autosave ------------------------------------------------------------------------------------

def test_autosave_follows_a_typing_pause_not_only_the_timer(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)  # the periodic timer stays at 30 s
    assert window.settings.editor.autosave_seconds == 30
    qtbot.keyClicks(window.current_editor(), "A sentence typed just before a crash.")
    with qtbot.waitSignal(window.autosaved, timeout=4_000, check_params_cb=lambda n: n == 1):
        pass
    copies = [json.loads(p.read_text()) for p in app_paths.recovery_dir.glob("*.json")]
    assert [c["text"] for c in copies] == ["A sentence typed just before a crash."]


def test_continuous_typing_is_still_copied_every_few_seconds(qtbot, qasync_loop, app_paths) -> None:
    from PySide6.QtCore import QTimer

    window = make_window(qtbot, app_paths)
    editor = window.current_editor()
    typist = QTimer(window, interval=300)  # never pauses long enough for the idle timer
    typist.timeout.connect(lambda: editor.insertPlainText("word "))
    typist.start()
    try:
        with qtbot.waitSignal(window.autosaved, timeout=6_000, check_params_cb=lambda n: n == 1):
            pass
    finally:
        typist.stop()


def test_a_large_document_is_copied_off_the_gui_thread(qtbot, qasync_loop, app_paths) -> None:
    window = make_window(qtbot, app_paths)
    window.current_editor().insertPlainText("The tide came in. " * 20_000)  # 360,000 characters
    threads: list[str] = []
    real_write = window.documents.recovery.write
    window.documents.recovery.write = lambda entry: (threads.append(threading.current_thread().name), real_write(entry))
    with qtbot.waitSignal(window.autosaved, timeout=10_000, check_params_cb=lambda n: n == 1):
        assert window.documents.autosave() == 1
    assert threads and threads[0] != threading.main_thread().name
    assert len(list(app_paths.recovery_dir.glob("*.json"))) == 1


# -- special files -------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_opening_a_fifo_says_why_instead_of_hanging(qtbot, qasync_loop, app_paths, tmp_path: Path) -> None:
    fifo = tmp_path / "chapter.txt"
    os.mkfifo(fifo)
    window = make_window(qtbot, app_paths)
    outcome: list[object] = []
    # A hang would block this test for ever: opening a FIFO for reading waits for a writer.
    guard = threading.Timer(10, lambda: outcome or os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)))
    guard.daemon = True
    guard.start()
    outcome.append(window.open_path(fifo))
    assert outcome == [None]
    message = window.prompts.asked[-1][1]
    assert "chapter.txt" in message and "named pipe" in message


@pytest.mark.parametrize("button,expected", [("Reload from disk", "reload"), ("Keep mine", "keep"),
                                             ("Save mine as…", "save_as"), ("Cancel", "cancel")])
def test_the_real_disk_question_returns_the_clicked_choice(qtbot, qasync_loop, app_paths, button: str,
                                                           expected: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from cw_desktop.gui.prompts import Prompts

    window = make_window(qtbot, app_paths)

    def click() -> None:  # never leaves the box open: a failure must not hang the test
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        shown.append(box.text())
        matching = [b for b in box.buttons() if b.text().replace("&", "") == button]
        matching[0].click() if matching else box.done(0)

    shown: list[str] = []
    QTimer.singleShot(50, click)
    assert Prompts(window).disk_changed("poem.txt", "changed", False) == expected
    assert "poem.txt" in shown[0] and "changed by another program" in shown[0]


@pytest.mark.parametrize("button,expected", [("Save as UTF-8", True), ("Cancel", False)])
def test_the_real_encoding_question_returns_the_clicked_choice(qtbot, qasync_loop, app_paths, button: str,
                                                               expected: bool) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from cw_desktop.gui.prompts import Prompts

    window = make_window(qtbot, app_paths)

    def click() -> None:  # never leaves the box open: a failure must not hang the test
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        shown.append(box.text())
        matching = [b for b in box.buttons() if b.text().replace("&", "") == button]
        matching[0].click() if matching else box.done(0)

    shown: list[str] = []
    QTimer.singleShot(50, click)
    assert Prompts(window).unencodable("letter.txt", "“☃”", "Western (Windows-1252)") is expected
    assert "☃" in shown[0] and "Windows-1252" in shown[0]
