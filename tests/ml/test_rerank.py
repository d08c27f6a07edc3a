"""Ranking of the alternatives a writer cycles through."""

from cw_desktop.ml.generation import Suggestion
from cw_desktop.ml.rerank import rank_alternatives


def _s(index: int, text: str, score: float) -> Suggestion:
    return Suggestion(index=index, text=text, tokens=len(text.split()), finish_reason="stop", score=score)


def test_the_ghost_text_stays_first_and_the_rest_go_by_mean_log_probability() -> None:
    ranked = rank_alternatives([_s(0, " ghost", -3.0), _s(1, " unlikely words", -4.0), _s(2, " likely words", -1.0)])
    assert [s.text for s in ranked] == [" ghost", " likely words", " unlikely words"]
    assert [s.index for s in ranked] == [0, 1, 2]


def test_repeats_and_blanks_go_last() -> None:
    ranked = rank_alternatives([_s(0, " she said", -1.0), _s(1, " she said", -0.5), _s(2, "", -0.1),
                                _s(3, " he answered", -2.0)])
    assert [s.text for s in ranked][:2] == [" she said", " he answered"]
    assert sorted(s.text for s in ranked[2:]) == ["", " she said"]
