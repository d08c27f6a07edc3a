"""Step 1 of the fine-tuning dialog, off the GUI thread: read the folder, and say what training on it
would mean (files used and skipped, words, tokens, held-out share, time on this machine) or why
it would be refused (too little text), before any model weights are loaded.

`scan_folder` is plain Python built from the same functions the trainer runs (load_corpus,
split_units, count_tokens, plan_training, estimate_seconds), so the numbers match what
`cw-desktop train` will then do. ScanWorker wraps it for a QThread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from cw_desktop.core.model_registry import RegistryError, read_report
from cw_desktop.core.paths import AppPaths


class ScanCancelled(Exception):
    pass


@dataclass
class BaseModelFacts:
    """What the planner needs to know about a base model, read without loading its weights."""

    spec: str
    tokenizer: Any
    info: Any  # cw_desktop.ml.training.ModelInfo


def base_model_facts(spec: str, paths: AppPaths) -> BaseModelFacts:
    """Tokenizer + size of a base model: config and tokenizer files only; the network is never used."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from cw_desktop.ml import loading
    from cw_desktop.ml.training import ModelInfo, decoder_blocks

    folder, entry = loading.resolve_folder(spec, paths)
    loading.check_model_folder(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    # The meta device allocates no memory: the parameter count of a 1B model costs nothing.
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    parameters = sum(p.numel() for p in skeleton.parameters())
    layers = len(decoder_blocks(skeleton))
    # The same window load_model would use (the planner caps training blocks by it).
    limit = loading.model_position_limit(config) or 1024
    window = entry.default_window if entry else limit
    try:
        provenance = read_report(folder)
    except RegistryError:
        provenance = {}
    if isinstance(provenance.get("context_length"), int):
        window = int(provenance["context_length"])
    return BaseModelFacts(spec=spec, tokenizer=tokenizer,
                          info=ModelInfo(parameters=parameters, layers=layers, context_length=min(limit, window)))


@dataclass
class FolderText:
    """The corpus and its held-out split (None with `refusal` when the folder cannot be trained on)."""

    corpus: Any  # cw_desktop.ml.corpus.Corpus
    split: Any | None  # cw_desktop.ml.dataset.Split
    refusal: str | None
    eval_share: float


def read_folder(folder: Path, eval_share: float, *, should_stop: Callable[[], bool] | None = None,
                on_file: Callable[[int, int, str], None] | None = None) -> FolderText:
    from cw_desktop.ml import corpus as corpus_module
    from cw_desktop.ml import dataset as ds

    try:
        corpus = corpus_module.load_corpus(folder, should_stop=should_stop, on_file=on_file)
    except corpus_module.ScanCancelled:
        raise ScanCancelled() from None
    if should_stop is not None and should_stop():
        raise ScanCancelled()
    try:
        split = ds.split_units(ds.document_units(corpus.documents), eval_share=eval_share,
                               source=str(folder))
        return FolderText(corpus, split, None, eval_share)
    except ds.InsufficientDataError as exc:
        return FolderText(corpus, None, str(exc), eval_share)


def count_tokens(text: FolderText, facts: BaseModelFacts,
                 accepted_texts: list[str] | None = None) -> tuple[int, int]:
    """(training tokens, held-out tokens) with this base model's tokenizer: the slow part of a plan."""
    from cw_desktop.ml import dataset as ds

    assert text.split is not None
    train_texts = [u.text for u in text.split.train] + list(accepted_texts or [])
    return (ds.count_tokens(facts.tokenizer, train_texts),
            ds.count_tokens(facts.tokenizer, [u.text for u in text.split.eval]))


def plan_from_counts(train_tokens: int, eval_tokens: int, model: dict[str, int],
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The trainer's automatic plan (with the writer's overrides) and its time estimate; cheap.

    `model` is {"parameters", "layers", "context_length"}. Raises ValueError for impossible overrides.
    """
    from cw_desktop.ml.training import ModelInfo, estimate_seconds, plan_training

    info = ModelInfo(parameters=int(model["parameters"]), layers=int(model["layers"]),
                     context_length=int(model["context_length"]))
    hp = plan_training(train_tokens, info, "auto", overrides)
    # estimate_seconds only reads the held-out token count from its data argument.
    seconds = estimate_seconds(hp, info, SimpleNamespace(eval_tokens=eval_tokens))
    refusal = None
    if train_tokens < 2 * hp.block_size:
        refusal = (f"The training part holds only {train_tokens:,} tokens, fewer than two blocks of "
                   f"{hp.block_size}; add more text or choose a smaller block size.")
    return {"hyperparameters": hp.to_dict(), "estimated_seconds": seconds, "refusal": refusal}


def assemble_report(text: FolderText, base: str, facts: BaseModelFacts | None,
                    counts: tuple[int, int] | None) -> dict[str, Any]:
    """The step-1 report: files, words, tokens, plan and estimate, or the refusal reason.

    Keys: folder, files [{path, status, reason, words, format, detail}], files_used, files_skipped, words,
    train_words, eval_words, eval_share, refusal (str | None), base; when the folder can be trained
    on also train_tokens, eval_tokens, model {parameters, layers, context_length},
    hyperparameters (the automatic plan) and estimated_seconds.
    """
    corpus = text.corpus
    files = [{"path": f.path, "status": f.status, "reason": f.reason, "words": f.words, "format": f.format,
              "detail": getattr(f, "detail", "")} for f in corpus.files]
    report: dict[str, Any] = {
        "folder": str(corpus.folder), "files": files, "base": base,
        "files_used": sum(1 for f in files if f["status"] == "used"),
        "files_skipped": sum(1 for f in files if f["status"] != "used"),
        "words": corpus.words, "refusal": text.refusal, "eval_share": text.eval_share,
        "train_words": text.split.train_words if text.split else 0,
        "eval_words": text.split.eval_words if text.split else 0}
    if text.split is not None and facts is not None and counts is not None:
        model = {"parameters": facts.info.parameters, "layers": facts.info.layers,
                 "context_length": facts.info.context_length}
        plan = plan_from_counts(counts[0], counts[1], model)
        report.update(train_tokens=counts[0], eval_tokens=counts[1], model=model,
                      hyperparameters=plan["hyperparameters"], estimated_seconds=plan["estimated_seconds"],
                      refusal=plan["refusal"])
    return report


def scan_folder(folder: Path, base: str, paths: AppPaths, *, eval_share: float = 0.1,
                accepted_texts: list[str] | None = None, should_stop: Callable[[], bool] | None = None,
                on_file: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """The whole step-1 report for `folder` trained on `base` (see assemble_report)."""
    text = read_folder(folder, eval_share, should_stop=should_stop, on_file=on_file)
    if text.split is None:
        return assemble_report(text, base, None, None)
    facts = base_model_facts(base, paths)
    return assemble_report(text, base, facts, count_tokens(text, facts, accepted_texts))


class ScanWorker(QObject):
    """Lives in a QThread. request() returns an id; the answer is finished(dict) or failed(id, message).

    The folder is read once per (folder, held-out share); choosing another base model only
    re-counts tokens with that model's tokenizer, which takes a second, not a re-scan.
    """

    progress = Signal(int, int, int, str)  # request id, files done, files total, current file
    finished = Signal(object)  # the report dict, with "request": id
    failed = Signal(int, str)
    cancelled = Signal(int)
    _requested = Signal(int, str, str, float, object, bool)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self._next_id = 0
        self._latest = 0
        self._stop = threading.Event()
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
        self._stop.clear()
        self._requested.emit(self._next_id, folder, base, eval_share, accepted_texts, rescan)
        return self._next_id

    def cancel(self) -> None:
        """Stop the running scan at the next file (also used when the dialog closes)."""
        self._stop.set()

    def _should_stop(self, request: int) -> bool:
        # A newer request supersedes an older one still running.
        return self._stop.is_set() or request != self._latest

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
        except ScanCancelled:
            self.cancelled.emit(request)
            return
        except Exception as exc:  # CorpusError, ModelLoadError...: messages meant for the writer
            if self._should_stop(request):
                self.cancelled.emit(request)
            else:
                self.failed.emit(request, str(exc) or type(exc).__name__)
            return
        self.finished.emit(report)
