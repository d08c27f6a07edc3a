"""The model manager lists LoRA adapters under the model they adapt and merges two of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.core.settings import Settings
from cw_desktop.dialogs.model_manager import COLUMNS, ModelManagerDialog


def test_adapters_are_listed_under_their_base_and_can_be_merged(qtbot, app_paths, tiny_model_dir: Path) -> None:
    base = app_paths.models_dir / "my-base"
    shutil.copytree(tiny_model_dir, base)
    (base / "report.json").write_text(json.dumps({"name": "My base", "created": "2026-01-01"}))
    other = app_paths.models_dir / "other-model"
    shutil.copytree(tiny_model_dir, other)
    (other / "report.json").write_text(json.dumps({"name": "Other", "created": "2026-12-01"}))  # listed first
    for name, author in (("voice-a", "A"), ("voice-b", "B")):
        train_lora_adapter(tiny_model_dir, app_paths.models_dir / name, paragraphs(author, 20, seed=3), steps=4,
                           base_spec=str(base))
    dialog = ModelManagerDialog(app_paths, Settings(), None)
    qtbot.addWidget(dialog, before_close_func=lambda d: d.reject())  # reject() stops its export thread
    names = [dialog.table.item(row, COLUMNS.index("Name")).text() for row in range(dialog.table.rowCount())]
    at = names.index("My base")
    assert sorted(names[at + 1:at + 3]) == ["    ↳ adapter: voice-a", "    ↳ adapter: voice-b"]
    assert dialog.merge_button.isEnabled()

    dialog.merge_adapters()
    merge = dialog.merge_dialog
    merge.first_weight.setValue(0.7)
    merge.second_weight.setValue(0.3)
    merge.name.setText("blend")
    with qtbot.waitSignal(merge.merged, timeout=60_000) as blocker:
        qtbot.mouseClick(merge.merge_button, Qt.MouseButton.LeftButton)
    folder = Path(blocker.args[0])
    assert json.loads((folder / "report.json").read_text())["weights"] == [0.7, 0.3]
    names = [dialog.table.item(row, COLUMNS.index("Name")).text() for row in range(dialog.table.rowCount())]
    assert "    ↳ adapter: blend" in names[names.index("My base") + 1:names.index("My base") + 4]


def test_merging_an_adapter_with_itself_is_refused_before_any_work(qtbot, app_paths, tiny_model_dir) -> None:
    from cw_desktop.core.model_registry import ModelInfo
    from cw_desktop.dialogs.merge_adapters import MergeAdaptersDialog

    adapter = train_lora_adapter(tiny_model_dir, app_paths.models_dir / "only", paragraphs("A", 10, seed=3), steps=2)
    info = ModelInfo(spec=str(adapter), name="only", kind="fine-tuned", folder=adapter)
    dialog = MergeAdaptersDialog(app_paths, [info], None)
    qtbot.addWidget(dialog)
    dialog.start_merge()
    assert dialog.status.text() == "Choose two different adapters." and dialog.merge_button.isEnabled()
