"""docs/screenshots/voice-gutter.png: the editor with View ▸ Sounds like you on, and the generation
panel's adapter strength slider, with real scores.

The fine-tune is a tiny GPT-2's LoRA adapter trained a few steps on an invented voice (the test
suite's author A, tests/voice_models.py); the document mixes held-out paragraphs of that voice
with office prose, so the gutter shows green beside the first kind and amber beside the second.
Runs offscreen (no display needed):

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots_voice.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from shared_data import SAMPLE_TEXT  # noqa: E402
from voice_models import paragraphs, train_lora_adapter  # noqa: E402


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from cw_desktop.core.adapters import AdapterChoices
    from cw_desktop.core.paths import AppPaths
    from cw_desktop.core.settings import Settings
    from cw_desktop.gui.main_window import MainWindow
    from cw_desktop.ml.tiny import build_tiny_gpt2

    app = QApplication.instance() or QApplication([])
    import qasync
    import asyncio

    asyncio.set_event_loop(qasync.QEventLoop(app, already_running=False))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        paths = AppPaths.default(config=tmp / "config", data=tmp / "data").ensure()
        base = build_tiny_gpt2(tmp / "tiny", SAMPLE_TEXT, vocab_size=512, n_layer=2, n_head=2, n_embd=64,
                               n_positions=256)
        adapter = train_lora_adapter(base, paths.models_dir / "my-voice", paragraphs("A", 60, seed=1))
        project = tmp / "novel"
        project.mkdir()
        AdapterChoices(paths.data_dir).set(project, adapter, 0.8)
        a, b = paragraphs("A", 3, seed=101), paragraphs("B", 2, seed=202)
        (project / "chapter 3.txt").write_text("\n\n".join([a[0], a[1], b[0], a[2], b[1]]), encoding="utf-8")
        settings = Settings()
        settings.model.spec = str(base)
        settings.suggestions.auto_suggest = False
        window = MainWindow(paths, settings)
        window.resize(1200, 640)
        window.show()
        window.start(str(base))
        window.open_path(project / "chapter 3.txt")
        loop = QEventLoop()
        window.voice.scores_shown.connect(lambda _doc, _spans, done: done and QTimer.singleShot(300, loop.quit))
        window.main_menu.voice_action.trigger()
        QTimer.singleShot(120_000, loop.quit)
        loop.exec()
        out = REPO / "docs" / "screenshots" / "voice-gutter.png"
        window.grab().save(str(out))
        print(f"saved {out}")
        window.shutdown()


if __name__ == "__main__":
    main()
