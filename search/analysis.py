r"""Vietnamese text analysis for the search index.

Do not move or rename this module: Whoosh pickles the analyzers below into the index's schema,
so an index refers to them as ``search.analysis.<Class>``.

Vietnamese writes one syllable per word, so the analyzer keeps syllables as tokens (no word
segmentation) and no stop words. A syllable is a maximal run of letters and digits (``WORD_RE``:
``[^\W_]+`` on the NFC text; "_" separates). Four token streams come from the same text; any
other search backend (the PostgreSQL one) must index exactly these, so that the same query finds
the same essays:

* ``exact``: each syllable NFC, lower case, tone mark placed one canonical way, the new-style
  rule of ``canonical_tones`` ("hòa" and "hoà" are one token ``hoà``, "THUỶ" is ``thuỷ``);
  positions are not needed.
* ``folded``: each syllable lower case with every mark removed and đ→d (``fold``): "số", "sở",
  "sổ" are all ``so``. Positions are not needed.
* ``bigrams``: folded pairs of adjacent syllables joined by one space (``"chuyen doi"``), at the
  position of the first one; answers phrases of unmarked words.
* ``exact_bigrams``: exact pairs of adjacent syllables joined by one space (``"chuyển đổi"``),
  at the same positions as ``bigrams``, but only where the pair differs from its folded pair (a
  pair without any mark is already in ``bigrams``); answers phrases of marked words.

Query semantics built on them (``search.query``): a word typed with marks matches the ``exact``
token only; a word typed without marks matches the ``folded`` token, so every marked form; a
phrase whose adjacent words are both marked reads ``exact_bigrams``, both unmarked ``bigrams``
(see ``search.query._phrase`` for a pair with one marked word).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter

from whoosh.analysis import Token, Tokenizer

__all__ = [
    "BigramAnalyzer",
    "bigram_terms",
    "ExactBigramAnalyzer",
    "exact_bigram_terms",
    "ExactAnalyzer",
    "FoldedAnalyzer",
    "canonical_tones",
    "document_terms",
    "fold",
    "has_marks",
    "normalize_text",
    "syllables",
]

# Letters and digits; "_" is a word character for `re` but not for us.
WORD_RE = re.compile(r"[^\W_]+")

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
_VOWELS = frozenset("aăâeêioôơuưy")
_MARKED_VOWELS = frozenset("ăâêôơư")
_CODAS = frozenset(["", "c", "ch", "m", "n", "ng", "nh", "p", "t"])
# Open two-vowel nuclei that take the tone on the second vowel under the new-style rule.
_SECOND_VOWEL_NUCLEI = frozenset(["oa", "oe", "uy"])

_CACHE_LIMIT = 200_000
_token_cache: dict[str, tuple[str, str]] = {}


def _has_tone(word: str) -> bool:
    return any(ch in _TONED_CHARS for ch in word)


def _split_marks(ch: str) -> tuple[str, str]:
    """Split one NFC letter into (letter without tone, tone mark or '')."""
    decomposed = unicodedata.normalize("NFD", ch)
    tone = "".join(m for m in decomposed[1:] if m in _TONE_MARKS)
    rest = decomposed[0] + "".join(m for m in decomposed[1:] if m not in _TONE_MARKS)
    return unicodedata.normalize("NFC", rest), tone


_TONED_CHARS = frozenset(
    unicodedata.normalize("NFC", base + tone)
    for base in _VOWELS | {v.upper() for v in _VOWELS}
    for tone in _TONE_MARKS
)


def _canonical_word(word: str) -> str:
    """Place the tone mark of one lower-case NFC syllable by the new-style rule."""
    if not _has_tone(word):
        return word
    letters: list[str] = []
    tones: list[str] = []
    for ch in word:
        letter, tone = _split_marks(ch)
        letters.append(letter)
        if tone:
            tones.append(tone)
    if len(tones) != 1:
        return word  # not a Vietnamese syllable (or already odd): leave it alone
    vowel_idx = [i for i, letter in enumerate(letters) if letter in _VOWELS]
    first, last = vowel_idx[0], vowel_idx[-1]
    if last - first + 1 != len(vowel_idx):
        return word  # vowels split by consonants: a foreign word such as "résumé"
    onset = "".join(letters[:first])
    # "qu" and "gi" are onsets when another vowel follows: "quý", "già".
    if first < last and (
        (onset == "q" and letters[first] == "u") or (onset == "g" and letters[first] == "i")
    ):
        first += 1
    nucleus = letters[first : last + 1]
    coda = "".join(letters[last + 1 :])
    if coda not in _CODAS:
        return word
    marked = [i for i, letter in enumerate(nucleus) if letter in _MARKED_VOWELS]
    if len(nucleus) == 1:
        target = 0
    elif marked:
        target = marked[-1]  # "ươ" takes it on ơ: "người"
    elif coda:
        target = len(nucleus) - 1  # "toán", "huỳnh"
    elif len(nucleus) == 3:
        target = 1  # "ngoài", "khuỷu"
    else:
        target = 1 if "".join(nucleus) in _SECOND_VOWEL_NUCLEI else 0
    letters[first + target] = unicodedata.normalize("NFC", letters[first + target] + tones[0])
    return "".join(letters)


def canonical_tones(text: str) -> str:
    """Return NFC text with every syllable's tone mark placed by the new-style rule (hoà, thuỷ, quý)."""
    text = unicodedata.normalize("NFC", text)

    def repl(match: re.Match[str]) -> str:
        word = match.group(0)
        lowered = word.lower()
        placed = _canonical_word(lowered)
        if placed == lowered or len(placed) != len(word):
            return word
        # Keep the original capitals: moving a tone keeps the letter count in NFC.
        return "".join(p.upper() if o.isupper() else p for o, p in zip(word, placed))

    return WORD_RE.sub(repl, text)


def _fold_char(ch: str) -> str:
    if ch in "đĐ":
        return "d"
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return base.lower()


# Latin-1 Supplement to Latin Extended Additional covers every Vietnamese letter.
_FOLD_TABLE = {cp: _fold_char(chr(cp)) for cp in range(0xC0, 0x1F00) if _fold_char(chr(cp)) != chr(cp)}


def fold(text: str) -> str:
    """Return lower-case text with every mark removed and đ→d ("Chuyển đổi" → "chuyen doi")."""
    text = unicodedata.normalize("NFC", text).lower()
    # Combining marks left over from unusual sequences go too.
    return "".join(c for c in text.translate(_FOLD_TABLE) if not unicodedata.combining(c))


def normalize_text(text: str) -> str:
    """Return text as the exact field indexes it: NFC, lower case, canonical tone placement."""
    return canonical_tones(unicodedata.normalize("NFC", text).lower())


def has_marks(text: str) -> bool:
    """Tell whether the text carries any Vietnamese mark (tone, vowel mark or đ)."""
    return fold(text) != unicodedata.normalize("NFC", text).lower()


def _forms(word: str) -> tuple[str, str]:
    """Return (exact, folded) for one token, memoised: the vocabulary is small."""
    forms = _token_cache.get(word)
    if forms is None:
        lowered = word.lower()
        forms = (_canonical_word(lowered), fold(lowered))
        if len(_token_cache) >= _CACHE_LIMIT:
            _token_cache.clear()
        _token_cache[word] = forms
    return forms


def syllables(text: str) -> list[tuple[str, str, int, int]]:
    """Split text into (exact, folded, start, end) syllables; offsets count NFC code points."""
    text = unicodedata.normalize("NFC", text)
    out = []
    for match in WORD_RE.finditer(text):
        exact, folded = _forms(match.group(0))
        out.append((exact, folded, match.start(), match.end()))
    return out


_exact_of = itemgetter(0)
_folded_of = itemgetter(1)


def _positions(
    grams: Iterable[str], skip: Callable[[int], bool] | None = None
) -> dict[str, int | list[int]]:
    """Pair -> its position, or the list of them when it occurs more than once."""
    out: dict[str, int | list[int]] = {}
    for pos, gram in enumerate(grams):
        if skip is not None and skip(pos):
            continue
        at = out.get(gram)
        if at is None:
            out[gram] = pos
        elif type(at) is int:
            out[gram] = [at, pos]
        else:
            at.append(pos)
    return out


def document_terms(
    text: str,
) -> tuple[Counter[str], Counter[str], dict[str, int | list[int]], dict[str, int | list[int]]]:
    """Index terms of one text in a single pass: what ExactAnalyzer, FoldedAnalyzer,
    BigramAnalyzer and ExactBigramAnalyzer would yield, as (exact counts, folded counts,
    bigram -> positions, exact bigram -> positions).

    A bigram seen once maps to its position, one seen more often to the list of them (most
    occur once, and a list each costs time). The bulk writer uses this instead of running the
    analyzers token by token; the tests check both ways give the same terms.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    cached = _token_cache.get
    forms = [cached(w) or _forms(w) for w in WORD_RE.findall(text)]
    folded = list(map(_folded_of, forms))
    exact = list(map(_exact_of, forms))
    bigrams = _positions(map(" ".join, zip(folded, folded[1:])))
    # A pair without marks is already in `bigrams`.
    plain = [e == f for e, f in forms]
    exact_bigrams = _positions(
        map(" ".join, zip(exact, exact[1:])), lambda pos: plain[pos] and plain[pos + 1]
    )
    return Counter(exact), Counter(folded), bigrams, exact_bigrams


class _VietnameseTokenizer(Tokenizer):
    """Base tokenizer: NFC syllables with positions and offsets; subclasses pick the form."""

    form = 0  # index into the (exact, folded) pair

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__

    def __hash__(self) -> int:
        return hash(self.__class__.__name__)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        form = self.form
        for pos, match in enumerate(WORD_RE.finditer(value)):
            t.text = _forms(match.group(0))[form]
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = match.group(0)
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t


class ExactAnalyzer(_VietnameseTokenizer):
    """Syllables in NFC lower case with canonical tone placement."""

    form = 0


class FoldedAnalyzer(_VietnameseTokenizer):
    """Syllables without any mark, đ→d."""

    form = 1


class BigramAnalyzer(_VietnameseTokenizer):
    """Folded pairs of adjacent syllables ("chuyen doi", "doi so"), positioned at the first one."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        previous = None
        for pos, match in enumerate(WORD_RE.finditer(value)):
            folded = _forms(match.group(0))[1]
            if previous is not None:
                t.text = previous + " " + folded
                t.boost = 1.0
                t.stopped = False
                if positions:
                    t.pos = start_pos + pos - 1
                if chars:
                    t.startchar = start_char + previous_start
                    t.endchar = start_char + match.end()
                yield t
            previous, previous_start = folded, match.start()


class ExactBigramAnalyzer(_VietnameseTokenizer):
    """Exact pairs of adjacent syllables ("chuyển đổi"), positioned at the first one, only where
    at least one of the two carries a mark (an unmarked pair is its own folded pair)."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        previous: tuple[str, bool, int] | None = None
        for pos, match in enumerate(WORD_RE.finditer(value)):
            exact, folded = _forms(match.group(0))
            plain = exact == folded
            if previous is not None and not (plain and previous[1]):
                t.text = previous[0] + " " + exact
                t.boost = 1.0
                t.stopped = False
                if positions:
                    t.pos = start_pos + pos - 1
                if chars:
                    t.startchar = start_char + previous[2]
                    t.endchar = start_char + match.end()
                yield t
            previous = (exact, plain, match.start())


def bigram_terms(folded_syllables: list[str]) -> list[str]:
    """Return the bigram field's terms for a run of folded syllables."""
    return [a + " " + b for a, b in zip(folded_syllables, folded_syllables[1:])]


def exact_bigram_terms(exact_syllables: list[str]) -> list[str]:
    """Return the exact_bigrams field's terms for a run of exact (canonical) syllables."""
    return [a + " " + b for a, b in zip(exact_syllables, exact_syllables[1:])]
