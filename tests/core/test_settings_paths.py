"""Settings survive a round trip and a bad hand edit; paths honour overrides; saves are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.catalog import find_entry, load_catalog
from cw_desktop.core.paths import AppPaths
from cw_desktop.core.settings import Settings


def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings()
    settings.editor.font_size = 18
    settings.editor.theme = "dark"
    settings.suggestions.debounce_ms = 900
    settings.keys.accept = "Ctrl+Return"
    settings.editor.recent_files = ["/a.txt", "/b.md"]
    settings.save(path)
    loaded = Settings.load(path)
    assert loaded == settings and loaded.problems == []
    assert "[editor]" in path.read_text()  # a readable file a writer could edit


def test_bad_values_fall_back_to_defaults_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[editor]\nfont_size = "huge"\ntheme = "dark"\nsparkles = true\n[suggestions]\nauto_suggest = 1\n')
    loaded = Settings.load(path)
    assert loaded.editor.font_size == 14 and loaded.editor.theme == "dark"
    assert loaded.suggestions.auto_suggest is True  # 1 is not a bool: default kept
    assert any("font_size" in p for p in loaded.problems)
    assert any("sparkles" in p for p in loaded.problems)


def test_unparseable_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("this is [not toml")
    loaded = Settings.load(path)
    assert loaded.editor.font_size == 14 and loaded.problems and str(path) in loaded.problems[0]


def test_paths_overrides_and_portable_cache(tmp_path: Path, monkeypatch) -> None:
    for name in ("CW_DESKTOP_CONFIG_DIR", "CW_DESKTOP_DATA_DIR", "CW_DESKTOP_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    paths = AppPaths.default(config=tmp_path / "c", data=tmp_path / "d")
    assert paths.settings_file == tmp_path / "c" / "settings.toml"
    assert paths.cache_dir == tmp_path / "d" / "cache"  # one --data folder holds everything
    monkeypatch.setenv("CW_DESKTOP_DATA_DIR", str(tmp_path / "env"))
    assert AppPaths.default().data_dir == tmp_path / "env"
    default = AppPaths.default(data=None)
    assert default.data_dir == tmp_path / "env"


def test_atomic_write_never_leaves_a_partial_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "chapter.txt"
    atomic_write_text(target, "first version")
    os.chmod(target, 0o640)

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        atomic_write_text(target, "second version that never lands")
    monkeypatch.undo()
    assert target.read_text() == "first version"
    assert [p.name for p in tmp_path.iterdir()] == ["chapter.txt"]  # no temp file left behind
    atomic_write_text(target, "third")
    assert target.read_text() == "third" and (target.stat().st_mode & 0o777) == 0o640


def test_catalog_lists_the_known_models() -> None:
    keys = {entry.key for entry in load_catalog()}
    assert {"bundled", "gpt2", "distilgpt2", "gpt2-medium"} <= keys
    gpt2 = find_entry("openai-community/gpt2")
    assert gpt2 is not None and gpt2.key == "gpt2" and gpt2.context_length == 1024
    bundled = find_entry("bundled")
    assert bundled is not None and bundled.licence == "Apache-2.0" and bundled.gguf_file
