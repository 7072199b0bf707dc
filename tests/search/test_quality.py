"""Search quality over 360 real Vietnamese articles, judged by a brute-force scan.

The expected essays for a query are found without the index, word by word as typed: a word
without marks is compared with each syllable folded by unicodedata (marks off, đ→d, lower case);
a word with marks with each syllable's letters and marks, the tone mark taken out of the letters
(so "hoà" and "hòa" are equal, "hóa" is not). A run or phrase is looked for in a row.
"""

import re
import unicodedata

import pytest

TONES = "\u0300\u0301\u0303\u0309\u0323"
# Every query must bring all its phrase holders into the top 10 (or all of them if fewer).
WORD_QUERIES = [
    "việt nam", "viet nam", "VIỆT NAM", "hà nội", "ha noi", "chiến tranh", "kinh tế", "kinh te",
    "lịch sử", "thành phố", "chính phủ", "dân số", "dan so", "ngôn ngữ", "khoa học", "giáo dục",
    "giao duc", "tôn giáo", "phát triển", "nông nghiệp", "văn hóa", "văn hoá", "van hoa",
    "hóa học", "thủy điện", "thuỷ điện", "thuy dien", "chiến tranh thế giới",
    "chien tranh the gioi", "công nghệ", "đại học", "dai hoc", "hòa bình", "hoà bình",
    "thế kỷ", "nhà nước", "quốc hội", "sản xuất", "cách mạng", "độc lập", "doc lap",
    "động vật", "thực vật", "bóng đá", "bong da", "âm nhạc", "trung quốc", "nhật bản",
    "hoa kỳ", "kiến trúc", "thủ đô", "sông hồng", "đồng bằng", "khí hậu", "địa lý",
    "người việt", "tiếng việt", "pháp luật", "kinh doanh", "công ty", "máy tính", "phần mềm",
    "internet", "đổi mới", "năm 1945", "khoẻ", "quý", "qúy", '"việt nam"', "chiến*",
]

# The article of that title should come first.
TITLE_QUERIES = [
    ("chùa một cột", "chùa một cột"),
    ("chua mot cot", "chùa một cột"),
    ("chiến lược chuỗi ngọc trai", "chiến lược chuỗi ngọc trai"),
    ("chinh sach luu thong tien te", "chính sách lưu thông tiền tệ"),
    ("bình nguyên hoa bắc", "bình nguyên hoa bắc"),
    ("chuột hamster", "chuột hamster"),
    ("bóng chuyền bãi biển", "bóng chuyền bãi biển"),
    ("advanced packaging tool", "advanced packaging tool"),
    ("bo mach chu", "bo mạch chủ"),
    ("biển baltic", "biển baltic"),
]


def brute_fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def signature(word: str) -> tuple[str, str]:
    """Letters with their vowel marks, and the tone mark apart: where the tone sits does not matter."""
    nfd = unicodedata.normalize("NFD", word.lower())
    return unicodedata.normalize("NFC", "".join(c for c in nfd if c not in TONES)), "".join(c for c in nfd if c in TONES)


def brute_tokens(text: str) -> list[tuple[str, tuple[str, str]]]:
    return [(brute_fold(w), signature(w)) for w in re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text))]


def word_test(word: str, prefix: bool = False):
    folded = brute_fold(word)
    if folded == unicodedata.normalize("NFC", word).lower():
        return (lambda tok: tok[0].startswith(folded)) if prefix else (lambda tok: tok[0] == folded)
    sig = signature(word)
    if prefix:
        return lambda tok: tok[1][0].startswith(sig[0]) and tok[1][1] == sig[1]
    return lambda tok: tok[1] == sig


def holds(tokens, query: str, in_a_row: bool) -> bool:
    """Whether the tokens hold the query's words as typed (in a row, or each anywhere)."""
    prefix = query.endswith("*")
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFC", query.strip('"*')))
    tests = [word_test(w, prefix and i == len(words) - 1) for i, w in enumerate(words)]
    if in_a_row or query.startswith('"'):
        n = len(tests)
        return any(all(t(tokens[i + k]) for k, t in enumerate(tests)) for i in range(len(tokens) - n + 1))
    return all(any(t(tok) for tok in tokens) for t in tests)


@pytest.fixture(scope="module")
def folded_texts(sample_essays):
    return {e["essay_id"]: brute_tokens(e["text"]) for e in sample_essays}


def rank_metrics(hits: list[str], relevant: set[str]) -> tuple[float, float]:
    top = hits[:10]
    recall = len(set(top) & relevant) / min(10, len(relevant))
    rr = next((1 / (i + 1) for i, h in enumerate(top) if h in relevant), 0.0)
    return recall, rr


def test_word_and_phrase_queries_find_every_holder(sample_index, folded_texts, capsys):
    assert len(WORD_QUERIES) >= 40
    recalls, rrs, misses = [], [], []
    for query in WORD_QUERIES:
        relevant = {eid for eid, toks in folded_texts.items() if holds(toks, query, in_a_row=True)}
        assert relevant, f"{query!r} has no holder in the sample: pick another query"
        result = sample_index.search(query, per_page=10)
        recall, rr = rank_metrics(result.ids, relevant)
        recalls.append(recall)
        rrs.append(rr)
        if recall < 1.0:
            misses.append((query, recall, len(relevant)))
    with capsys.disabled():
        print(
            f"\nsearch quality: {len(WORD_QUERIES)} word/phrase queries over {len(folded_texts)} "
            f"articles: recall@10 {sum(recalls) / len(recalls):.3f}, MRR {sum(rrs) / len(rrs):.3f}"
        )
    assert misses == []


def test_title_queries_put_the_article_first(sample_index, sample_essays, capsys):
    by_title = {e["text"].split("\n", 1)[0]: e["essay_id"] for e in sample_essays}
    rrs = []
    for query, title in TITLE_QUERIES:
        hits = sample_index.search(query, per_page=10).ids
        rrs.append(rank_metrics(hits, {by_title[title]})[1])
    mrr = sum(rrs) / len(rrs)
    with capsys.disabled():
        print(f"\nsearch quality: {len(TITLE_QUERIES)} title queries: MRR {mrr:.3f}")
    assert mrr >= 0.7


@pytest.mark.parametrize("query", ["thủy điện", "thuy dien", "hòa bình", "văn hoá", "kinh tế", "chiến tranh thế giới",
                                   "hoa", "hoà", "số", "so", '"việt nam"', "quý", "qúy"])
def test_totals_count_what_was_typed(sample_index, folded_texts, query):
    """total: every word as typed anywhere; phrase_total: the words in a row; a brute-force scan agrees."""
    result = sample_index.search(query, exact_total=True)
    every = {eid for eid, toks in folded_texts.items() if holds(toks, query, in_a_row=False)}
    in_row = {eid for eid, toks in folded_texts.items() if holds(toks, query, in_a_row=True)}
    assert (result.total, result.phrase_total) == (len(every), len(in_row))
    assert sample_index.totals(query) == (len(every), len(in_row))
    assert sum(sample_index.count_by("unit_code", query).values()) == len(every)
