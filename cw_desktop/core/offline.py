"""The whole process is offline unless the writer asked for a download.

transformers, huggingface_hub and peft reach for the model hub on their own (a LoRA adapter naming a
hub id as its base, a tokenizer looking for updates, telemetry). Rather than trusting every call
site to pass local_files_only, the hub libraries' own offline switches are turned on when
cw_desktop is imported, and lifted only inside `downloads_allowed()`, which only the explicit
download paths (`cw-desktop models download`, Model ▸ Download) enter.

Plain Python: no torch/transformers import here (huggingface_hub is patched only if already loaded).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
# What the writer's own environment said before we forced offline mode, inherited by child
# processes (the trainer) so they know it too: "1" means "never download, even when asked".
USER_OFFLINE_VARIABLE = "CW_DESKTOP_USER_OFFLINE"
_lock = threading.Lock()
_lifted = 0  # nesting depth of downloads_allowed()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def go_offline() -> None:
    """Switch the hub libraries to offline mode for this process and its children."""
    if USER_OFFLINE_VARIABLE not in os.environ:
        user = _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))
        os.environ[USER_OFFLINE_VARIABLE] = "1" if user else "0"
    _set_offline(True)


def user_forbids_downloads() -> bool:
    """The writer started us with HF_HUB_OFFLINE=1: even an explicit download is refused."""
    return _truthy(os.environ.get(USER_OFFLINE_VARIABLE))


def is_offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE"))


@contextlib.contextmanager
def downloads_allowed() -> Iterator[None]:
    """Lift offline mode for an explicit download; restored afterwards (also on errors)."""
    global _lifted
    with _lock:
        _lifted += 1
        _set_offline(False)
    try:
        yield
    finally:
        with _lock:
            _lifted -= 1
            if _lifted == 0:
                _set_offline(True)


def _set_offline(offline: bool) -> None:
    for name in OFFLINE_VARIABLES:
        os.environ[name] = "1" if offline else "0"
    # huggingface_hub reads the variable once, at import; its checks consult this constant.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = offline
