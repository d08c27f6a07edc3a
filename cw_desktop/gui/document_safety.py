"""Saving and reloading a document without losing words: its encoding, and other programs' changes.

The window calls these at save time and when it regains focus; every decision goes through the
window's Prompts object, so tests answer with scripted choices.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtGui import QTextCursor

from cw_desktop.core.disk_stamp import DiskStamp, current_stamp, disk_change
from cw_desktop.core.documents import (DocumentError, UnencodableDocument, editor_unsafe_characters, read_text_file,
                                      save_text_file)
from cw_desktop.gui.document_tab import DocumentTab


def save_document(tab: DocumentTab, path: Path, prompts: Any) -> DiskStamp | None:
    """Write the tab's text in its own encoding; None when the writer cancelled.

    A character the encoding cannot hold never changes the encoding silently: the writer chooses
    UTF-8 or cancels. Raises DocumentError when the disk refuses.
    """
    text = tab.text()
    try:
        return save_text_file(path, text, tab.encoding)
    except UnencodableDocument as exc:
        detail = ", ".join(f"“{c}”" for c in exc.characters[:8]) + (" …" if len(exc.characters) > 8 else "")
        if not prompts.unencodable(tab.title, detail, exc.label):
            return None
    stamp = save_text_file(path, text, tab.encoding.as_utf8())
    tab.encoding = tab.encoding.as_utf8()
    return stamp


def check_before_save(tab: DocumentTab, path: Path, prompts: Any) -> str:
    """"write" | "save_as" | "cancel" | "reloaded": may the tab's file be written over now?"""
    if tab.path is None or Path(path).resolve() != tab.path:
        return "write"
    change = disk_change(tab.path, tab.disk_stamp)
    if change is None:
        return "write"
    answer = prompts.disk_changed(tab.title, change, True)
    if answer == "reload":
        reload_document(tab)
        return "reloaded"
    return "write" if answer == "keep" else answer


def reload_document(tab: DocumentTab) -> None:
    """Replace the text with the file on disk as one undo step (Ctrl+Z brings the writer's back).

    Raises DocumentError when the file cannot be read.
    """
    assert tab.path is not None
    loaded = read_text_file(tab.path)
    unsafe = editor_unsafe_characters(loaded.text)
    if unsafe:  # reloading would tie this tab to a file it cannot save back exactly (open_path)
        raise DocumentError(f"{tab.path} now contains {unsafe} that the editor cannot keep as they are; "
                            "your text stays as it is. Open the file again to work on a copy of it.")
    cursor = QTextCursor(tab.editor.document())
    cursor.beginEditBlock()
    cursor.select(QTextCursor.SelectionType.Document)
    cursor.insertText(loaded.text)
    cursor.endEditBlock()
    tab.encoding, tab.disk_stamp = loaded.encoding, loaded.stamp
    tab.editor.document().setModified(False)


def review_disk_changes(tabs: list[DocumentTab], prompts: Any, show: Callable[[DocumentTab], None],
                        seen: dict[str, DiskStamp | None]) -> list[DocumentTab]:
    """Ask once about each file changed on disk since the tab last read or saved it.

    `seen` (doc_id -> disk version already asked about) keeps a "decide later" from being asked
    again at every focus change; saving still asks. Returns the tabs the writer wants to save
    under another name.
    """
    save_as: list[DocumentTab] = []
    for tab in tabs:
        if tab.path is None:
            continue
        change = disk_change(tab.path, tab.disk_stamp)
        if change is None:
            continue
        now = current_stamp(tab.path)
        if tab.doc_id in seen and seen[tab.doc_id] == now:
            continue
        seen[tab.doc_id] = now
        show(tab)
        answer = prompts.disk_changed(tab.title, change, False)
        if answer == "reload":
            reload_document(tab)
        elif answer == "keep":
            tab.disk_stamp = now  # the writer's version wins: saving will not ask again
            tab.editor.document().setModified(True)  # differs from the file on disk
        elif answer == "save_as":
            save_as.append(tab)
    return save_as
