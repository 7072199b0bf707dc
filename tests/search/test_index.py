import re
import unicodedata

import pytest

from search import EssayIndex, fold

TEXT_A = "Chuyển đổi số trong cải cách hành chính ở Hà Nội. Người dân hoà mình với thủy điện."
TEXT_B = "Đổi mới giáo dục: số hóa tài liệu, chuyển giao công nghệ và sức khỏe cộng đồng."
TEXT_C = "Bảo tồn di sản văn hoá ở Đà Nẵng, quý trọng truyền thống."


@pytest.fixture
def small_index(index, make_essay):
    index.upsert_many(
        [
            make_essay("a", TEXT_A, unit_code="u1", course_id="c1", topic_id="t1", themes=["so-hoa"]),
            make_essay("b", TEXT_B, unit_code="u2", course_id="c1", topic_id="t2"),
            make_essay("c", unicodedata.normalize("NFD", TEXT_C), unit_code="u3", course_id="c2"),
        ]
    )
    return index


def ids(result):
    return set(result.ids)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("chuyen doi so", {"a", "b"}),  # no marks: folded field; b has the words apart
        ("CHUYỂN ĐỔI SỐ", {"a", "b"}),  # upper case
        ("hòa mình", {"a"}),  # old tone placement finds new-style text
        ("hoà", {"a"}),  # marks are honoured: not "hóa" (b) nor "hoá" (c)
        ("hoa", {"a", "b", "c"}),  # no marks: every marked form
        ("thuỷ điện", {"a"}),  # new placement finds "thủy"
        ("số hoá", {"b"}),  # a has "số" and "hoà", another word
        ("so hoa", {"a", "b"}),  # a has "số" and "hoà" apart
        ("sức khoẻ", {"b"}),
        ("da nang", {"c"}),  # đ → d
        ("Đà Nẵng", {"c"}),  # the indexed text was NFD
        ("văn hóa", {"c"}),
        ("quý", {"c"}),
        ("qúy", {"c"}),
        ("so", {"a", "b"}),  # "số" and "số hóa" fold to "so"
    ],
)
def test_queries_find_text_in_any_form(small_index, query, expected):
    assert ids(small_index.search(query)) == expected


@pytest.mark.parametrize("query, first", [("chuyen doi so", "a"), ("CHUYỂN ĐỔI SỐ", "a"), ("so hoa", "b"), ("hoà", "a")])
def test_the_phrase_holder_comes_first(small_index, query, first):
    assert small_index.search(query).ids[0] == first


def test_nfd_query_matches_like_nfc(small_index):
    assert ids(small_index.search(unicodedata.normalize("NFD", "cải cách hành chính"))) == {"a"}


def test_phrase_hits_rank_before_scattered_words(index, make_essay):
    index.upsert_many(
        [
            make_essay("scattered", "Số liệu chuyển về, đổi lại cách làm. " * 5),
            make_essay("phrase", "Chuyển đổi số là ưu tiên."),
        ]
    )
    result = index.search("chuyển đổi số")
    assert result.ids == ["phrase", "scattered"]
    assert result.is_phrase
    assert index.search('"chuyển đổi số"').ids == ["phrase"]


def test_single_word_is_not_a_phrase(small_index):
    assert not small_index.search("chuyển").is_phrase


@pytest.mark.parametrize(
    "query, expected",
    [
        ("thủy điện OR Đà Nẵng", {"a", "c"}),
        ("số NOT giáo", {"a"}),
        ("số -giáo", {"a"}),
        ("chuy*", {"a", "b"}),
        ("truyền thố*", {"c"}),
        ('"hành chính" AND "hà nội"', {"a"}),
        ("hành chính or", set()),  # lower-case "or" is a word, required like the others
    ],
)
def test_operators(small_index, query, expected):
    assert ids(small_index.search(query)) == expected


def test_excluded_word_removes_the_first_match_too(index, make_essay):
    # Whoosh's AndNot only checked the first match when both lists began at the same essay.
    index.upsert_many(
        [
            make_essay("only-war", "chiến tranh"),
            make_essay("history-of-war", "lịch sử chiến tranh"),
            make_essay("history", "lịch sử văn hoá"),
        ]
    )
    assert ids(index.search("lịch sử -chiến")) == {"history"}
    assert index.count_by("unit_code", "lịch sử -chiến") == {"u1": 1}


@pytest.mark.parametrize("query", ['"', '"chuyển đổi', "NOT", "NOT số", "*", "c*", "OR OR", "()", "", "   ", "AND", '"" OR'])
def test_malformed_queries_never_raise(small_index, query):
    result = small_index.search(query)
    assert isinstance(result.ids, list)


def test_unbalanced_quote_reads_as_phrase(small_index):
    assert ids(small_index.search('"chuyển đổi')) == {"a"}


def test_filters_exclude_other_docs_including_counts(small_index):
    assert ids(small_index.search("số", unit_codes=["u1"])) == {"a"}
    assert ids(small_index.search("số", unit_codes={"u1", "u2"})) == {"a", "b"}
    assert ids(small_index.search("số", unit_codes=[])) == set()
    assert small_index.search("số", unit_codes=["u2"], exact_total=True).total == 1
    assert small_index.search("số", unit_codes=["u2"]).total == 1
    assert ids(small_index.search("số", course_id="c1", topic_id="t2")) == {"b"}
    assert ids(small_index.search("số", themes=["so-hoa"])) == {"a"}
    assert ids(small_index.search("đà nẵng", course_id="c1")) == set()
    assert small_index.count_by("unit_code", "số", unit_codes=["u1"]) == {"u1": 1}
    assert small_index.count_by("course_id", "số") == {"c1": 2}


def test_date_sort_puts_newest_first(index, make_essay):
    from datetime import datetime

    index.upsert_many(
        [make_essay(f"e{d}", "hà nội mùa thu", submitted_at=datetime(2025, 1, d)) for d in (3, 1, 2)]
    )
    assert index.search("ha noi", sort="date").ids == ["e3", "e2", "e1"]


def test_paging_and_totals(index, make_essay):
    index.upsert_many([make_essay(f"e{i:02d}", f"bài viết số {i} về hà nội") for i in range(25)])
    first = index.search("ha noi", per_page=10)
    third = index.search("ha noi", per_page=10, page=3)
    assert len(first.ids) == 10 and first.has_more
    assert len(third.ids) == 5 and not third.has_more
    assert third.total == 25 and third.total_is_exact
    assert not set(first.ids) & set(third.ids)
    assert index.search("ha noi", per_page=10, exact_total=True).total == 25


def test_updated_essay_is_found_only_by_its_new_text(small_index, make_essay):
    small_index.upsert_many([make_essay("a", "Nông nghiệp công nghệ cao ở Lâm Đồng.")])
    assert "a" not in ids(small_index.search("chuyển đổi số"))
    assert ids(small_index.search("nong nghiep")) == {"a"}
    assert small_index.doc_count() == 3


def test_deleted_essays_disappear_from_hits_counts_and_ids(small_index):
    assert small_index.delete_many(["b", "missing"]) == 1
    assert ids(small_index.search("số")) == {"a"}
    assert small_index.count_by("unit_code", "số") == {"u1": 1}
    assert small_index.all_ids() == {"a", "c"}
    assert small_index.doc_count() == 2


def test_another_process_view_sees_commits_and_rebuilds(small_index, make_essay, reopen):
    reader = reopen(small_index)  # as another web process (or app server) would
    assert ids(reader.search("da nang")) == {"c"}
    small_index.upsert_many([make_essay("d", "Đà Nẵng về đêm")])
    assert ids(reader.search("da nang")) == {"c", "d"}
    small_index.rebuild([make_essay("z", "Chỉ còn Đà Nẵng")])
    assert ids(reader.search("da nang")) == {"z"}
    assert reader.all_ids() == {"z"}
    reader.close()


def test_rebuild_replaces_everything_and_reports_progress(index, make_essay):
    index.upsert_many([make_essay("old", TEXT_C)])
    seen = []
    assert index.rebuild([make_essay("a", TEXT_A), make_essay("b", TEXT_B)], progress=seen.append) == 2
    assert seen[-1] == 2
    assert ids(index.search("cai cach")) == {"a"}
    assert index.all_ids() == {"a", "b"}
    index.upsert_many([make_essay("c", TEXT_C)])
    assert ids(index.search("da nang")) == {"c"}


def test_deleted_index_folder_is_recreated_and_rebuilt(tmp_path, make_essay):
    import shutil

    path = tmp_path / "ix"
    EssayIndex(path).upsert_many([make_essay("a", TEXT_A)])
    shutil.rmtree(path)
    index = EssayIndex(path)
    assert index.doc_count() == 0
    seen = []
    assert index.rebuild([make_essay("a", TEXT_A), make_essay("b", TEXT_B)], progress=seen.append) == 2
    assert seen[-1] == 2
    assert ids(index.search("cai cach")) == {"a"}
    # Rebuilding again keeps only the live and the previous generation.
    index.rebuild([make_essay("b", TEXT_B)])
    index.rebuild([make_essay("b", TEXT_B)])
    assert len(list(path.glob("gen-*"))) == 2


def test_snippet_marks_original_accented_words(small_index):
    html = small_index.snippet("a", "chuyen doi so ha noi")
    assert "<mark>Chuyển đổi số</mark>" in html
    assert "<mark>Hà Nội</mark>" in html


def test_snippet_of_nfd_text_and_escaping():
    from search.highlight import make_snippet
    from search.query import parse_query

    text = unicodedata.normalize("NFD", "<b>Hòa</b> & hoà bình")
    html = make_snippet(text, parse_query("hoa binh"))
    # The words stand in a row once: only that is marked, not the lone "Hòa".
    assert html == "&lt;b&gt;Hòa&lt;/b&gt; &amp; <mark>hoà bình</mark>"
    assert make_snippet(text, parse_query("hoa")) == "&lt;b&gt;<mark>Hòa</mark>&lt;/b&gt; &amp; <mark>hoà</mark> bình"


def test_snippet_of_plain_text_and_of_a_page(small_index):
    assert small_index.snippet("Thủy điện Hòa Bình", "thuy dien") == "<mark>Thủy điện</mark> Hòa Bình"
    assert set(small_index.snippets(["a", "c", "nope"], "đà nẵng")) == {"a", "c"}


def test_unit_filter_on_real_text_matches_a_scan(sample_index, sample_essays):
    def has(pattern, essay):
        return re.search(r"(?<![^\W_])" + pattern + r"(?![^\W_])", fold(essay["text"]))

    in_u1 = [e for e in sample_essays if e["unit_code"] == "u1"]
    phrase = {e["essay_id"] for e in in_u1 if has(r"viet[\W_]+nam", e)}
    both = {e["essay_id"] for e in in_u1 if has("viet", e) and has("nam", e)}
    result = sample_index.search("viet nam", unit_codes=["u1"], per_page=100, exact_total=True)
    assert set(result.ids) == both
    assert set(result.ids[: len(phrase)]) == phrase  # phrase holders first
    assert result.total == len(both)
    counts = sample_index.count_by("unit_code", "viet nam", unit_codes=["u1", "u2"])
    assert set(counts) == {"u1", "u2"} and counts["u1"] == len(both)
    assert sample_index.search("viet nam", unit_codes=["u1"], per_page=5).total <= len(both)


def test_threads_share_one_index_while_it_is_written(index, make_essay):
    import threading

    index.upsert_many([make_essay("base", "Hà Nội mùa thu")])
    errors = []

    def read():
        try:
            for _ in range(30):
                assert "base" in index.search("ha noi", per_page=100).ids
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(5):
        index.upsert_many([make_essay(f"w{i}", "Hà Nội về đêm")])
    for t in threads:
        t.join()
    assert errors == []
    assert len(index.search("ha noi", per_page=100).ids) == 6


MARKS_TEXTS = {
    "so": "Sở Tư pháp và sổ hộ khẩu.",  # "sở", "sổ" but never "số"
    "digital": "Chuyển đổi số là ưu tiên của thành phố.",
    "apart": "Số liệu được chuyển về; đổi mới cách làm.",
    "chuyen": "Chuyên đề đổi sổ sách.",  # "chuyên", not "chuyển"
    "hoa": "Hòa bình và thủy lợi.",  # old tone placement, capital letter
}


@pytest.fixture
def marks_index(index, make_essay):
    index.upsert_many([make_essay(k, v) for k, v in MARKS_TEXTS.items()])
    return index


@pytest.mark.parametrize(
    "query, expected",
    [
        ("số", {"digital", "apart"}),  # not "sở", "sổ"
        ("so", {"so", "digital", "apart", "chuyen"}),  # every marked form
        ("chuyển", {"digital", "apart"}),  # not "chuyên"
        ("hoà", {"hoa"}),  # tone placement
        ("HOÀ BÌNH", {"hoa"}),  # case
        (unicodedata.normalize("NFD", "thuỷ lợi"), {"hoa"}),  # NFD input, the other placement
        ('"chuyển đổi số"', {"digital"}),
        ('"chuyen doi so"', {"digital"}),
        ('"đổi số"', {"digital"}),  # not "đổi sổ"
        ('"doi so"', {"digital", "chuyen"}),
        ("chuyển số", {"digital", "apart"}),
        ("chuyển sở", set()),
    ],
)
def test_marks_are_honoured_word_by_word(marks_index, query, expected):
    got = marks_index.search(query, exact_total=True)
    assert ids(got) == expected
    assert got.total == len(expected)


def test_phrase_total_counts_the_words_in_a_row(marks_index):
    result = marks_index.search("chuyển đổi số", exact_total=True)
    assert (result.total, result.phrase_total) == (2, 1)
    assert result.ids == ["digital", "apart"]
    assert marks_index.totals("chuyển đổi số") == (2, 1)
    assert marks_index.totals("chuyen doi so") == (3, 1)  # "Chuyên đề đổi sổ" holds the words apart
    assert marks_index.totals("số") == (2, 2)  # one word: in a row by itself


def test_unmarked_query_keeps_operators():
    from search.query import unmarked_query

    assert unmarked_query('Chuyển đổi "số hoá" NOT sở OR Hà*') == 'chuyen doi "so hoa" NOT so OR ha*'


def test_highlights_only_what_matched():
    from search.highlight import highlight_all

    text = "Chuyên đề: chuyển đổi số ở Sở Nội vụ."
    assert highlight_all(text, "chuyển số") == "Chuyên đề: <mark>chuyển</mark> đổi <mark>số</mark> ở Sở Nội vụ."
    assert highlight_all(text, '"đổi số"') == "Chuyên đề: chuyển <mark>đổi số</mark> ở Sở Nội vụ."
    assert highlight_all(text, "so") == "Chuyên đề: chuyển đổi <mark>số</mark> ở <mark>Sở</mark> Nội vụ."


def test_an_index_built_before_exact_bigrams_still_answers_phrases(tmp_path, make_essay):
    from whoosh.fields import Schema

    from search import schema as schema_module

    old = schema_module.build_schema()
    del_fields = Schema(**{n: f for n, f in old.items() if n != "exact_bigrams"})
    storage_index = EssayIndex(tmp_path / "ix")
    storage_index.close()
    # Recreate the live generation with the old schema.
    import shutil

    from whoosh.filedb.filestore import FileStorage

    gen = next((tmp_path / "ix").glob("gen-*"))
    shutil.rmtree(gen)
    st = FileStorage(str(gen))
    st.create()
    st.create_index(del_fields).close()
    with EssayIndex(tmp_path / "ix") as ix:
        ix.upsert_many([make_essay("digital", MARKS_TEXTS["digital"]), make_essay("chuyen", MARKS_TEXTS["chuyen"])])
        assert ids(ix.search('"chuyển đổi số"')) == {"digital"}
