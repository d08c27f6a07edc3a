"""What training on a folder would mean, before any model weights are loaded: step 1 of the
fine-tune dialog (through workers/scan_worker.py) and `cw-desktop train`'s own numbers agree.

Files used and skipped, words, tokens with the base model's tokenizer, held-out share, the
automatic plan and its time on this machine (ml/plan.py), or why training would be refused (too
little text). Built from the functions the trainer runs (load_corpus, split_units, count_tokens,
plan_training, estimate_seconds). torch and transformers are imported only inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cw_desktop.core.model_registry import RegistryError, read_report
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml.corpus import Corpus, ScanCancelled, load_corpus
from cw_desktop.ml.plan import ModelInfo, decoder_blocks, plan_from_counts

__all__ = ["BaseModelFacts", "FolderText", "ScanCancelled", "assemble_report", "base_model_facts", "count_tokens",
           "read_folder", "scan_folder"]


@dataclass
class BaseModelFacts:
    """What the planner needs to know about a base model, read without loading its weights."""

    spec: str
    tokenizer: Any
    info: ModelInfo


def base_model_facts(spec: str, paths: AppPaths) -> BaseModelFacts:
    """Tokenizer + size of a base model: config and tokenizer files only; the network is never used."""
    import torch
    from transformers import AutoModelForCausalLM

    from cw_desktop.ml import loading

    folder, entry = loading.resolve_folder(spec, paths)
    loading.check_model_folder(folder)
    tokenizer = loading.auto_tokenizer(folder)
    config = loading.auto_config(folder)
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

    corpus: Corpus
    split: Any | None  # cw_desktop.ml.dataset.Split
    refusal: str | None
    eval_share: float


def read_folder(folder: Path, eval_share: float, *, should_stop: Callable[[], bool] | None = None,
                on_file: Callable[[int, int, str], None] | None = None) -> FolderText:
    """Read and clean the folder, then split it; ScanCancelled (ml.corpus) when should_stop() turns true."""
    from cw_desktop.ml import dataset as ds

    corpus = load_corpus(folder, should_stop=should_stop, on_file=on_file)
    if should_stop is not None and should_stop():
        raise ScanCancelled("scan cancelled")
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


def assemble_report(text: FolderText, base: str, facts: BaseModelFacts | None,
                    counts: tuple[int, int] | None) -> dict[str, Any]:
    """The step-1 report: files, words, tokens, plan and estimate, or the refusal reason.

    Keys: folder, files [{path, status, reason, words, format, detail}], files_used, files_skipped, words,
    train_words, eval_words, heldout_overlap_dropped, eval_share, refusal (str | None), base; when the folder can be trained
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
        "eval_words": text.split.eval_words if text.split else 0,
        "heldout_overlap_dropped": text.split.heldout_overlap_dropped if text.split else 0}
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
