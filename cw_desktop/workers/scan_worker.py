"""Step 1 of the fine-tuning dialog off the GUI thread: ScanWorker runs ml/scan.py in a QThread.

The folder is read once per (folder, held-out share); choosing another base model only re-counts
tokens with that model's tokenizer, which takes a second, not a re-scan.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.paths import AppPaths
from cw_desktop.core.training_manifest import continuation_offer
# For the fine-tune dialog, which does not import ml/: its estimate and default (plain Python, no torch).
from cw_desktop.ml.plan import DEFAULT_EVAL_SHARE, plan_from_counts  # noqa: F401
from cw_desktop.ml.scan import (BaseModelFacts, FolderText, ScanCancelled, assemble_report, base_model_facts,
                                count_tokens, read_folder)
from cw_desktop.workers.threads import Worker


class ScanWorker(Worker):
    """Lives in a QThread. request() returns an id; the answer is finished(dict) or failed(id, message).

    The folder is read once per (folder, held-out share); choosing another base model only
    re-counts tokens with that model's tokenizer, which takes a second, not a re-scan.
    """

    progress = Signal(int, int, int, str)  # request id, files done, files total, current file
    finished = Signal(object)  # the report dict, with "request": id; failed(request id, message) from Worker
    cancelled = Signal(int)
    _requested = Signal(int, str, str, float, object, bool)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self._next_id = 0
        self._latest = 0
        # Caches, touched only in the worker's thread.
        self._text: FolderText | None = None
        self._text_key: tuple[str, float] | None = None
        self._facts: dict[str, BaseModelFacts] = {}
        self._counts: dict[tuple[str, int], tuple[int, int]] = {}
        # Queued: the slot runs in the worker's thread even though request() runs in the GUI's.
        self._requested.connect(self._scan)

    def request(self, folder: str, base: str, eval_share: float = 0.1,
                accepted_texts: list[str] | None = None, *, rescan: bool = False) -> int:
        """Scan `folder` (or reuse the last scan of it unless `rescan`) and plan training on `base`."""
        self._next_id += 1
        self._latest = self._next_id
        self.begin()
        self._requested.emit(self._next_id, folder, base, eval_share, accepted_texts, rescan)
        return self._next_id

    def _should_stop(self, request: int) -> bool:
        # A newer request supersedes an older one still running.
        return self.cancel_requested() or request != self._latest

    @Slot(int, str, str, float, object, bool)
    def _scan(self, request: int, folder: str, base: str, eval_share: float, accepted: object,
              rescan: bool) -> None:
        if self._should_stop(request):
            self.cancelled.emit(request)
            return
        accepted_texts = list(accepted) if isinstance(accepted, list) else []
        try:
            text = self._text
            if text is None or rescan or self._text_key != (folder, eval_share):
                self._text = self._text_key = None
                self._counts.clear()
                text = read_folder(Path(folder), eval_share, should_stop=lambda: self._should_stop(request),
                                   on_file=lambda done, total, path: self.progress.emit(request, done, total, path))
                self._text, self._text_key = text, (folder, eval_share)
            facts = counts = None
            if text.split is not None:
                facts = self._facts.get(base) or base_model_facts(base, self.paths)
                self._facts[base] = facts
                key = (base, len(accepted_texts))
                counts = self._counts.get(key) or count_tokens(text, facts, accepted_texts)
                self._counts[key] = counts
            report = assemble_report(text, base, facts, counts)
            report["request"] = request
            report["continuation"] = continuation_offer(base, report)  # hashes the files: here, not in the GUI
        except ScanCancelled:
            self.cancelled.emit(request)
            return
        except Exception as exc:  # CorpusError, ModelLoadError...: messages meant for the writer
            if self._should_stop(request):
                self.cancelled.emit(request)
            else:
                self.report_failure(request, exc, expected=(Exception,))
            return
        self.finished.emit(report)
