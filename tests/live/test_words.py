"""Word suggestions from per-letter probabilities (landmark_asl.live.words)."""

import numpy as np
import pytest

from landmark_asl.live.words import LETTERS, SuggestSettings, WordSuggester, default_suggester, letter_row, one_hot


def rows(word, confidence=0.9):
    return [one_hot(c, confidence) for c in word]


def test_a_small_word_list_ranks_by_letters_then_frequency():
    suggester = WordSuggester({"BALL": 100, "BELL": 50, "BALD": 10, "hello": 5, "don't": 99})
    # One letter off each: the more frequent word first.
    assert suggester.suggest(rows("BALL")) == ["BALL", "BELL", "BALD"]
    # A dropped double letter (BAL) still finds BALL; frequency breaks the tie with BALD.
    assert suggester.suggest(rows("BAL"), n=2) == ["BALL", "BALD"]
    # Lower-case words are used upper-case; words with other characters are ignored.
    assert suggester.suggest(rows("HELLO"), n=1) == ["HELLO"]
    assert suggester.suggest([]) == []


def test_the_letters_probabilities_choose_between_similar_words():
    suggester = WordSuggester({"YES": 10, "XES": 10})
    unsure = np.zeros(26)
    unsure[LETTERS.index("X")], unsure[LETTERS.index("Y")] = 0.55, 0.45
    assert suggester.suggest([unsure, one_hot("E"), one_hot("S")], n=1) == ["XES"]
    unsure[LETTERS.index("X")], unsure[LETTERS.index("Y")] = 0.45, 0.55
    assert suggester.suggest([unsure, one_hot("E"), one_hot("S")], n=1) == ["YES"]


def test_the_english_list_corrects_one_slip():
    suggester = default_suggester()
    assert suggester.suggest(rows("HELLO"))[0] == "HELLO"
    assert "COFFEE" in suggester.suggest(rows("COFEE"))  # a missed double letter
    assert "JAZZ" in suggester.suggest(rows("JAZZZ"))  # an extra letter
    assert "YES" in suggester.suggest([letter_row(np.array([0.5, 0.4, 0.1]), ("X", "Y", "NOTHING")), *rows("ES")])


def test_letter_row_keeps_letters_only_and_renormalises():
    row = letter_row(np.array([0.2, 0.2, 0.6]), ("A", "B", "SPACE"))
    assert row[LETTERS.index("A")] == pytest.approx(0.5) and row.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(letter_row(np.array([1.0]), ("NOTHING",)), np.full(26, 1 / 26))


def test_settings_and_word_list_are_checked():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        SuggestSettings(n=0)
    with pytest.raises(ValueError, match=r"floor must be in \(0, 1\)"):
        SuggestSettings(floor=1.0)
    with pytest.raises(ValueError, match="holds no word of letters A-Z"):
        WordSuggester({"don't": 3})
