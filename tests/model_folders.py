"""A fine-tuned model folder as `cw-desktop train` leaves it on another machine (config, weights,
tokenizer, report.json), for the import tests; the weights are placeholder bytes."""

from __future__ import annotations

import json
from pathlib import Path


def trained_folder(parent: Path, name: str, report: dict | None) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\1" * 4096)
    (folder / "tokenizer.json").write_text("{}")
    if report is not None:
        (folder / "report.json").write_text(json.dumps(report))
    return folder
