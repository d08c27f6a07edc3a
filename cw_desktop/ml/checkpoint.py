"""The training checkpoint file: written atomically, read without ever running pickled code.

A checkpoint holds tensors, numbers, strings, lists and dicts only (the RNG states are stored as
tensors and lists), so it loads with torch.load(weights_only=True): a crafted file in a run folder
cannot execute code, it is refused with a clear message. Writing goes to a temp file in the run
folder that replaces the previous checkpoint only once complete, so a kill or a full disk mid-write
leaves the last good checkpoint resumable.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any

import torch

from cw_desktop.core.disk_space import reporting_disk_full

FORMAT = 2  # 1: the pickled python RNG tuple (still read: it loads as plain data too)


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and what to do."""


def rng_state() -> dict[str, Any]:
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {"torch": torch.get_rng_state(),
                             "python": {"version": version, "state": list(internal), "gauss_next": gauss_next}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    python = state["python"]
    if isinstance(python, dict):
        random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    else:  # format 1
        random.setstate(tuple(python))  # type: ignore[arg-type]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def tensor_bytes(value: Any) -> int:
    """Bytes of all tensors inside nested dicts/lists (how much a checkpoint needs on disk)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def write_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """torch.save to a temp file beside `path`, then rename over it; the old one survives failures."""
    payload = {"format": FORMAT, **payload}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    hint = ("The previous checkpoint is kept: free some space, then resume the run."
            if path.is_file() else "Free some space, then start the run again.")
    try:
        with reporting_disk_full(path.parent, tensor_bytes(payload) + 1024 * 1024, "a training checkpoint", hint):
            torch.save(payload, tmp)
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's data. Never unpickles objects: anything but plain data is refused."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"The checkpoint {path} was refused: it contains Python objects that would run code when "
            f"loaded ({_first_line(exc)}), which cw_desktop never does. Checkpoints written by "
            "cw_desktop hold only numbers; delete this run folder and start the run again.") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"The checkpoint {path} is unreadable (damaged or incomplete: "
                              f"{_first_line(exc)}); delete this run folder and start the run again.") from None
    required = ("trainable", "optimizer", "state", "rng")
    if not isinstance(payload, dict) or any(key not in payload for key in required):
        raise CheckpointError(f"{path} is not a cw_desktop training checkpoint; delete this run folder and "
                              "start the run again.")
    return payload


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "Unsupported global" in line or "GLOBAL" in line:
            return line.strip()[:200]
    return (text.splitlines() or [type(exc).__name__])[0][:200]
