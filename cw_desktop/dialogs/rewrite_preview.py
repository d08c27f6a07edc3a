"""The rewrite preview: the selected passage and the model's rewrite side by side, changes marked.

It only shows and asks: the text streams in through `show_text`, and the buttons become signals
(Stop, Retry, Reject, Accept). Whether an accept may replace the selection is decided by
gui/rewrite_controller.py, which then closes the dialog or says here why not.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QTextEdit, QVBoxLayout, QWidget

from cw_desktop.core.word_diff import DELETE, EQUAL, INSERT, changed_share, word_diff
from cw_desktop.dialogs.widgets import button, button_row

# Translucent, so the marks read on the light and the dark theme alike.
DELETED_STYLE = "background-color: rgba(220, 70, 70, 70); text-decoration: line-through;"
INSERTED_STYLE = "background-color: rgba(60, 170, 80, 80);"
RENDER_MS = 80


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def diff_html(original: str, rewritten: str) -> tuple[str, str]:
    """(original with its removed words marked, rewritten with its new words marked), as HTML."""
    pieces = word_diff(original, rewritten)

    def side(shown_op: str, style: str) -> str:
        parts = []
        for op, text in pieces:
            if op == EQUAL:
                parts.append(_html(text))
            elif op == shown_op:  # the mark ends with the words: the spaces after them stay plain
                words = text.rstrip()
                parts.append(f'<span style="{style}">{_html(words)}</span>{_html(text[len(words):])}')
        return f'<div style="white-space: pre-wrap;">{"".join(parts)}</div>'

    return side(DELETE, DELETED_STYLE), side(INSERT, INSERTED_STYLE)


class RewritePreviewDialog(QDialog):
    stop_requested = Signal()
    retry_requested = Signal()
    accept_requested = Signal()
    reject_requested = Signal()  # Reject, Esc or closing the window: the document stays as it is

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rewritePreview")
        # Not modal: the writer may look back at the page, even keep typing (accept then checks).
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.Tool, True)
        self.resize(760, 380)
        self.original = ""
        self.rewritten = ""
        # Streamed text is drawn at most every RENDER_MS: a token every few ms would otherwise
        # re-diff and re-lay-out both panes each time.
        self.render_timer = QTimer(self, singleShot=True, interval=RENDER_MS)
        self.render_timer.timeout.connect(self._render)
        self.heading = QLabel()
        self.original_view = self._text_view()
        self.rewritten_view = self._text_view()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setProperty("muted", True)
        self.stop_button = button("Stop", self.stop_requested.emit)
        self.retry_button = button("Retry", self.retry_requested.emit)
        self.reject_button = button("Reject", self.reject)
        self.accept_button = button("Accept", self.accept_requested.emit)
        self.accept_button.setDefault(True)

        panes = QGridLayout()
        panes.addWidget(QLabel("<b>Selected</b>"), 0, 0)
        panes.addWidget(QLabel("<b>Rewritten</b>"), 0, 1)
        panes.addWidget(self.original_view, 1, 0)
        panes.addWidget(self.rewritten_view, 1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(panes, 1)
        layout.addWidget(self.status)
        layout.addLayout(button_row([self.stop_button, self.retry_button], [self.reject_button, self.accept_button]))

    @staticmethod
    def _text_view() -> QTextEdit:
        view = QTextEdit(readOnly=True)
        view.setAcceptRichText(False)
        return view

    # -- what the controller tells it ------------------------------------------------------------
    def start(self, action_label: str, original: str) -> None:
        """A (new) request is on its way for `original`."""
        self.setWindowTitle(f"{action_label} — preview")
        self.heading.setText(f"<b>{html.escape(action_label)}</b>: the selection and the model's version. "
                             "Accept replaces the selection (one undo step); Reject leaves it as it is.")
        self.original = original
        self.show_text("", now=True)
        self.set_running(True, "Writing…")

    def show_text(self, text: str, now: bool = False) -> None:
        """The rewrite so far (the whole of it, each time); drawn within RENDER_MS, or `now`."""
        self.rewritten = text
        if now:
            self._render()
        elif not self.render_timer.isActive():
            self.render_timer.start()

    def _render(self) -> None:
        self.render_timer.stop()
        original_html, rewritten_html = diff_html(self.original, self.rewritten)
        self.original_view.setHtml(original_html)
        self.rewritten_view.setHtml(rewritten_html)
        self.rewritten_view.moveCursor(self.rewritten_view.textCursor().MoveOperation.End)

    def set_running(self, running: bool, message: str) -> None:
        self.stop_button.setEnabled(running)
        self.retry_button.setEnabled(True)
        self.accept_button.setEnabled(not running and bool(self.rewritten.strip()))
        self.status.setText(message)

    def finish(self, message: str) -> None:
        """The model is done (or stopped): Accept is possible when there is any text."""
        self._render()
        if self.rewritten.strip():
            share = changed_share(self.original, self.rewritten)
            message = f"{message} {share:.0%} of the words changed."
        else:
            message = f"{message} The model gave no text: Retry, or Reject."
        self.set_running(False, message)

    def refuse(self, message: str) -> None:
        """Accept was refused (the document changed): say why and leave the choice to the writer."""
        self.accept_button.setEnabled(False)
        self.status.setText(message)

    # -- closing ---------------------------------------------------------------------------------
    def reject(self) -> None:  # Reject button, Esc, the window's close button
        self.reject_requested.emit()
        super().reject()

    def close_accepted(self) -> None:
        super().accept()


__all__ = ["RewritePreviewDialog", "diff_html", "DELETE", "INSERT"]
