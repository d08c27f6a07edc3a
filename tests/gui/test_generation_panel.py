"""The generation panel hands the worker one typed GenerationSettings, presets included."""

from __future__ import annotations

from cw_desktop.core.generation_settings import PRESETS, GenerationSettings
from cw_desktop.core.settings import SuggestionSettings
from cw_desktop.gui.generation_panel import GenerationPanel


def test_the_panel_gives_typed_settings_from_the_settings_file(qtbot) -> None:
    panel = GenerationPanel(SuggestionSettings(preset="dialogue", max_new_tokens=40, temperature=0.5, top_p=0.9,
                                               alternatives=2))
    qtbot.addWidget(panel)
    settings = panel.options()
    assert isinstance(settings, GenerationSettings)
    assert (settings.max_new_tokens, settings.temperature, settings.top_p, settings.alternatives) == (40, 0.5, 0.9, 2)
    assert settings.stop == PRESETS["dialogue"].stop and settings.top_k == PRESETS["dialogue"].top_k


def test_choosing_a_preset_shows_its_values_before_any_model_is_loaded(qtbot) -> None:
    """They used to arrive only with the first loaded model, so the boxes kept the old preset's values."""
    panel = GenerationPanel(SuggestionSettings(preset="prose"))
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.options_changed, timeout=1_000):
        panel.preset.setCurrentIndex(panel.preset.findData("poetry"))
    poetry = PRESETS["poetry"]
    assert panel.length.value() == poetry.max_new_tokens
    assert abs(panel.temperature.value() - poetry.temperature) < 1e-9 and abs(panel.top_p.value() - poetry.top_p) < 1e-9
    assert panel.options().stop == poetry.stop
