"""The writer's files in the editor's core: encodings round-trip exactly, a character that does not
fit is refused (never re-encoded silently), damaged recovery copies and settings are set aside, not
lost, and special files (FIFOs, sockets, devices) are never opened.

The window's side of the same promises is in tests/gui/test_editor_safety_window.py.
"""

from __future__ import annotations

import codecs
import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cw_desktop.core.disk_stamp import DiskStamp, disk_change
from cw_desktop.core.documents import (DocumentError, RecoveryEntry, RecoveryStore, UnencodableDocument,
                                       parse_recovery_entry, read_text_file, save_text_file)
from cw_desktop.core.settings import Settings
from cw_desktop.core.text_encoding import NotText, TextEncoding, decode, encode
from cw_desktop.ml.readers import decode_text

FORMATS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "formats"

# (codec, BOM) for every encoding the editor claims to keep.
ENCODINGS = {
    "utf-8": ("utf-8", False), "utf-8-bom": ("utf-8", True), "utf-16-le-bom": ("utf-16-le", True),
    "utf-16-be-bom": ("utf-16-be", True), "utf-32-le-bom": ("utf-32-le", True),
    "cp1252": ("cp1252", False), "latin-1": ("latin-1", False),
}
_BOM = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE}


def line_text(codec: str) -> st.SearchStrategy[str]:
    """Printable text without line breaks that `codec` can hold (prose, accents, symbols, emoji...)."""
    chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
    if codec in ("cp1252", "latin-1"):
        chars = st.characters(blacklist_categories=("Cc", "Cs"), max_codepoint=0x2122).filter(
            lambda c: _fits(c, codec))
    return st.text(chars, max_size=60)


def _fits(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
        return True
    except UnicodeEncodeError:
        return False


def file_bytes(codec: str, bom: bool, lines: list[str], newline: str) -> bytes:
    return (_BOM[codec] if bom else b"") + newline.join(lines).encode(codec)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_open_then_save_without_edits_is_byte_identical(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    codec, bom = ENCODINGS[name]
    folder = tmp_path_factory.mktemp(name)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(lines=st.lists(line_text(codec), min_size=1, max_size=12),
           newline=st.sampled_from(["\n", "\r\n", "\r"]))
    @example(lines=["Le Señor naïve de la façade, « très » chaud\u00a0!", "Grüße"], newline="\r\n")
    def check(lines: list[str], newline: str) -> None:
        original = file_bytes(codec, bom, lines, newline)
        file = folder / "draft.txt"
        file.write_bytes(original)
        try:
            loaded = read_text_file(file)
        except DocumentError:
            return  # not recognised as text (e.g. only symbols): never opened, never written
        save_text_file(file, loaded.text, loaded.encoding)
        assert file.read_bytes() == original

    check()


@pytest.mark.parametrize("codec", ["cp1252", "latin-1", "cp1250", "cp1251"])
def test_a_character_the_encoding_cannot_hold_is_refused_never_re_encoded(codec: str, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp(codec)

    @settings(max_examples=60, deadline=None)
    @given(text=line_text("cp1252" if codec in ("cp1252", "latin-1") else "utf-8").filter(
               lambda t: _fits(t, codec)),
           foreign=st.characters(blacklist_categories=("Cc", "Cs")).filter(lambda c: not _fits(c, codec)))
    def check(text: str, foreign: str) -> None:
        file = folder / "draft.txt"
        file.write_bytes(b"before")
        with pytest.raises(UnencodableDocument) as info:
            save_text_file(file, text + foreign, TextEncoding(codec))
        assert foreign in info.value.characters and str(file) in str(info.value)
        assert file.read_bytes() == b"before"

    check()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000))
@example(b"Caf\xe9 \x81 \x8d na\xefve")  # bytes Windows-1252 leaves undefined: Latin-1 keeps them
@example(codecs.BOM_UTF16_LE + "naïve".encode("utf-16-le"))
def test_any_bytes_that_decode_encode_back_exactly(data: bytes) -> None:
    try:
        decoded = decode(data)
    except NotText:
        return
    assert encode(decoded.text, decoded.encoding) == data


def test_western_legacy_text_is_never_read_as_central_european(tmp_path: Path) -> None:
    prose = ("Le Señor était naïve; la façade du café, où l'on dînait, donnait sur la forêt. "
             "Grüße aus München. ") * 60  # a few KB: statistics had picked cp1250 ("naďve")
    file = tmp_path / "french.txt"
    file.write_bytes(prose.encode("latin-1"))
    loaded = read_text_file(file)
    assert loaded.text == prose and loaded.encoding.codec == "cp1252"
    save_text_file(file, loaded.text + "Chloë", loaded.encoding)
    assert file.read_bytes() == (prose + "Chloë").encode("latin-1")


@pytest.mark.skipif(not (FORMATS / "nested" / "philosophy-latin1.txt").is_file(), reason="shared corpus missing")
def test_editor_and_importer_decode_the_shared_latin1_file_alike(tmp_path: Path) -> None:
    source = FORMATS / "nested" / "philosophy-latin1.txt"
    loaded = read_text_file(source)
    assert loaded.encoding.codec == "cp1252" and loaded.encoding.newline == "\r\n"
    assert "dénouement" in loaded.text
    assert loaded.text == decode_text(source.read_bytes()).replace("\r\n", "\n")
    copy = tmp_path / "copy.txt"
    save_text_file(copy, loaded.text, loaded.encoding)
    assert copy.read_bytes() == source.read_bytes()


def test_other_scripts_keep_their_code_page() -> None:
    polish = "Zażółć gęślą jaźń. Głos ludu, który się śmieje, był słyszany w mieście. " * 30
    russian = "Мороз и солнце; день чудесный! Еще ты дремлешь, друг прелестный.\n" * 30
    assert decode(polish.encode("cp1250")).text == polish
    assert decode(russian.encode("cp1251")).text == russian


# -- recovery copies -----------------------------------------------------------------------------

def _valid(stem: str, **changes: object) -> dict:
    entry = RecoveryEntry(doc_id=stem, title="lamp.txt", text="my words", path="/x/lamp.txt", pid=999_999)
    return {**entry.to_dict(), **changes}


@pytest.mark.parametrize("changes,field", [
    ({"pid": "1234"}, "pid"), ({"pid": 12.5}, "pid"), ({"pid": True}, "pid"), ({"pid": -1}, "pid"),
    ({"pid": 2**80}, "pid"), ({"text": None}, "text"), ({"text": ["a"]}, "text"), ({"title": 3}, "title"),
    ({"path": 7}, "path"), ({"path": "/x\x00y"}, "path"), ({"memory": {"a": 1}}, "memory"),
    ({"saved_at": 0}, "saved_at"),
    ({"doc_id": "../../settings"}, "doc_id"), ({"disk_stamp": {"size": "x"}}, "disk_stamp"),
])
def test_each_recovery_field_is_validated(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_recovery_entry(_valid("abc123", **changes), "abc123")


def test_a_malformed_recovery_copy_is_set_aside_and_the_others_still_offered(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path / "recovery")
    good = RecoveryEntry(doc_id=RecoveryEntry.new_id(), title="lamp.txt", text="The lamp went out.")
    store.write(good)
    bad_bytes = json.dumps(_valid("0badc0de", pid="not a pid")).encode()
    (store.folder / "0badc0de.json").write_bytes(bad_bytes)
    (store.folder / "feedbeef.json").write_bytes(b"\xff{half")
    # With the real liveness check: a string pid raised TypeError here and nothing was offered.
    assert store.orphaned() == []  # this live session's copy is not an orphan
    assert [e.text for e in store.orphaned(lambda pid: False)] == ["The lamp went out."]
    moved = store.set_aside_broken()
    assert {m.path.parent for m in moved} == {store.broken_folder}
    assert any("pid" in m.reason for m in moved)  # each says why
    # Kept byte for byte, never deleted.
    assert sorted(p.read_bytes() for p in store.broken_folder.iterdir()) == sorted([bad_bytes, b"\xff{half"])
    assert [e.doc_id for e in store.entries()] == [good.doc_id]


def test_unknown_fields_of_a_newer_version_do_not_break_a_copy() -> None:
    entry = parse_recovery_entry(_valid("abc123", cursor=17, future={"x": 1}), "abc123")
    assert entry.text == "my words" and entry.pid == 999_999


# -- settings ------------------------------------------------------------------------------------

def test_a_settings_file_with_a_typo_is_kept_aside_before_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    original = '[editor]\nfont_family = "Garamond\nfont_size = 18\n'  # unclosed quote
    path.write_text(original)
    loaded = Settings.load(path)
    assert loaded.editor.font_size == 14 and loaded.problems
    assert loaded.kept_copy is not None and loaded.kept_copy.name.startswith("settings.toml.broken-")
    assert loaded.kept_copy.read_text() == original
    loaded.save(path)  # what the app does within seconds
    assert loaded.kept_copy.read_text() == original
    assert Settings.load(path).problems == []
    path.write_text(original)
    assert Settings.load(path).kept_copy == loaded.kept_copy  # same content: one copy, not one per launch


@pytest.mark.parametrize("line,field", [
    ("[editor]\nrecent_files = [1, 2.5]", "recent_files"), ("[editor]\nfont_size = -4", "font_size"),
    ("[editor]\ntheme = 'purple'", "theme"), ("[editor]\nautosave_seconds = 0", "autosave_seconds"),
    ("[suggestions]\ntemperature = nan", "temperature"), ("[suggestions]\ntop_p = 7", "top_p"),
    ("[suggestions]\nalternatives = 0", "alternatives"), ("[suggestions]\ndebounce_ms = -1", "debounce_ms"),
])
def test_each_setting_is_validated_on_its_own(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(line + "\n[keys]\naccept = 'Ctrl+Return'\n")
    loaded = Settings.load(path)
    defaults = Settings()
    section = line.split("]")[0].strip("[")
    value = getattr(getattr(loaded, section), field)
    assert value == getattr(getattr(defaults, section), field) or (field == "recent_files" and value == [])
    assert loaded.keys.accept == "Ctrl+Return"  # the rest of the file still applies
    assert any(field in problem for problem in loaded.problems)


def test_recent_files_keep_their_valid_items(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[editor]\nrecent_files = [1, "/a.txt", 2.5]\n')
    assert Settings.load(path).editor.recent_files == ["/a.txt"]


# -- special files ------------------------------------------------------------------------------

def _read_within(path: Path, seconds: float = 5.0) -> BaseException | None:
    """read_text_file in a daemon thread: a hang fails the test instead of freezing the suite."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read_text_file(path)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"reading {path} hung"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_fifo_is_refused_at_once_with_its_name(tmp_path: Path) -> None:
    fifo = tmp_path / "notes.txt"
    os.mkfifo(fifo)
    error = _read_within(fifo)
    assert isinstance(error, DocumentError) and "notes.txt" in str(error) and "named pipe" in str(error)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_sockets_and_devices_are_refused(tmp_path: Path) -> None:
    sock_path = tmp_path / "draft.txt"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(sock_path))
        error = _read_within(sock_path)
        assert isinstance(error, DocumentError) and "socket" in str(error)
    finally:
        server.close()
    if Path("/dev/zero").exists():
        error = _read_within(Path("/dev/zero"))
        assert isinstance(error, DocumentError) and "device" in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_saving_onto_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match="pipe.txt.*named pipe"):
        save_text_file(fifo, "words")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# -- disk stamps ---------------------------------------------------------------------------------

def test_disk_changes_are_told_from_touches(tmp_path: Path) -> None:
    file = tmp_path / "draft.txt"
    stamp = save_text_file(file, "Mara climbed the steps.")
    assert disk_change(file, stamp) is None
    os.utime(file, ns=(stamp.mtime_ns + 5_000_000_000, stamp.mtime_ns + 5_000_000_000))
    assert disk_change(file, stamp) is None  # touched, same bytes
    file.write_text("Mara climbed the steps!")  # same size, maybe the same mtime tick
    assert disk_change(file, stamp) == "changed"
    file.unlink()
    assert disk_change(file, stamp) == "deleted"
    assert DiskStamp.from_dict(stamp.to_dict()) == stamp


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_fifo_in_place_of_settings_or_a_recovery_copy_does_not_hang_the_start(tmp_path: Path) -> None:
    settings_fifo = tmp_path / "settings.toml"
    os.mkfifo(settings_fifo)
    loaded: list[Settings] = []
    worker = threading.Thread(target=lambda: loaded.append(Settings.load(settings_fifo)), daemon=True)
    worker.start()
    worker.join(5)
    assert loaded and "named pipe" in loaded[0].problems[0] and loaded[0].editor.font_size == 14
    store = RecoveryStore(tmp_path / "recovery")
    store.folder.mkdir()
    os.mkfifo(store.folder / "abc123.json")
    scanned: list[object] = []
    worker = threading.Thread(target=lambda: scanned.append(store.scan()), daemon=True)
    worker.start()
    worker.join(5)
    assert scanned and [b.path.name for b in scanned[0][1]] == ["abc123.json"]
