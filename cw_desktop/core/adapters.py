"""LoRA adapter folders and which one each project uses (plain Python: the GUI and the CLI read it).

An adapter folder sits in paths.models_dir like any fine-tune (report.json, tokenizer) but holds
adapter_config.json + adapter_model.safetensors instead of a whole model; adapter_config.json's
base_model_name_or_path is our spec of the base ("bundled", a catalog key or a folder).

A project is a folder of the writer's: every document under it uses the same adapter. The choice
is, in order: what the writer picked for that folder (adapters.json in the data folder, with the
strength), else the newest adapter trained on that folder (report.json "folder"), else none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cw_desktop.core.atomic import atomic_write_text

ADAPTER_CONFIG = "adapter_config.json"
CHOICES_FILE = "adapters.json"
DEFAULT_STRENGTH = 1.0
MAX_STRENGTH = 1.5


def is_adapter_folder(folder: Path) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def adapter_base(folder: Path) -> str:
    """The base model spec the adapter in `folder` was trained on ("" when unreadable)."""
    try:
        config = json.loads((Path(folder) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    return str(config.get("base_model_name_or_path") or "") if isinstance(config, dict) else ""


@dataclass(frozen=True)
class AdapterChoice:
    adapter: Path | None  # None: the writer chose the base alone for this project
    strength: float = DEFAULT_STRENGTH
    project: Path | None = None  # the folder the choice belongs to
    chosen: bool = True  # False: found by the adapter's training folder, not picked by the writer


def clamp_strength(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DEFAULT_STRENGTH
    return max(0.0, min(MAX_STRENGTH, number)) if number == number else DEFAULT_STRENGTH


class AdapterChoices:
    """adapters.json: {project folder: {"adapter": folder or null, "strength": 0..1.5}}."""

    def __init__(self, data_dir: Path, models_dir: Path | None = None) -> None:
        self.path = Path(data_dir) / CHOICES_FILE
        self.models_dir = Path(models_dir) if models_dir else Path(data_dir) / "models"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return {}  # missing or damaged: no choices (the trained-on folders still apply)
        return data if isinstance(data, dict) else {}

    def set(self, project: Path, adapter: Path | None, strength: float = DEFAULT_STRENGTH) -> None:
        data = self._read()
        data[str(Path(project).resolve())] = {"adapter": str(adapter) if adapter else None,
                                              "strength": clamp_strength(strength)}
        atomic_write_text(self.path, json.dumps(data, indent=2) + "\n")

    def set_strength(self, project: Path, strength: float) -> None:
        data = self._read()
        key = str(Path(project).resolve())
        entry = data.get(key) if isinstance(data.get(key), dict) else None
        if entry is None:
            return
        entry["strength"] = clamp_strength(strength)
        atomic_write_text(self.path, json.dumps(data, indent=2) + "\n")

    def choice_for(self, document: Path | None) -> AdapterChoice | None:
        """The adapter for a document: the nearest enclosing folder with a choice wins."""
        if document is None:
            return None
        document = Path(document).resolve()
        chosen = self._read()
        trained = self._trained_on()
        for folder in [document, *document.parents]:
            entry = chosen.get(str(folder))
            if isinstance(entry, dict):
                adapter = entry.get("adapter")
                path = Path(adapter) if isinstance(adapter, str) and adapter else None
                if path is None or is_adapter_folder(path):
                    return AdapterChoice(path, clamp_strength(entry.get("strength")), folder)
            if str(folder) in trained:
                return AdapterChoice(trained[str(folder)], DEFAULT_STRENGTH, folder, chosen=False)
        return None

    def _trained_on(self) -> dict[str, Path]:
        """{training folder: newest adapter trained on it} from the adapters' report.json."""
        found: dict[str, tuple[str, Path]] = {}
        if not self.models_dir.is_dir():
            return {}
        for folder in self.models_dir.iterdir():
            if folder.name.startswith(".") or not is_adapter_folder(folder):
                continue
            try:
                report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            source = report.get("folder") if isinstance(report, dict) else None
            if not isinstance(source, str) or not source:
                continue
            key = os.path.realpath(source)
            created = str(report.get("created") or "")
            if key not in found or created > found[key][0]:
                found[key] = (created, folder)
        return {key: folder for key, (_created, folder) in found.items()}


def under_bases(infos: list[Any]) -> list[Any]:
    """Model-manager order: each LoRA adapter right after the model it is an adapter of (ModelInfo
    rows); adapters whose base is not listed keep their place."""
    adapters = [i for i in infos if i.folder is not None and is_adapter_folder(i.folder)]
    placed: set[int] = set()
    ordered: list[Any] = []
    for info in infos:
        if any(info is a for a in adapters):
            continue
        ordered.append(info)
        for adapter in adapters:
            if id(adapter) not in placed and info.matches_spec(adapter_base(adapter.folder)):
                ordered.append(adapter)
                placed.add(id(adapter))
    ordered += [a for a in adapters if id(a) not in placed]
    return ordered
