"""A folder as a project: chapter order, new/rename/reorder/delete that never lose text, a bad
project file, hostile folders, find and the session count."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cw_desktop.core.project import PROJECT_DIR, Project, ProjectError
from cw_desktop.core.project_search import WritingSession, find_in_chapters, utf16_position
from cw_desktop.core.story_context import LoreEntry, StoryContext


def make_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "novel"
    folder.mkdir()
    for number, text in ((1, "It was a dark night."), (2, "The storm broke at dawn."), (10, "Ten chapters in.")):
        (folder / f"Chapter {number}.md").write_text(text, encoding="utf-8")
    (folder / "cover.png").write_bytes(b"\x89PNG not a chapter")
    return folder


def test_a_new_project_lists_its_chapters_in_natural_order_and_writes_a_readable_file(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    assert project.chapters == ["Chapter 1.md", "Chapter 2.md", "Chapter 10.md"]
    assert project.problems == []
    project.save()
    raw = json.loads((project.folder / PROJECT_DIR / "project.json").read_text(encoding="utf-8"))
    assert raw["chapters"] == project.chapters and raw["title"] == "novel"


def test_new_rename_reorder_and_target_persist_across_reopening(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    created = project.new_chapter("Interlude", after="Chapter 1.md")
    assert created == "Interlude.md" and (project.folder / "Interlude.md").exists()
    renamed = project.rename_chapter("Chapter 2.md", "The Storm")
    assert renamed == "The Storm.md"
    assert (project.folder / "The Storm.md").read_text(encoding="utf-8") == "The storm broke at dawn."
    project.move_chapter("Chapter 10.md", -10)
    project.session_target = 750
    project.save()
    reopened = Project.open(project.folder)
    assert reopened.chapters == ["Chapter 10.md", "Chapter 1.md", "Interlude.md", "The Storm.md"]
    assert reopened.session_target == 750 and reopened.problems == []


def test_new_and_rename_never_replace_an_existing_file(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    with pytest.raises(ProjectError, match="already exists"):
        project.new_chapter("Chapter 2")
    with pytest.raises(ProjectError, match="already exists"):
        project.rename_chapter("Chapter 1.md", "Chapter 2.md")
    with pytest.raises(ProjectError):
        project.new_chapter("../escape")
    assert (project.folder / "Chapter 1.md").read_text(encoding="utf-8") == "It was a dark night."
    assert (project.folder / "Chapter 2.md").read_text(encoding="utf-8") == "The storm broke at dawn."
    assert not (tmp_path / "escape.md").exists()


def test_delete_moves_the_file_to_the_deleted_folder_with_its_text(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    moved = project.delete_chapter("Chapter 2.md")
    assert moved is not None and moved.parent == project.folder / PROJECT_DIR / "deleted"
    assert moved.read_text(encoding="utf-8") == "The storm broke at dawn."
    assert not (project.folder / "Chapter 2.md").exists()
    reopened = Project.open(project.folder)
    assert reopened.chapters == ["Chapter 1.md", "Chapter 10.md"]  # the deleted one is not "found" again


def test_a_bad_project_file_is_named_kept_aside_and_the_chapters_survive(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    bad = folder / PROJECT_DIR / "project.json"
    bad.parent.mkdir()
    bad.write_text('{"chapters": ["Chapter 2.md", ', encoding="utf-8")
    project = Project.open(folder)
    assert len(project.problems) == 1 and str(bad) in project.problems[0]
    assert project.kept_copy is not None and project.kept_copy.read_text(encoding="utf-8").startswith('{"chapters"')
    assert project.chapters == ["Chapter 1.md", "Chapter 2.md", "Chapter 10.md"]
    project.save()  # rewriting it loses nothing: the writer's version is in the kept copy
    assert project.kept_copy.exists()


def test_bad_fields_are_reported_one_by_one_and_the_rest_is_used(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / PROJECT_DIR).mkdir()
    (folder / PROJECT_DIR / "project.json").write_text(json.dumps({
        "chapters": ["Chapter 10.md", "/etc/passwd", "../outside.md", 7, "Chapter 1.md"],
        "session_target": "lots", "story": {"memory": "Emma is 17.", "lorebook": [{"name": 3}]}}), encoding="utf-8")
    project = Project.open(folder)
    text = "\n".join(project.problems)
    assert "/etc/passwd" in text and "../outside.md" in text and "session_target" in text and "story" in text
    assert project.chapters == ["Chapter 10.md", "Chapter 1.md", "Chapter 2.md"]  # new files appended
    assert project.session_target == 0
    assert project.load_story().memory == "Emma is 17."
    assert project.kept_copy is not None


def test_a_chapter_missing_on_disk_is_reported_and_kept_in_its_place(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    project.save()
    (project.folder / "Chapter 2.md").unlink()
    reopened = Project.open(project.folder)
    assert reopened.chapters == ["Chapter 1.md", "Chapter 2.md", "Chapter 10.md"]
    assert "Chapter 2.md" in reopened.missing
    assert any("Chapter 2.md" in problem and "cannot be opened" in problem for problem in reopened.problems)
    assert reopened.word_count("Chapter 2.md") is None
    assert reopened.delete_chapter("Chapter 2.md") is None  # leaves the list; nothing to move
    assert Project.open(project.folder).chapters == ["Chapter 1.md", "Chapter 10.md"]


def test_hostile_folder_links_out_fifos_and_huge_files_are_refused_not_followed(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "diary.txt").write_text("private", encoding="utf-8")
    (folder / "diary.txt").symlink_to(outside / "diary.txt")
    (folder / "elsewhere").symlink_to(outside)
    os.mkfifo(folder / "pipe.txt")
    with open(folder / "huge.txt", "wb") as handle:
        handle.truncate(25 * 1024 * 1024)  # sparse: larger than any draft
    (folder / "loop").symlink_to(folder)  # a link back into the project: listed once, no loop
    project = Project.open(folder)
    assert project.chapters == ["Chapter 1.md", "Chapter 2.md", "Chapter 10.md"]
    text = "\n".join(project.problems)
    assert "diary.txt" in text and "outside the project" in text and "pipe.txt" in text and "huge.txt" in text
    project.save()
    assert (outside / "diary.txt").read_text(encoding="utf-8") == "private"


def test_a_project_folder_whose_data_folder_is_a_link_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / PROJECT_DIR).symlink_to(elsewhere)
    with pytest.raises(ProjectError, match="link"):
        Project.open(folder)
    assert list(elsewhere.iterdir()) == []


def test_the_story_context_round_trips_through_the_project_file(tmp_path: Path) -> None:
    project = Project.open(make_folder(tmp_path))
    story = StoryContext(memory="Set in 1815.", authors_note="[Style: terse]",
                         lorebook=[LoreEntry("Emma", ["Emma", "Miss Woodhouse"], "Emma is clever and rich.")])
    project.save_story(story)
    assert Project.open(project.folder).load_story() == story


def test_find_reports_every_match_with_its_chapter_line_and_offset() -> None:
    texts = [("one.md", "No ravens here."), ("two.md", "Line one\nA RAVEN flew.\nraven again"),
             ("three.md", "Ravenous.")]
    matches = find_in_chapters(texts, "raven")
    assert [(m.chapter, m.line) for m in matches] == [("one.md", 1), ("two.md", 2), ("two.md", 3), ("three.md", 1)]
    second = matches[1]
    assert texts[1][1][second.offset:second.offset + second.length] == "RAVEN"
    assert [m.chapter for m in find_in_chapters(texts, "raven", whole_words=True)] == ["two.md", "two.md"]
    assert find_in_chapters(texts, "") == []


def test_utf16_positions_count_emoji_twice() -> None:
    text = "🐉 dragon"
    assert utf16_position(text, text.index("dragon")) == 3


def test_the_session_counts_net_words_against_the_target() -> None:
    session = WritingSession(start_words=1000, target=500)
    assert session.written(1250) == 250 and session.progress(1250) == 0.5
    assert session.summary(1250) == "Session: 250 / 500 words"
    assert session.progress(2000) == 1.0 and session.progress(900) == 0.0
    assert WritingSession(10).summary(5) == "Session: -5 words"


def test_nothing_is_written_through_a_link_out_of_the_project(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    project = Project.open(folder)
    (folder / "part2").symlink_to(outside)
    project.chapters.append("part2/x.md")  # as a hand-edited project file could list it
    with pytest.raises(ProjectError, match="outside the project"):
        project.new_chapter("Escape", after="part2/x.md")
    (project.data_dir / "deleted").parent.mkdir(exist_ok=True)
    (project.data_dir / "deleted").symlink_to(outside)
    with pytest.raises(ProjectError, match="is a link"):
        project.delete_chapter("Chapter 1.md")
    assert list(outside.iterdir()) == []
    assert (folder / "Chapter 1.md").read_text(encoding="utf-8") == "It was a dark night."


def test_a_bad_project_file_that_cannot_be_copied_aside_is_never_overwritten(tmp_path: Path, monkeypatch) -> None:
    import cw_desktop.core.project as project_module

    folder = make_folder(tmp_path)
    bad = folder / PROJECT_DIR / "project.json"
    bad.parent.mkdir()
    bad.write_text("{ hand-edited, broken", encoding="utf-8")
    monkeypatch.setattr(project_module, "keep_copy", lambda path, data: None)  # e.g. the disk is full
    project = Project.open(folder)
    assert project.chapters == ["Chapter 1.md", "Chapter 2.md", "Chapter 10.md"]
    with pytest.raises(ProjectError, match="not saved"):
        project.save()
    assert bad.read_text(encoding="utf-8") == "{ hand-edited, broken"
