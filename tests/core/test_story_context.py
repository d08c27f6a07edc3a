"""The story context as stored: round trips, bad data named instead of raised, the old Memory files."""

from __future__ import annotations

import json
from pathlib import Path

from cw_desktop.core.documents import MemoryStore
from cw_desktop.core.story_context import LoreEntry, StoryContext, entry_problems
from cw_desktop.core.story_store import StoryStore


def sample_story() -> StoryContext:
    return StoryContext(memory="Mara narrates, past tense.", authors_note="[Style: terse]", authors_note_depth=2,
                        scan_chars=1500,
                        lorebook=[LoreEntry("Mara", ["Mara", "harbour master"], "Mara: fifty, blunt.", priority=3),
                                  LoreEntry("Moons", [r"moons?"], "Two moons.", enabled=False, regex=True)])


def test_story_round_trips_through_a_dict_and_json() -> None:
    story = sample_story()
    again, problems = StoryContext.from_dict(json.loads(json.dumps(story.to_dict())))
    assert again == story and problems == []


def test_bad_data_is_reported_field_by_field_and_never_raised() -> None:
    raw = {"memory": 42, "authors_note": "ok", "authors_note_depth": 900, "scan_chars": "lots",
           "lorebook": [{"name": "Ann", "keys": "Ann, Annie", "text": "Ann is shy.", "priority": 2},
                        {"name": "Bad", "keys": [1, 2], "text": "x"},
                        "not an entry",
                        {"name": "Rx", "keys": ["(oops"], "text": "t", "regex": True, "enabled": "yes"}]}
    story, problems = StoryContext.from_dict(raw)
    assert story.memory == "" and story.authors_note == "ok"
    assert story.authors_note_depth == 50 and story.scan_chars == 2000
    # Comma-separated keys are read as a list; the broken entries are left out or kept and named.
    assert [e.name for e in story.lorebook] == ["Ann", "Rx"] and story.lorebook[0].keys == ["Ann", "Annie"]
    assert story.lorebook[1].enabled is True
    text = "\n".join(problems)
    for expected in ("'memory'", "'authors_note_depth' is 900", "'scan_chars'", "entry 2 (Bad)", "entry 3",
                     "'enabled'", "not a valid regular expression"):
        assert expected in text, expected
    for junk in (None, [], "story", {"lorebook": {"a": 1}}):
        story, problems = StoryContext.from_dict(junk)
        assert story.lorebook == [] and problems


def test_entry_problems_name_what_keeps_an_entry_from_working() -> None:
    assert entry_problems(LoreEntry("Ann", ["Ann"], "Ann is shy.")) == []
    assert "no keys" in entry_problems(LoreEntry("Ann", [" "], "Ann is shy."))[0]
    assert "regular expression" in entry_problems(LoreEntry("Ann", ["[a-"], "t", regex=True))[0]


def test_store_round_trips_beside_nothing_the_writer_owns(tmp_path: Path) -> None:
    manuscripts = tmp_path / "novel"
    manuscripts.mkdir()
    document = manuscripts / "chapter1.txt"
    document.write_text("It began.", encoding="utf-8")
    store = StoryStore(tmp_path / "data" / "story", tmp_path / "data" / "memory")
    store.save(document, sample_story())
    assert sorted(p.name for p in manuscripts.iterdir()) == ["chapter1.txt"]
    loaded = store.load(document)
    assert loaded.story == sample_story() and loaded.problems == []
    store.save(document, StoryContext())  # emptied: nothing left to store
    assert not store.file_for(document).exists() and store.load(document).story == StoryContext()


def test_old_memory_files_migrate_and_do_not_come_back(tmp_path: Path) -> None:
    document = tmp_path / "book.txt"
    old = MemoryStore(tmp_path / "data" / "memory")
    old.save(document, "Jane is proud.")
    store = StoryStore(tmp_path / "data" / "story", tmp_path / "data" / "memory")
    assert store.load(document).story.memory == "Jane is proud."
    story = store.load(document).story
    story.authors_note = "[Tone: wry]"
    store.save(document, story)
    assert old.load(document) == ""  # the new file holds it now
    story.memory, story.authors_note = "", ""
    store.save(document, story)  # the writer cleared it: the old text must not reappear
    assert store.load(document).story.memory == ""


def test_a_damaged_store_file_is_kept_aside_and_named(tmp_path: Path) -> None:
    document = tmp_path / "book.txt"
    store = StoryStore(tmp_path / "story")
    store.file_for(document).parent.mkdir(parents=True)
    store.file_for(document).write_text("{ not json", encoding="utf-8")
    loaded = store.load(document)
    assert loaded.story == StoryContext()
    assert len(loaded.problems) == 1 and str(store.file_for(document)) in loaded.problems[0]
    kept = [p for p in (tmp_path / "story").iterdir() if "broken" in p.name]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{ not json"
    # A readable file with one bad field keeps the rest and names the file.
    store.file_for(document).write_text(json.dumps({"story": {"memory": "M", "lorebook": 3}}), encoding="utf-8")
    loaded = store.load(document)
    assert loaded.story.memory == "M" and "book.txt" in loaded.problems[0] and "'lorebook'" in loaded.problems[0]


def test_a_recovery_copy_carries_the_whole_story(tmp_path: Path) -> None:
    from cw_desktop.core.documents import RecoveryEntry, RecoveryStore

    store = RecoveryStore(tmp_path / "recovery")
    entry = RecoveryEntry(doc_id=RecoveryEntry.new_id(), title="Untitled", text="Mara waited.",
                          memory="Mara narrates, past tense.", story=sample_story().to_dict())
    store.write(entry)
    (restored,), broken = store.scan()
    assert broken == [] and StoryContext.from_dict(restored.story)[0] == sample_story()
    raw = json.loads((tmp_path / "recovery" / f"{entry.doc_id}.json").read_text(encoding="utf-8"))
    raw["story"] = "not a story"
    (tmp_path / "recovery" / f"{entry.doc_id}.json").write_text(json.dumps(raw), encoding="utf-8")
    assert "'story'" in store.scan()[1][0].reason
