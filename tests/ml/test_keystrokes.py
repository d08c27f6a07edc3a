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
