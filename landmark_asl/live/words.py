"""Word suggestions: the most likely English words for the letters spelled so far, from each letter's class probabilities and a frequency-ranked word list.

The word list is the English frequency dictionary that ships inside ``pyspellchecker`` (the
``serve`` and ``suggest`` extras; nothing is downloaded at run time). A word's score is the
log-probability the live loop gave each of its letters plus a weighted log word frequency; one
letter missed or one extra letter committed is allowed at a fixed cost, so a dropped double
letter (``BAL`` for ``BALL``) still finds its word. Suggestions are offers: nothing here edits
the text.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: The letters a word is made of, in the column order of a probability row.
LETTERS = string.ascii_uppercase
_INDEX = {c: i for i, c in enumerate(LETTERS)}


@dataclass(frozen=True)
class SuggestSettings:
    """How words are scored (chosen on the dev words of ``benchmarks/bench_spelling.py``, docs/experiments.md).

    Attributes
    ----------
    n : int
        Suggestions returned.
    prior_weight : float
        Weight of the word's log frequency against the letters' log-probabilities.
    floor : float
        Each letter's probability is mixed with a uniform one by this much, so one confident
        mistake does not rule a word out.
    edit_cost : float
        Log-probability cost of one letter missed or one extra letter committed.
    max_length : int
        Longest word considered.
    """

    n: int = 3
    prior_weight: float = 0.3
    floor: float = 0.05
    edit_cost: float = 4.0
    max_length: int = 15

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 1:
            raise ValueError(f"n must be an integer >= 1; got {self.n!r}")
        if not 0.0 < float(self.floor) < 1.0:
            raise ValueError(f"floor must be in (0, 1); got {self.floor!r}")
        for name in ("prior_weight", "edit_cost"):
            value = float(getattr(self, name))
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0; got {getattr(self, name)!r}")


def letter_row(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """A model's class probabilities reduced to the 26 letters and renormalised.

    Parameters
    ----------
    proba : ndarray of shape (n_classes,)
    classes : sequence of str
        Canonical labels in the column order of ``proba``.

    Returns
    -------
    ndarray of shape (26,)
        Uniform when the model gave no letter any probability.
    """
    row = np.zeros(len(LETTERS))
    for p, label in zip(np.asarray(proba, dtype=np.float64), classes):
        if label in _INDEX:
            row[_INDEX[label]] += p
    total = row.sum()
    return row / total if total > 0 else np.full(len(LETTERS), 1.0 / len(LETTERS))


def one_hot(letter: str, confidence: float = 0.9) -> np.ndarray:
    """A probability row that puts ``confidence`` on ``letter`` (a motion letter, a typed one) and spreads the rest."""
    row = np.full(len(LETTERS), (1.0 - confidence) / (len(LETTERS) - 1))
    row[_INDEX[letter]] = confidence
    return row


@functools.lru_cache(maxsize=1)
def english_words() -> Mapping[str, int]:
    """Upper-case English word -> frequency count, from ``pyspellchecker``'s dictionary (loaded once).

    Raises
    ------
    ImportError
        When pyspellchecker is not installed, naming the extra to install.
    """
    try:
        from spellchecker import SpellChecker
    except ImportError as exc:
        raise ImportError(
            "word suggestions need pyspellchecker (its English word list): pip install 'landmark_asl[serve]'"
        ) from exc
    words = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return {w.upper(): int(c) for w, c in words.items() if w.isascii() and w.isalpha()}


class WordSuggester:
    """The ``n`` most likely words for a sequence of letter probability rows.

    Parameters
    ----------
    words : mapping of str to int, optional
        Word -> frequency count; by default :func:`english_words`. Words with characters other
        than A-Z (after upper-casing) are ignored.
    settings : SuggestSettings, optional

    Examples
    --------
    >>> s = WordSuggester({"BALL": 100, "BELL": 50, "BALD": 10})
    >>> s.suggest([one_hot("B"), one_hot("A"), one_hot("L")])
    ['BALL', 'BALD', 'BELL']
    """

    def __init__(self, words: Mapping[str, int] | None = None, settings: SuggestSettings | None = None) -> None:
        self.settings = settings if settings is not None else SuggestSettings()
        source = english_words() if words is None else words
        by_length: dict[int, list[tuple[str, int]]] = {}
        for word, count in source.items():
            word = word.upper()
            if 0 < len(word) <= self.settings.max_length and all(c in _INDEX for c in word) and count > 0:
                by_length.setdefault(len(word), []).append((word, count))
        # Per length: the words, their letters as column indices (n_words, length), log frequencies.
        self._words: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for length, items in by_length.items():
            items.sort()
            names = np.array([w for w, _ in items], dtype=object)
            codes = np.array([[_INDEX[c] for c in w] for w, _ in items], dtype=np.intp)
            prior = np.log(np.array([c for _, c in items], dtype=np.float64))
            self._words[length] = (names, codes, prior)
        if not self._words:
            raise ValueError("the word list holds no word of letters A-Z: pass a mapping such as {'HELLO': 10}")

    def suggest(self, rows: Sequence[np.ndarray] | np.ndarray, n: int | None = None) -> list[str]:
        """The most likely words, best first.

        Parameters
        ----------
        rows : sequence of ndarray of shape (26,), or ndarray of shape (n_letters, 26)
            Each spelled letter's probabilities over A..Z (:func:`letter_row`, :func:`one_hot`).
        n : int, optional
            How many; ``settings.n`` by default.

        Returns
        -------
        list of str
            Up to ``n`` distinct upper-case words; empty when nothing was spelled.
        """
        n = self.settings.n if n is None else int(n)
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(LETTERS))
        if len(rows) == 0:
            return []
        floor = self.settings.floor
        logq = np.log((1.0 - floor) * rows / np.maximum(rows.sum(axis=1, keepdims=True), 1e-12) + floor / len(LETTERS))
        names, scores = [], []
        k = len(rows)
        for length, cost in ((k, 0.0), (k + 1, self.settings.edit_cost), (k - 1, self.settings.edit_cost)):
            if length not in self._words:
                continue
            words, codes, prior = self._words[length]
            fit = _alignment(logq, codes) - cost
            names.append(words)
            scores.append(fit + self.settings.prior_weight * prior)
        if not names:
            return []
        words, score = np.concatenate(names), np.concatenate(scores)
        best = np.argsort(-score, kind="stable")[:n]
        return [str(w) for w in words[best]]


def _alignment(logq: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Log-probability of each word (rows of ``codes``) given the letters' ``logq`` (k, 26).

    Words as long as the spelled letters align one to one; a word one longer skips its best
    letter (a letter missed); one shorter skips the best spelled letter (an extra one).
    """
    k, length = logq.shape[0], codes.shape[1]
    if length == k:
        return logq[np.arange(k), codes].sum(axis=1)
    if length == k + 1:  # word letter j unspelled: word[:j] ~ spelled[:j], word[j+1:] ~ spelled[j:]
        a = logq[np.arange(k), codes[:, :k]]
        b = logq[np.arange(k), codes[:, 1:]]
    else:  # spelled letter j extra: word[:j] ~ spelled[:j], word[j:] ~ spelled[j+1:]
        a = logq[np.arange(length), codes]
        b = logq[np.arange(1, k), codes]
    prefix = np.concatenate([np.zeros((len(codes), 1)), np.cumsum(a, axis=1)], axis=1)
    suffix = np.concatenate([np.cumsum(b[:, ::-1], axis=1)[:, ::-1], np.zeros((len(codes), 1))], axis=1)
    return (prefix + suffix).max(axis=1)


@functools.lru_cache(maxsize=1)
def default_suggester() -> WordSuggester:
    """One :class:`WordSuggester` over :func:`english_words` with default settings, built once per process."""
    return WordSuggester()
