"""Per-project LoRA adapters: small files beside one base model that stays loaded.

A LoRA fine-tune saved as an adapter (`cw-desktop train --mode lora --adapter`) is a folder with
adapter_config.json + adapter_model.safetensors (a few MB) instead of a full copy of the model.
AdapterEngine keeps the base in memory once and loads any number of adapters beside it; switching
project is peft's set_adapter (a dictionary lookup in every LoRA layer: milliseconds), and the
strength 0-1.5 is each layer's LoRA scaling (strength 0 adds exactly nothing: the base's logits).

Adapters run on the torch engine: llama.cpp would need each adapter converted to a GGUF LoRA file
and its strength set at context creation, which our converter (ml/gguf_export.py) does not write.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cw_desktop.core.adapters import ADAPTER_CONFIG, adapter_base, is_adapter_folder  # noqa: F401 - re-exported
from cw_desktop.core.atomic import atomic_write_text
from cw_desktop.core.model_registry import REPORT_FILE, unique_model_folder
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml.loading import MODEL_LOAD_LOCK, LoadedModel, ModelLoadError, load_model

MAX_STRENGTH = 1.5
MERGED_NAME = "merged"


def adapter_name(folder: Path) -> str:
    """peft's name for an adapter: unique per folder, and free of the dots peft forbids."""
    return str(folder.resolve()).replace(".", "_").replace(os.sep, "_").strip("_") or "adapter"


@dataclass
class AdapterEngine:
    """One base model (torch) with LoRA adapters loaded beside it; used from one thread."""

    loaded: LoadedModel  # the base; `loaded.model` becomes the peft model once an adapter is loaded
    active: str | None = None
    strength: float = 1.0
    last_switch_s: float = 0.0
    # The LoRA layers of the model, found once per load: peft's own set_adapter walks every module
    # of the model and toggles requires_grad (~300 ms for SmolLM2-135M); a switch only needs these.
    layers: list[Any] = field(default_factory=list, repr=False)

    @property
    def model(self) -> Any:
        return self.loaded.model

    @property
    def names(self) -> list[str]:
        return list(getattr(self.loaded.model, "peft_config", {}).keys())

    def load(self, folder: Path) -> str:
        """Load the adapter in `folder` (once) and return its name; the active adapter does not change."""
        from peft import PeftModel

        folder = Path(folder)
        name = adapter_name(folder)
        if name in self.names:
            return name
        check_adapter_folder(folder)
        model = self.loaded.model
        try:
            with MODEL_LOAD_LOCK:  # peft builds its layers under the same process-wide state
                if isinstance(model, PeftModel):
                    model.load_adapter(str(folder), adapter_name=name, is_trainable=False, local_files_only=True)
                else:
                    model = PeftModel.from_pretrained(model, str(folder), adapter_name=name, is_trainable=False,
                                                      local_files_only=True)
                    model.eval()
                    self.loaded.model = model
                    # Until activate() says otherwise the base answers as before.
                    model.base_model.disable_adapter_layers()
        except (ValueError, RuntimeError, KeyError, OSError) as exc:
            raise ModelLoadError(f"The adapter in {folder} does not fit the base model "
                                 f"{self.loaded.display_name}: {str(exc).splitlines()[0][:300]}") from None
        from peft.tuners.lora import LoraLayer

        self.layers = [m for m in self.loaded.model.modules() if isinstance(m, LoraLayer)]
        self._apply()  # load_adapter may have switched the active adapter
        return name

    def activate(self, name: str | None, strength: float = 1.0) -> float:
        """Answer with adapter `name` at `strength` (None: the base alone); returns the seconds it took."""
        started = time.perf_counter()
        if name is not None and name not in self.names:
            raise KeyError(f"Adapter {name} is not loaded")
        self.active = name
        self.strength = max(0.0, min(MAX_STRENGTH, float(strength)))
        self._apply()
        self.last_switch_s = time.perf_counter() - started
        return self.last_switch_s

    def set_strength(self, strength: float) -> None:
        """Scale the active adapter's deltas: 0 = the base, 1 = as trained, up to 1.5 = stronger."""
        if self.active is not None:
            self.activate(self.active, strength)

    def _apply(self) -> None:
        """Point every LoRA layer at the active adapter (or none) with its strength. Inference only:
        the adapters' requires_grad flags are left as loaded (False)."""
        name = self.active
        for layer in self.layers:
            layer._disable_adapters = name is None
            if name is not None:
                layer._active_adapter = [name]
                # peft's set_scale multiplies alpha / r, the scaling the adapter was trained with.
                layer.set_scale(name, self.strength)
        base = getattr(self.loaded.model, "base_model", None)
        if name is not None and base is not None:
            base.active_adapter = name  # what PeftModel.active_adapter (and saving) reads

    def unload(self, name: str) -> None:
        if name == self.active:
            self.activate(None)
        if name in self.names and len(self.names) > 1:
            self.loaded.model.delete_adapter(name)


def check_adapter_folder(folder: Path) -> None:
    if not is_adapter_folder(folder):
        raise ModelLoadError(f"{folder} is not a LoRA adapter (it has no {ADAPTER_CONFIG})")
    if not any((folder / name).is_file() for name in ("adapter_model.safetensors", "adapter_model.bin")):
        raise ModelLoadError(f"{folder} has no adapter weights (expected adapter_model.safetensors)")


def load_adapters(paths: AppPaths, folders: list[Path], base_spec: str | None = None) -> AdapterEngine:
    """Load the base the adapters name (all must share it) and every adapter beside it."""
    bases = {adapter_base(Path(f)) for f in folders}
    if base_spec is None:
        if len(bases) != 1:
            raise ModelLoadError("These adapters belong to different base models: "
                                 + ", ".join(sorted(b or "(none)" for b in bases)))
        base_spec = bases.pop()
    if not base_spec:
        raise ModelLoadError(f"The adapter in {folders[0]} does not name its base model")
    engine = AdapterEngine(load_model(base_spec, paths))
    for folder in folders:
        engine.load(Path(folder))
    return engine


def merge_adapters(paths: AppPaths, folders: list[Path], weights: list[float], name: str,
                   output: Path | None = None) -> Path:
    """A new adapter whose change to the base is sum_i weights[i] * (adapter i's change); returns its folder.

    peft's add_weighted_adapter with combination "cat" stacks the LoRA matrices, so the sum is exact
    (its rank is the sum of the ranks: still a small file)."""
    if len(folders) < 2 or len(folders) != len(weights):
        raise ValueError("Give at least two adapters and one weight for each")
    engine = load_adapters(paths, [Path(f) for f in folders])
    model = engine.model
    names = [adapter_name(Path(f)) for f in folders]
    model.add_weighted_adapter(names, [float(w) for w in weights], MERGED_NAME, combination_type="cat")
    output = Path(output) if output else unique_model_folder(paths, name)
    if output.exists() and any(output.iterdir()):
        raise ValueError(f"{output} already exists and is not empty; choose another name")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        model.save_pretrained(str(staging), selected_adapters=[MERGED_NAME])
        saved = staging / MERGED_NAME if (staging / MERGED_NAME).is_dir() else staging
        if saved != staging:
            for item in saved.iterdir():
                os.replace(item, staging / item.name)
            saved.rmdir()
        _point_at_base(staging, adapter_base(Path(folders[0])))
        engine.loaded.tokenizer.save_pretrained(str(staging))
        report = {"name": name, "kind": "adapter", "mode": "lora-merge",
                  "base_model": adapter_base(Path(folders[0])), "base_model_name": engine.loaded.display_name,
                  "merged_from": [str(Path(f)) for f in folders], "weights": [float(w) for w in weights],
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(staging / REPORT_FILE, json.dumps(report, indent=2) + "\n")
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output


def _point_at_base(folder: Path, base_spec: str) -> None:
    """adapter_config.json names the base by our spec ("bundled", a catalog key or a folder), which
    ml/loading.py resolves on this machine; peft would otherwise write a cache path or a hub id."""
    config_path = folder / ADAPTER_CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_spec
    atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")


def save_adapter(peft_model: Any, tokenizer: Any, output: Path, base_spec: str) -> None:
    """Write a trained peft model's adapter (not the base) into `output`, naming `base_spec` as its base."""
    peft_model.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))
    _point_at_base(output, base_spec)


class AdapterServing:
    """Which engine answers suggestions: the installed model, or the base with a project's adapter.

    The first adapter of a base loads that base on torch once (seconds); every later switch between
    its adapters, or a change of strength, is `AdapterEngine.activate` (milliseconds). The KV cache
    of the adapter's generator is dropped on each change: it was computed with other weights.
    """

    def __init__(self, paths: AppPaths | None = None) -> None:
        self.paths = paths or AppPaths.default()
        self.engine: AdapterEngine | None = None
        self.generator: Any = None
        self.base_spec = ""
        self.folder: Path | None = None

    def serve(self, installed: Any, folder: str | None, strength: float) -> tuple[Any, dict[str, Any]]:
        """(the generator to answer with, what changed: adapter name, strength, seconds, note)."""
        if not folder:  # the installed engine, maybe llama.cpp in a process without torch: keep it so
            self.folder = None
            if self.engine is not None:
                self.engine.activate(None)
            return installed, {"adapter": None, "strength": strength, "switch_s": 0.0, "load_s": 0.0, "note": ""}
        from cw_desktop.ml.generation import Generator

        path = Path(folder)
        base_spec = adapter_base(path)
        load_s = 0.0
        if self.engine is None or base_spec != self.base_spec:
            started = time.perf_counter()
            self.engine, self.generator = None, None  # free the previous base first
            self.engine = AdapterEngine(load_model(base_spec, self.paths))
            self.base_spec = base_spec
            load_s = time.perf_counter() - started
        started = time.perf_counter()
        name = self.engine.load(path)
        load_s += time.perf_counter() - started
        if self.generator is None:  # after the first adapter: the engine's model is the peft model now
            self.generator = Generator(self.engine.loaded)
        switch_s = self.engine.activate(name, strength)
        self.generator.reset()
        if path != self.folder:  # the guard marks copies of the adapter's own training text
            from cw_desktop.ml.memorisation import load_index

            self.generator.memorisation = load_index(path)
        self.folder = path
        note = "" if getattr(getattr(installed, "loaded", None), "backend", "torch") == "torch" else \
            "adapters run on PyTorch (llama.cpp is used without an adapter)"
        return self.generator, {"adapter": path.name, "strength": self.engine.strength, "switch_s": switch_s,
                                "load_s": load_s, "note": note}
