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


def test_banned_phrases_and_dry_go_from_the_panel_to_the_engine_and_the_settings_file(qtbot, tmp_path) -> None:
    from cw_desktop.core.settings import Settings

    panel = GenerationPanel(SuggestionSettings(banned_phrases=["suddenly"], dry_multiplier=1.2, dry_allowed_length=3))
    qtbot.addWidget(panel)
    assert panel.banned.toPlainText() == "suddenly"
    with qtbot.waitSignal(panel.options_changed, timeout=2_000):  # once the typing pauses
        panel.banned.setPlainText("suddenly\n  a shiver ran down her spine \n\nSUDDENLY")
    panel.dry.setValue(0.5)
    settings = panel.options()
    assert settings.banned_phrases == ["suddenly", "a shiver ran down her spine"]
    assert (settings.dry_multiplier, settings.dry_allowed_length) == (0.5, 3)

    stored = Settings()
    panel.store(stored.suggestions)
    stored.save(tmp_path / "settings.toml")
    loaded = Settings.load(tmp_path / "settings.toml")
    assert not loaded.problems
    again = GenerationPanel(loaded.suggestions)
    qtbot.addWidget(again)
    assert again.options().banned_phrases == settings.banned_phrases
    assert again.dry.value() == 0.5 and again.dry_allowed.value() == 3


def test_a_preset_sets_its_dry_strength_but_keeps_the_banned_phrases(qtbot) -> None:
    panel = GenerationPanel(SuggestionSettings(preset="prose", banned_phrases=["suddenly"]))
    qtbot.addWidget(panel)
    panel.preset.setCurrentIndex(panel.preset.findData("poetry"))
    assert panel.dry.value() == PRESETS["poetry"].dry_multiplier == 0
    assert panel.options().banned_phrases == ["suddenly"]


def test_a_bad_dry_value_in_the_settings_file_is_reported_not_used(tmp_path) -> None:
    from cw_desktop.core.settings import Settings

    path = tmp_path / "settings.toml"
    path.write_text('[suggestions]\ndry_multiplier = -3\nbanned_phrases = ["fine", 4]\n', encoding="utf-8")
    loaded = Settings.load(path)
    assert loaded.suggestions.dry_multiplier == SuggestionSettings().dry_multiplier
    assert loaded.suggestions.banned_phrases == ["fine"]
    assert len(loaded.problems) == 2
