import unicodedata

import pytest

from search import canonical_tones, fold, normalize_text
from search.analysis import ExactAnalyzer, FoldedAnalyzer, syllables


@pytest.mark.parametrize(
    "old, new",
    [
        ("hòa", "hoà"),
        ("thủy", "thuỷ"),
        ("qúy", "quý"),
        ("hóa", "hoá"),
        ("khỏe", "khoẻ"),
        ("gìa", "già"),
        ("Hòa Bình", "Hoà Bình"),
        ("THỦY", "THUỶ"),
    ],
)
def test_old_and_new_tone_placement_are_one_form(old, new):
    assert canonical_tones(old) == canonical_tones(new) == new
    assert normalize_text(old) == normalize_text(new) == new.lower()


@pytest.mark.parametrize(
    "word",
    ["người", "toán", "toàn", "ngoài", "khuỷu", "rượu", "mía", "của", "quả", "giữ", "gì", "huỳnh", "thuở"],
)
def test_syllables_already_canonical_stay_as_they_are(word):
    assert canonical_tones(word) == word


def test_foreign_words_are_left_alone():
    assert canonical_tones("résumé café Microsoft") == "résumé café Microsoft"


def test_fold_removes_every_mark_and_d_stroke():
    assert fold("Chuyển đổi số ĐÀ NẴNG") == "chuyen doi so da nang"
    assert fold(unicodedata.normalize("NFD", "Đường phố")) == "duong pho"


def test_nfd_text_tokenizes_like_nfc():
    text = "Cải cách hành chính ở Thừa Thiên Huế, hoà bình."
    nfd = unicodedata.normalize("NFD", text)
    for analyzer in (ExactAnalyzer(), FoldedAnalyzer()):
        assert [t.text for t in analyzer(nfd)] == [t.text for t in analyzer(text)]
    assert [t.text for t in ExactAnalyzer()(nfd)][-2:] == ["hoà", "bình"]


def test_tokens_carry_positions_and_nfc_offsets():
    text = "Chuyển đổi số, năm 2025."
    tokens = [(t.text, t.pos, t.startchar, t.endchar) for t in FoldedAnalyzer()(text, positions=True, chars=True)]
    assert tokens == [
        ("chuyen", 0, 0, 6),
        ("doi", 1, 7, 10),
        ("so", 2, 11, 13),
        ("nam", 3, 15, 18),
        ("2025", 4, 19, 23),
    ]
    assert [text[s:e] for _, _, s, e in syllables(text)][:3] == ["Chuyển", "đổi", "số"]
