"""Per-project adapters in the editor: the current document's project decides which LoRA adapter
answers (core/adapters.py AdapterChoices), switched beside the loaded base as the writer moves
between documents, at the strength set in the generation panel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from cw_desktop.core.adapters import AdapterChoice, AdapterChoices
from cw_desktop.core.paths import AppPaths
from cw_desktop.gui.adapter_strength import AdapterStrength
from cw_desktop.workers.generation_worker import GenerationWorker


class AdapterController(QObject):
    notice = Signal(str)

    def __init__(self, paths: AppPaths, generation: GenerationWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.generation = generation
        self.choices = AdapterChoices(paths.data_dir, paths.models_dir)
        self.strength = AdapterStrength()
        self.choice: AdapterChoice | None = None
        self.sent: tuple[str | None, float] = (None, 1.0)  # what the worker was last asked to use
        self.last_account: dict[str, Any] = {}
        self.strength.strength_changed.connect(self._on_strength)
        generation.adapter_changed.connect(self._on_changed)
        generation.failed.connect(self._on_failed)

    def document_changed(self, tab: Any) -> None:
        """The current document (a DocumentTab or None) changed, or was saved somewhere else."""
        path = getattr(tab, "path", None) if tab is not None else None
        self.choice = self.choices.choice_for(path)
        adapter = self.choice.adapter if self.choice is not None else None
        strength = self.choice.strength if self.choice is not None else 1.0
        self.strength.show_adapter(adapter.name if adapter else None, strength)
        self._send(str(adapter) if adapter else None, strength)

    def model_installed(self) -> None:
        """A newly installed model answers alone: put the project's adapter back beside its base."""
        folder, strength = self.sent
        self.sent = (None, 1.0)
        if folder is not None:
            self._send(folder, strength)

    def _send(self, folder: str | None, strength: float) -> None:
        if (folder, strength) == self.sent:
            return
        self.sent = (folder, strength)
        self.generation.set_adapter(folder, strength, self.paths)

    def _on_strength(self, strength: float) -> None:
        choice = self.choice
        if choice is None or choice.adapter is None or choice.project is None:
            return
        # Remember it for the project: a trained-on folder's adapter becomes the writer's choice.
        self.choices.set(choice.project, choice.adapter, strength)
        self.choice = AdapterChoice(choice.adapter, strength, choice.project)
        self._send(str(choice.adapter), strength)

    def _on_changed(self, account: dict[str, Any]) -> None:
        self.last_account = account
        if account.get("adapter") is None:
            return
        took = f"switched in {account['switch_s'] * 1000:.0f} ms"
        if account.get("load_s", 0) > 0.5:
            took = f"base and adapter loaded in {account['load_s']:.1f} s"
        note = f"; {account['note']}" if account.get("note") else ""
        self.notice.emit(f"Adapter {account['adapter']} at strength {account['strength']:.2f} ({took}){note}")

    def _on_failed(self, key: Any, message: str) -> None:
        if isinstance(key, str) and key and key == self.sent[0]:
            self.notice.emit(f"The project's adapter could not be used: {message}")
