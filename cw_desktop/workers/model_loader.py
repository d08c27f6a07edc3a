"""Loading and downloading models off the GUI thread.

A separate thread from the generation worker on purpose: while a new model loads (seconds, or
~25 s for the first conversion of the bundled one), the current model keeps answering.
This is also where torch and transformers get imported, so the window never waits for them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot

from cw_desktop.core.paths import AppPaths
from cw_desktop.workers.threads import Worker


class ModelLoaderWorker(Worker):
    """failed(spec, message) comes from Worker; cancel() stops a download (a load is seconds long)."""

    progress = Signal(str, float, str)  # spec, fraction 0..1, stage
    loaded = Signal(str, object)  # spec, LoadedModel
    downloaded = Signal(str, str)  # spec, folder

    _load_requested = Signal(str)
    _download_requested = Signal(str)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        # ModelSettings.inference_backend: "auto" | "torch" | "llamacpp" (read at each load).
        self.backend = "auto"
        self._prepared: tuple[str, str, Any] | None = None  # (spec, backend, LoadedModel) loaded ahead
        self._load_requested.connect(self._load)
        self._download_requested.connect(self._download)

    # -- called from the GUI thread ----------------------------------------------------------------
    def request_load(self, spec: str) -> None:
        self._load_requested.emit(spec)

    def request_download(self, spec: str) -> None:
        self.begin()
        self._download_requested.emit(spec)

    # -- worker thread -----------------------------------------------------------------------------
    def prepare(self, spec: str, backend: str) -> None:
        """Load `spec` before anyone asks (in this worker's thread): the model process does this at
        start-up while the window is still being built, so the window's request finds it ready.
        A failure is left for that request to report."""
        try:
            from cw_desktop.ml.backends.selection import load_for_inference
            from cw_desktop.ml.engine import token_tables

            loaded = load_for_inference(spec, self.paths, backend=backend)
            token_tables(loaded.tokenizer)  # what the engine would build when the model is installed
        except Exception:  # noqa: BLE001 - reported by the real request
            return
        self._prepared = (spec, backend, loaded)

    @Slot(str)
    def _load(self, spec: str) -> None:
        prepared, self._prepared = self._prepared, None  # any other request drops it: memory
        if prepared is not None and prepared[:2] == (spec, self.backend):
            self.progress.emit(spec, 1.0, "Model ready")
            self.loaded.emit(spec, prepared[2])
            return
        try:
            from cw_desktop.ml.backends.selection import load_for_inference

            loaded = load_for_inference(spec, self.paths, backend=self.backend,
                                        on_progress=lambda f, stage: self.progress.emit(spec, f, stage))
        except Exception as exc:  # noqa: BLE001 - every failure must reach the status bar
            self._report(spec, exc)
            return
        self.loaded.emit(spec, loaded)

    @Slot(str)
    def _download(self, spec: str) -> None:
        try:
            from cw_desktop.ml.loading import download_hub_model

            folder = download_hub_model(self.paths, spec,
                                        on_progress=lambda f, stage: self.progress.emit(spec, f, stage),
                                        should_stop=self.cancel_requested)
        except Exception as exc:  # noqa: BLE001
            self._report(spec, exc)
            return
        self.downloaded.emit(spec, str(folder))

    def _report(self, spec: str, exc: BaseException) -> None:
        from cw_desktop.ml.loading import ModelLoadError  # written for the writer: shown as it is

        self.report_failure(spec, exc, expected=(ModelLoadError,))


def describe_model(info: dict[str, Any]) -> str:
    """One status-bar line: name plus where a fine-tuned model came from."""
    provenance = info.get("provenance") or {}
    text = str(info.get("name", info.get("spec", "model")))
    if info.get("backend") == "llamacpp":
        text += " · llama.cpp"
    elif info.get("backend_note"):
        text += " · PyTorch (" + str(info["backend_note"]) + ")"
    base = provenance.get("base_model")
    if base:
        text += f" — fine-tuned from {base}"
        before, after = provenance.get("perplexity_before"), provenance.get("perplexity_after")
        if isinstance(before, (int, float)) and isinstance(after, (int, float)):
            text += f" (perplexity {before:.1f} → {after:.1f})"
    return text
