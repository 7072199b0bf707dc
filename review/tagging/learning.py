"""Themes ("lĩnh vực") learned from the Board's own confirmed tags: scikit-learn, no hand-written model.

A passage is read as its folded syllables and pairs of adjacent folded syllables (the same forms
the search index keeps), weighted by TF-IDF; a complement naive Bayes over the course's tagged
passages ranks the themes (as good as a logistic regression or a linear SVM on the labelled set
of tests/review/theme_passages.py, and a hundred times faster to train). Before any tag exists (or for a theme without tags) the theme's name
and description stand in as one short example each, so the first suggestions already make sense.
Pure: no database; the worker (``review.tagging.theme_model``) trains and keeps the model.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB

_WORD_RE = re.compile(r"[^\W_]+")


def _base(ch: str) -> str:
    return "d" if ch in "đĐ" else unicodedata.normalize("NFD", ch)[0].lower()


# Every precomposed Latin letter (Latin-1 Supplement to Latin Extended Additional covers all of
# Vietnamese) to its bare lower-case letter: one str.translate instead of a loop per character.
_FOLD = {cp: _base(chr(cp)) for cp in range(0xC0, 0x1F00)
         if chr(cp).isalpha() and _base(chr(cp)) != chr(cp) and len(_base(chr(cp))) == 1}


def fold_syllables(text: str) -> list[str]:
    """Lower-case syllables without any mark, đ→d: "Chuyển đổi" → ["chuyen", "doi"]."""
    return _WORD_RE.findall(unicodedata.normalize("NFC", text).lower().translate(_FOLD))


def features(text: str) -> list[str]:
    """Folded syllables and folded pairs of adjacent syllables, the model's vocabulary."""
    syls = fold_syllables(text)
    return syls + [a + " " + b for a, b in zip(syls, syls[1:])]


@dataclass(frozen=True)
class ThemeScore:
    """One theme for a passage, with the model's probability."""

    theme_id: int
    score: float


class ThemeModel:
    """Ranks themes for passages; trained from (text, theme ids) examples and theme descriptions."""

    def __init__(self, examples: Sequence[tuple[str, Iterable[int]]],
                 descriptions: dict[int, str]) -> None:
        """examples: tagged passages and their themes; descriptions: theme id → name and description."""
        texts: list[str] = []
        labels: list[int] = []
        for text, theme_ids in examples:
            for theme_id in theme_ids:
                texts.append(text)
                labels.append(theme_id)
        tagged = set(labels)
        for theme_id, description in descriptions.items():
            # The name counts as one example, so an untagged theme can still be suggested; once
            # tagged passages exist they outweigh it.
            texts.append(description)
            labels.append(theme_id)
        self.theme_ids = sorted(set(labels))
        self.n_examples = len(examples)
        self.tagged_themes = tagged
        self._vectorizer: TfidfVectorizer | None = None
        self._classifier: ComplementNB | None = None
        if len(self.theme_ids) < 2:
            return
        self._vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=1)
        matrix = self._vectorizer.fit_transform(texts)
        self._classifier = ComplementNB(alpha=0.3)
        self._classifier.fit(matrix, labels)

    def rank(self, texts: Sequence[str], top: int = 3) -> list[list[ThemeScore]]:
        """For each text, the best themes first (at most `top`), scores in [0, 1]."""
        if not texts:
            return []
        if self._classifier is None or self._vectorizer is None:
            only = [ThemeScore(self.theme_ids[0], 1.0)] if self.theme_ids else []
            return [list(only) for _ in texts]
        probabilities = self._classifier.predict_proba(self._vectorizer.transform(texts))
        classes = self._classifier.classes_
        out = []
        for row in probabilities:
            best = np.argsort(row)[::-1][:top]
            out.append([ThemeScore(int(classes[i]), round(float(row[i]), 4)) for i in best])
        return out
