"""The simulated writer that bench/keystrokes.py and the fine-tune report count typing saved with."""

from cw_desktop.ml.keystrokes import pause_points, simulate_writer, words_matched

TEXT = "The storm broke over the harbour at midnight."


def test_a_suggester_that_is_never_right_saves_nothing() -> None:
    result = simulate_writer(TEXT, lambda before, upcoming: " nonsense words")
    assert result.savings == 0.0
    assert result.first_word_right == 0
    assert result.pauses == len(pause_points(TEXT))
    assert result.keystrokes == len(TEXT)


def test_an_oracle_that_knows_the_next_two_words_saves_them_minus_one_key_per_word() -> None:
    def oracle(before: str, upcoming: str) -> str:
        return " ".join(upcoming.split(" ")[:2])

    result = simulate_writer(TEXT, oracle)
    # Pauses at "storm" (takes "storm broke"), then "over" (takes "over the"), "harbour" ("harbour at"),
    # then "midnight." (the last word alone).
    assert result.words_taken == 7
    assert result.taken_chars == len("storm broke") + len("over the") + len("harbour at") + len("midnight.")
    assert result.keystrokes == len(TEXT) - result.taken_chars + 7
    assert result.first_word_accuracy == 1.0
    assert 0.5 < result.savings < 1.0


def test_only_whole_matching_words_are_taken() -> None:
    assert words_matched("storm was", "storms were") == (0, 0)  # "storm" is not the word coming
    assert words_matched("storm broke under", "storm broke over") == (2, len("storm broke"))
    assert words_matched(" over the", " over the harbour") == (2, len(" over the"))
    # Completing a word the writer paused inside: the rest of the word is the first "word".
    assert words_matched("bour at noon", "bour at midnight") == (2, len("bour at"))


def test_the_writer_also_pauses_inside_long_words() -> None:
    asked: list[str] = []
    simulate_writer("An extraordinary day", lambda before, upcoming: asked.append(before) or "")
    assert asked == ["An ", "An ext", "An extraordinary "]


class _StreamingEngine:
    """Streams a fixed continuation word by word, like Generator.suggest, and obeys should_stop."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words_streamed = 0

    def reset(self) -> None:
        pass

    def suggest(self, before: str, settings: object, on_token=None, should_stop=None):  # noqa: ANN001
        from types import SimpleNamespace

        upcoming = self.text[len(before):]
        words = upcoming.split(" ")[:2] + ["wrong", "words", "here"]
        shown = ""
        for word in words:
            if should_stop is not None and should_stop():
                break
            shown = (shown + " " + word) if shown else word
            self.words_streamed += 1
            if on_token is not None:
                on_token(0, shown)
        return [SimpleNamespace(text=shown)]


def test_measuring_an_engine_stops_decoding_once_it_diverged_without_changing_the_count() -> None:
    from cw_desktop.ml.keystrokes import measure_engine

    engine = _StreamingEngine(TEXT)
    early, _ = measure_engine(engine, [TEXT], settings=None)
    lazy = simulate_writer(TEXT, lambda before, upcoming: " ".join(upcoming.split(" ")[:2] + ["wrong", "words", "here"]))
    assert (early.taken_chars, early.words_taken, early.pauses) == (lazy.taken_chars, lazy.words_taken, lazy.pauses)
    assert engine.words_streamed < 5 * early.pauses  # it did not decode every suggestion to its end


def test_expected_typing_saved_weighs_each_whole_word_run_by_its_probability() -> None:
    from math import log

    import pytest

    from cw_desktop.ml.keystrokes import expected_typing_saved

    # Tokens "Eliz" (p 0.5), "abeth" (0.8), " smiled" (0.5): "Elizabeth" is right with p 0.4 and
    # saves 9 characters for 1 key; "Elizabeth smiled" with p 0.2 saves 16 for 2 keys.
    saved = expected_typing_saved("Elizabeth smiled", [4, 9, 16], [log(0.5), log(0.8), log(0.5)])
    assert saved == pytest.approx(0.4 * 8 + 0.2 * 14)
    # A one-letter word saves nothing on its own (one key to take one character)...
    assert expected_typing_saved("a", [1], [log(0.3)]) == 0.0
    # ...so a likely long word is worth more than a slightly likelier short one.
    assert expected_typing_saved("Elizabeth", [9], [log(0.2)]) > expected_typing_saved("her", [3], [log(0.3)])


def test_expected_typing_saved_counts_only_what_the_writer_sees() -> None:
    from math import log

    import pytest

    from cw_desktop.ml.keystrokes import expected_typing_saved

    # The writer typed "Eliz" already (a healed token): only "abeth" and " came" are offered.
    full, ends, logprobs = "Elizabeth came", [9, 14], [log(0.5), log(0.5)]
    assert expected_typing_saved(full, ends, logprobs, skip=4) == pytest.approx(0.5 * 4 + 0.25 * 8)
    # Text cut from the suggestion (a stop rule, the junk filter) is never taken.
    assert expected_typing_saved(full, ends, logprobs, skip=4, shown=5) == pytest.approx(0.5 * 4)
