"""The story context (Memory, lorebook, author's note) of a document outside any project, kept in
the data folder keyed by the document's path (never beside the writer's file).

Before the lorebook existed only the Memory text was kept, in data/memory/ (core.documents
MemoryStore). Such a file is read as a story holding that Memory; the first save writes the new
file and only then removes the old one, so the Memory is never in neither place.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.documents import MemoryStore, memory_dir
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.story_context import StoryContext

MAX_STORY_BYTES = 8 * 1024 * 1024  # a lorebook is text a writer typed; more is not a story file


def story_dir(paths: AppPaths) -> Path:
    return paths.data_dir / "story"


@dataclass
class LoadedStory:
    story: StoryContext
    problems: list[str] = field(default_factory=list)  # each names the file and what was wrong


class StoryStore:
    def __init__(self, folder: str | os.PathLike[str], old_memory_folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder)
        self.old_memories = MemoryStore(old_memory_folder) if old_memory_folder is not None else None

    @classmethod
    def for_paths(cls, paths: AppPaths) -> "StoryStore":
        return cls(story_dir(paths), memory_dir(paths))

    def file_for(self, document: str | os.PathLike[str]) -> Path:
        key = hashlib.sha1(str(Path(document).resolve()).encode("utf-8")).hexdigest()[:20]
        return self.folder / f"{key}.json"

    def load(self, document: str | os.PathLike[str]) -> LoadedStory:
        """The document's story; a damaged file is moved aside (kept, never overwritten by the next
        save) and reported, and the story starts empty."""
        file = self.file_for(document)
        if not file.exists():
            memory = self.old_memories.load(document) if self.old_memories is not None else ""
            return LoadedStory(StoryContext(memory=memory))
        try:
            if file.stat().st_size > MAX_STORY_BYTES:
                raise ValueError(f"it is larger than {MAX_STORY_BYTES // 1024 // 1024} MB")
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            kept = self._set_aside(file)
            return LoadedStory(StoryContext(), [f"{file}: the story notes of {document} could not be read "
                                                f"({exc}); the file was kept as {kept.name}"])
        if isinstance(raw, dict) and isinstance(raw.get("story"), dict):
            raw = raw["story"]
        story, problems = StoryContext.from_dict(raw)
        return LoadedStory(story, [f"{file} ({Path(document).name}): {problem}" for problem in problems])

    def save(self, document: str | os.PathLike[str], story: StoryContext) -> None:
        file = self.file_for(document)
        if story.is_empty():
            file.unlink(missing_ok=True)
        else:
            atomic_write_text(file, json.dumps({"path": str(Path(document).resolve()), "story": story.to_dict()},
                                               ensure_ascii=False, indent=1))
        if self.old_memories is not None:  # migrated: the old Memory file must not come back after a clear
            self.old_memories.save(document, "")

    @staticmethod
    def _set_aside(file: Path) -> Path:
        target = file.with_name(f"{file.stem}.broken-{datetime.now():%Y%m%d-%H%M%S}{file.suffix}")
        try:
            os.replace(file, target)
        except OSError:
            return file
        return target
