"""GenerationWorker.set_adapter across the process boundary: the project's adapter answers beside
the loaded base at its strength; strength 0 and "no adapter" answer exactly as the base does."""

from __future__ import annotations

import pytest

from voice_models import paragraphs, train_lora_adapter
from cw_desktop.core.generation_settings import GenerationSettings

pytestmark = pytest.mark.timeout(300)

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0, stop="none")
DRAFT = "The storm broke over the harbour and"


def suggest(qtbot, generation) -> str:
    with qtbot.waitSignal(generation.suggestions_ready, timeout=30_000) as ready:
        generation.submit_suggest(DRAFT, GREEDY)
    return ready.args[1][0].text


def use_adapter(qtbot, generation, app_paths, folder, strength: float) -> dict:
    with qtbot.waitSignal(generation.adapter_changed, timeout=60_000) as changed:
        generation.set_adapter(str(folder) if folder else None, strength, app_paths)
    return changed.args[0]


def test_the_adapter_answers_at_its_strength_and_zero_is_the_base(qtbot, remote, app_paths, tiny_model_dir,
                                                                   tmp_path) -> None:
    _process, generation, loader = remote
    adapter = train_lora_adapter(tiny_model_dir, tmp_path / "voice", paragraphs("A", 60, seed=1))
    with qtbot.waitSignal(loader.loaded, timeout=60_000) as loaded:
        loader.request_load(str(tiny_model_dir))
    with qtbot.waitSignal(generation.model_installed, timeout=30_000):
        generation.install(loaded.args[1])
    base_text = suggest(qtbot, generation)

    account = use_adapter(qtbot, generation, app_paths, adapter, 1.5)
    assert account["adapter"] == "voice" and account["strength"] == 1.5
    assert suggest(qtbot, generation) != base_text
    account = use_adapter(qtbot, generation, app_paths, adapter, 0.0)
    assert account["switch_s"] < 0.1 and account["load_s"] < 0.05  # the base and adapter stayed loaded
    assert suggest(qtbot, generation) == base_text
    use_adapter(qtbot, generation, app_paths, None, 1.0)
    assert suggest(qtbot, generation) == base_text
