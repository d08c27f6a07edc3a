"""The project vocabulary in the window: the current document's folder feeds its suggestions."""

from __future__ import annotations

from pathlib import Path


def test_the_current_documents_folder_is_indexed_and_a_new_document_clears_it(qtbot, window, tmp_path: Path) -> None:
    (tmp_path / "chapter1.txt").write_text("The carriage stopped at Quillerbrook Hall.", encoding="utf-8")
    document = tmp_path / "chapter2.txt"
    document.write_text("She was driven to Quillerbrook", encoding="utf-8")
    indexed: list[tuple[str, int]] = []
    window.generation.project_changed.connect(lambda path, texts: indexed.append((path, texts)))

    tab = window.open_path(document)
    qtbot.waitUntil(lambda: indexed[-1:] == [(str(document.resolve()), 1)], timeout=20_000)
    window.documents.new_document()  # no file, so no folder: the folder's words no longer apply
    qtbot.waitUntil(lambda: indexed[-1:] == [("", 0)], timeout=20_000)
    window.documents.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: indexed[-1:] == [(str(document.resolve()), 1)], timeout=20_000)

    window.settings.suggestions.use_project_vocabulary = False  # what Preferences does
    window.controller.apply_settings()
    qtbot.waitUntil(lambda: indexed[-1:] == [("", 0)], timeout=20_000)
