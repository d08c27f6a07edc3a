"""The fine-tune results view (dialog step 4 and the model manager's "Rate"): the typing-saved figure."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from cw_desktop.dialogs.finetune import ResultsView

REPORT = {"name": "Poe voice", "perplexity_before": 30.0, "perplexity_after": 21.5,
          "samples": [{"form": "poem", "prompt": "At dusk", "before": "base words", "after": "tuned words"}]}


def test_the_results_show_how_much_typing_the_tuned_model_saves(qtbot, tmp_path):
    report = dict(REPORT, keystrokes_saved={"base": 0.081, "tuned": 0.124})
    view = ResultsView(tmp_path, report)
    qtbot.addWidget(view)
    view.show()
    assert view.keystrokes is not None and view.keystrokes.isVisible()
    assert view.keystrokes.text().startswith("Saves ~12% of your typing on held-out chapters (base model: 8%)")


def test_without_a_keystroke_figure_nothing_is_claimed(qtbot, tmp_path):
    for report in (dict(REPORT, keystrokes_saved=None), dict(REPORT)):
        view = ResultsView(tmp_path, report)
        qtbot.addWidget(view)
        assert view.keystrokes is None
        assert "typing" not in " ".join(label.text() for label in view.findChildren(QLabel))

