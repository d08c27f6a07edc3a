"""Blind side-by-side ratings: layout, resolution to tuned/base, persistence, summary."""

from __future__ import annotations

import json

import pytest

from cw_desktop.core.ratings import (RatingsError, assign_columns, load_or_create_ratings, load_ratings, new_ratings,
                                     save_ratings, summarise)

SAMPLES = [{"form": form, "prompt": f"{form} opening", "before": "base text", "after": "tuned text"}
           for form in ("poem", "dialogue", "story", "held-out opening", "held-out opening")]


def test_columns_are_reproducible_from_the_seed_and_not_all_on_one_side():
    assert assign_columns(40, seed=3) == assign_columns(40, seed=3)
    assert assign_columns(40, seed=3) != assign_columns(40, seed=4)
    layout = assign_columns(40, seed=3)
    assert 8 < layout.count("left") < 32  # a fair coin, not a constant


def test_a_rating_given_by_column_is_stored_by_model():
    ratings = new_ratings(SAMPLES, seed=11)
    pair = ratings.pairs[0]
    tuned, base = pair.tuned_column, pair.column_of("base")
    ratings.rate(0, preferred_column=tuned,
                 scores_by_column={tuned: {"creativity": 5, "coherence": 4, "originality": 5},
                                   base: {"creativity": 2, "coherence": 4, "originality": 1}})
    assert pair.preference == "tuned"
    assert pair.scores["tuned"] == {"creativity": 5, "coherence": 4, "originality": 5}
    assert pair.scores["base"]["originality"] == 1
    assert pair.is_complete
    ratings.rate(1, preferred_column=ratings.pairs[1].column_of("base"), scores_by_column={})
    assert ratings.pairs[1].preference == "base" and not ratings.pairs[1].is_complete


@pytest.mark.parametrize("bad", [0, 6, 2.5, "4"])
def test_scores_outside_1_to_5_are_refused(bad):
    ratings = new_ratings(SAMPLES, seed=1)
    with pytest.raises(RatingsError, match="1 to 5"):
        ratings.rate(0, preferred_column=None, scores_by_column={"left": {"coherence": bad}})


def test_saved_ratings_round_trip_and_keep_the_blind_layout(tmp_path):
    ratings = new_ratings(SAMPLES, seed=5)
    full = {"creativity": 3, "coherence": 3, "originality": 3}
    ratings.rate(2, preferred_column=None, scores_by_column={"left": full, "right": full})
    path = save_ratings(tmp_path, ratings)
    raw = json.loads(path.read_text())
    assert raw["seed"] == 5 and raw["pairs"][2]["preference"] == "same" and raw["updated"]
    assert [p["tuned_column"] for p in raw["pairs"]] == assign_columns(len(SAMPLES), 5)
    again = load_or_create_ratings(tmp_path, SAMPLES, seed=999)
    assert again.seed == 5 and again.pairs[2].preference == "same"
    # Other samples (the model was retrained into the same folder): a fresh blind layout.
    other = [dict(s, prompt=s["prompt"] + "!") for s in SAMPLES]
    assert load_or_create_ratings(tmp_path, other, seed=999).seed == 999
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unreadable_file_gets_a_clear_error(tmp_path):
    (tmp_path / "ratings.json").write_text("{ not json")
    with pytest.raises(RatingsError, match="ratings.json is unreadable"):
        load_ratings(tmp_path)
    assert load_ratings(tmp_path / "nowhere") is None


def test_summary_counts_preferences_and_averages_only_complete_pairs():
    ratings = new_ratings(SAMPLES, seed=2)
    for index, (preferred, tuned_score, base_score) in enumerate([("tuned", 5, 3), ("tuned", 4, 2), ("base", 2, 4)]):
        pair = ratings.pairs[index]
        ratings.rate(index, preferred_column=pair.column_of(preferred),
                     scores_by_column={pair.column_of("tuned"): dict.fromkeys(("creativity", "coherence",
                                                                               "originality"), tuned_score),
                                       pair.column_of("base"): dict.fromkeys(("creativity", "coherence",
                                                                              "originality"), base_score)})
    ratings.rate(3, preferred_column="left", scores_by_column={"left": {"creativity": 1}})  # incomplete
    summary = summarise(ratings)
    assert (summary.rated, summary.tuned_preferred, summary.base_preferred, summary.same) == (3, 2, 1, 0)
    assert summary.tuned_means["creativity"] == pytest.approx(11 / 3)
    assert summary.base_means["coherence"] == pytest.approx(3.0)
    assert summary.win_rate == pytest.approx(2 / 3)
    assert summary.short_text() == "tuned preferred 2/3"
    assert "creativity 3.7 vs 3.0" in summary.long_text() and "base preferred 1" in summary.long_text()
    assert summarise(new_ratings(SAMPLES, seed=1)).short_text() == "not rated"
