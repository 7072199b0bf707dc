"""Vietnamese text normalisation and repair of legacy (TCVN3, VNI) encodings.

Pure functions, no Flask. Order matters: run `fix_legacy_encoding` before
`normalize_text`, because in TCVN3 the soft hyphen U+00AD is the letter "ư".
`prepare_text` does both in the right order.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "TCVN3",
    "VNI",
    "fix_legacy_encoding",
    "normalize_text",
    "prepare_text",
    "count_letters",
    "is_vietnamese_syllable",
]

TCVN3 = "TCVN3"
VNI = "VNI"

# --- TCVN3 (ABC, fonts .VnTime/.VnArial) -----------------------------------------------
# Text typed with a TCVN3 font is stored by Word as the cp1252/Latin-1 character of each
# byte, so the table maps those characters. TCVN3 ("VN3") has no precomposed toned capitals:
# they were typed with the ".VnTimeH" font using the lowercase codes, so they come back
# lowercase. Pairs are "legacy char, Unicode char"; checked against TCVN 5712 tables.
_TCVN3_PAIRS = (
    "¡Ă ¢Â £Ê ¤Ô ¥Ơ ¦Ư §Đ ¨ă ©â ªê «ô ¬ơ \u00adư ®đ "
    "µà ¶ả ·ã ¸á ¹ạ »ằ ¼ẳ ½ẵ ¾ắ Æặ Çầ Èẩ Éẫ Êấ Ëậ "
    "Ìè Îẻ Ïẽ Ðé Ñẹ Òề Óể Ôễ Õế Öệ ×ì Øỉ Üĩ Ýí Þị "
    "ßò áỏ âõ ãó äọ åồ æổ çỗ èố éộ êờ ëở ìỡ íớ îợ "
    "ïù ñủ òũ óú ôụ õừ öử ÷ữ øứ ùự úỳ ûỷ üỹ ýý þỵ"
)
_TCVN3_MAP = {pair[0]: pair[1] for pair in _TCVN3_PAIRS.split()}

# --- VNI-Windows (fonts VNI-Times, VNI-Helve) ---------------------------------------------
# VNI writes a letter as base + one mark character (aø = à, aá = ấ, ôù = ớ); a few letters
# are single characters (ô = ơ, ö = ư, ñ = đ, í ì æ ó ò = í ì ỉ ĩ ị, î = ỵ). Built from rules
# rather than typed out letter by letter, so a typo cannot hide in a 134-entry table.
_VNI_TONES_PLAIN = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}
_VNI_TONES_CIRCUMFLEX = {"": "â", "\u0301": "á", "\u0300": "à", "\u0309": "å", "\u0303": "ã", "\u0323": "ä"}
_VNI_TONES_BREVE = {"": "ê", "\u0301": "é", "\u0300": "è", "\u0309": "ú", "\u0303": "ü", "\u0323": "ë"}
_VNI_I_TONES = {"\u0301": "í", "\u0300": "ì", "\u0309": "æ", "\u0303": "ó", "\u0323": "ò"}


def _build_vni_map() -> dict[str, str]:
    """Return {VNI sequence: Unicode letter} for lower and upper case."""
    table: dict[str, str] = {}

    def add(vni: str, nfd: str) -> None:
        uni = unicodedata.normalize("NFC", nfd)
        table[vni] = uni
        table[vni.upper()] = uni.upper()

    for base in "aeouy":
        for tone, mark in _VNI_TONES_PLAIN.items():
            add(base + mark, base + tone)
    for base in "aeo":
        for tone, mark in _VNI_TONES_CIRCUMFLEX.items():
            add(base + mark, base + "\u0302" + tone)
    for tone, mark in _VNI_TONES_BREVE.items():
        add("a" + mark, "a\u0306" + tone)
    for base, horn in (("o", "ô"), ("u", "ö")):
        add(horn, base + "\u031b")
        for tone, mark in _VNI_TONES_PLAIN.items():
            add(horn + mark, base + "\u031b" + tone)
    for tone, mark in _VNI_I_TONES.items():
        add(mark, "i" + tone)
    add("î", "y\u0323")  # ỵ is a single character, unlike the other y tones
    add("ñ", "đ")
    return table


_VNI_MAP = _build_vni_map()

# Longest sequences first so "ôù" wins over "ô".
_VNI_RE = re.compile("|".join(sorted(map(re.escape, _VNI_MAP), key=len, reverse=True)))
_TCVN3_RE = re.compile("[" + re.escape("".join(_TCVN3_MAP)) + "]")

# Latin-1 letters that legitimately occur in Unicode Vietnamese.
_VN_LATIN1 = set("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")
# Characters that never occur in Unicode Vietnamese but fill legacy-encoded text.
_LEGACY_MARKERS = (set(_TCVN3_MAP) | {c for k in _VNI_MAP for c in k if ord(c) > 127}) - _VN_LATIN1
# Vietnamese letters outside Latin-1 (ă đ ơ ư and the U+1EA0 block): proof of real Unicode.
_VN_BEYOND_LATIN1 = re.compile("[ăĂđĐơƠưƯĩĨũŨ\u1ea0-\u1ef9]")

_ONSETS = "b c ch d đ g gh gi h k kh l m n ng ngh nh p ph q qu r s t th tr v x".split()
# Toneless vowel groups of Vietnamese syllables; a loose "any 3 vowels" would accept the
# VNI text "baøi" read as TCVN3 ("baứi").
_NUCLEI = (
    "a ă â e ê i o ô ơ u ư y "
    "ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi ua uâ uê ui uô uơ uy ưa ưi ươ ưu yê oo "
    "iêu yêu oai oao oay oeo uây uôi uya uyê ươi ươu uyu"
).split()
_SYLLABLE_RE = re.compile(
    r"^(?:%s)?(?:%s)(?:ch|ng|nh|c|m|n|p|t)?$"
    % (
        "|".join(sorted(_ONSETS, key=len, reverse=True)),
        "|".join(sorted(_NUCLEI, key=len, reverse=True)),
    )
)
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_WORD_RE = re.compile(r"[^\W\d_]+")


def is_vietnamese_syllable(word: str) -> bool:
    """True if `word` has the shape of one Vietnamese syllable (onset, vowels, coda)."""
    bare = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if c not in _TONE_MARKS)
    return bool(_SYLLABLE_RE.match(unicodedata.normalize("NFC", bare)))


def _upper_word(match: re.Match[str]) -> str:
    word = match.group()
    ascii_letters = [c for c in word if c.isascii() and c.isalpha()]
    # "B¸O" was typed in .VnTimeH (capitals drawn from lowercase codes): make it "BÁO".
    if len(ascii_letters) > 1 and all(c.isupper() for c in ascii_letters):
        return word.upper()
    return word


def _convert(line: str, encoding: str) -> str:
    if encoding == TCVN3:
        line = _TCVN3_RE.sub(lambda m: _TCVN3_MAP[m.group()], line)
        return _WORD_RE.sub(_upper_word, line)
    return _VNI_RE.sub(lambda m: _VNI_MAP[m.group()], line)


def _syllable_score(original: str, converted: str) -> tuple[int, int]:
    """Return (valid, total) over the words that the conversion changed."""
    before = set(_WORD_RE.findall(original))
    after = _WORD_RE.findall(converted)
    changed = [a for a in after if a not in before]
    if not changed:  # word boundaries moved (e.g. "¬" is not a letter): score all words
        changed = [a for a in after if not a.isascii()]
    valid = sum(is_vietnamese_syllable(w) for w in changed)
    return valid, len(changed)


def _repair_line(line: str) -> tuple[str, str | None]:
    """Convert one line if it is clearly legacy-encoded; return (line, encoding or None)."""
    markers = sum(c in _LEGACY_MARKERS for c in line)
    if not markers or _VN_BEYOND_LATIN1.search(line):
        return line, None
    # In legacy text most accented characters are markers; a Unicode line with one stray
    # "©" or "®" among its "ô", "à" stays as it is.
    if markers < 0.4 * sum(not c.isascii() for c in line):
        return line, None
    best: tuple[float, str, str | None] = (0.0, line, None)
    for encoding in (TCVN3, VNI):
        converted = _convert(line, encoding)
        if converted == line:
            continue
        valid, total = _syllable_score(line, converted)
        leftovers = sum(c in _LEGACY_MARKERS for c in converted)
        # Most changed words must become real syllables and no marker may be left:
        # German "schöne" or Spanish "año" fail here and stay untouched.
        ratio = valid / total if total else 0.0
        if ratio >= 0.75 and leftovers == 0 and ratio > best[0]:
            best = (ratio, converted, encoding)
    return best[1], best[2]


def fix_legacy_encoding(text: str) -> tuple[str, str | None]:
    """Convert TCVN3/VNI mojibake to Unicode line by line; return (text, encoding found).

    Lines that already contain Unicode Vietnamese are left alone, so a document whose
    title is Unicode and whose body was typed in .VnTime is repaired where needed.
    """
    text = unicodedata.normalize("NFC", text)
    if not any(c in _LEGACY_MARKERS for c in text):
        return text, None
    counts = {TCVN3: 0, VNI: 0}
    lines = text.split("\n")
    for i, line in enumerate(lines):
        lines[i], encoding = _repair_line(line)
        if encoding:
            counts[encoding] += 1
    if not any(counts.values()):
        return text, None
    return "\n".join(lines), max(counts, key=counts.__getitem__)


# --- normalisation ---------------------------------------------------------------------
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"))
_SHAPE_MARKS = "\u0302\u0306\u031b"  # circumflex, breve, horn: part of the letter
_MARK_RUN_RE = re.compile(r"[\u0300-\u036f]{2,}")
_NEWLINES_RE = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def _order_marks(match: re.Match[str]) -> str:
    # Canonical ordering keeps acute after circumflex as typed; Vietnamese IMEs sometimes
    # put the tone first ("e" + U+0301 + U+0302), which NFC cannot compose into "ế".
    marks = match.group()
    return "".join(sorted(marks, key=lambda m: 0 if m in _SHAPE_MARKS else 1))


def normalize_text(s: str) -> str:
    """Return `s` as tidy NFC text: invisible characters gone, paragraphs kept."""
    s = unicodedata.normalize("NFD", s)
    s = _MARK_RUN_RE.sub(_order_marks, s)
    s = unicodedata.normalize("NFC", s)
    s = s.translate(_INVISIBLE)
    s = _NEWLINES_RE.sub("\n", s)
    s = _CONTROL_RE.sub("", s)
    s = _SPACES_RE.sub(" ", s)
    s = "\n".join(line.strip() for line in s.split("\n"))
    s = _BLANK_LINES_RE.sub("\n\n", s)
    return s.strip()


def prepare_text(s: str) -> tuple[str, str | None]:
    """Repair legacy encodings then normalise; return (text, legacy encoding or None)."""
    s = _NEWLINES_RE.sub("\n", s)
    s, encoding = fix_legacy_encoding(s)
    return normalize_text(s), encoding


def count_letters(s: str) -> int:
    """Number of letters (any script) in `s`."""
    return sum(c.isalpha() for c in s)
