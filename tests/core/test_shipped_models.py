"""The bundle ships the bundled model already converted; the app must use that copy, never convert again."""

from __future__ import annotations

from pathlib import Path

import pytest

from cw_desktop.core import catalog
from cw_desktop.core.catalog import COMPLETE_MARKER, bundled_folder, bundled_folder_name


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "app" / "models"
    monkeypatch.setattr(catalog, "SHIPPED_MODELS_DIR", folder)
    return folder / bundled_folder_name()


def test_a_complete_shipped_copy_wins_over_the_cache(shipped: Path, app_paths) -> None:
    shipped.mkdir(parents=True)
    (shipped / COMPLETE_MARKER).write_text("{}")
    assert bundled_folder(app_paths) == shipped


def test_without_a_shipped_copy_the_cache_is_used(shipped: Path, app_paths) -> None:
    assert bundled_folder(app_paths) == app_paths.converted_models_dir / shipped.name


def test_an_incomplete_shipped_copy_is_ignored(shipped: Path, app_paths) -> None:
    shipped.mkdir(parents=True)  # no marker: an interrupted build must not be trusted
    assert bundled_folder(app_paths).parent == app_paths.converted_models_dir


def test_prepare_returns_the_shipped_copy_without_converting(shipped: Path, app_paths) -> None:
    from cw_desktop.ml.loading import is_bundled_prepared, prepare_bundled

    shipped.mkdir(parents=True)
    (shipped / COMPLETE_MARKER).write_text("{}")
    assert is_bundled_prepared(app_paths)
    assert prepare_bundled(app_paths) == shipped
    assert not app_paths.converted_models_dir.exists()  # nothing was written to the cache
