"""The PostgreSQL backend: the same essays as Whoosh, one table shared by every app server."""

from __future__ import annotations

import threading

import pytest

from search import EssayIndex, pg as pg_module
from search.pg import PgEssayIndex, to_tsquery, tsvector_text
from search.query import parse_query
from tests.search.conftest import PG_URL, open_index, pg_connect
from tests.search.test_quality import WORD_QUERIES

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL pass only (TEST_DATABASE_URL)")

# Beyond the quality set: marks, operators, prefixes and filters, each read by both backends.
MORE_QUERIES = [
    "hoà", "hòa", "hoa", "số", "so", "thuỷ", "đổi mới -kinh", "chiến tranh OR hòa bình", "nhà nước NOT pháp",
    '"thế kỷ" AND "chiến tranh"', "tru*", "thà*", "việt*", "a", "1945", "không có từ này xyzw",
    "cách mạng tháng tám năm 1945", "nguoi viet nam",
]


def every_id(index, query: str, **filters) -> list[str]:
    result = index.search(query, per_page=100, exact_total=True, **filters)
    ids = list(result.ids)
    page = 1
    while result.has_more:
        page += 1
        result = index.search(query, per_page=100, page=page, **filters)
        ids += result.ids
    return ids


def test_every_page_together_is_the_whole_set(whoosh_and_pg):
    whoosh, pg = whoosh_and_pg
    for query in ("viet nam", "hoà", "thà*"):
        assert set(every_id(pg, query)) == set(every_id(whoosh, query)), query


@pytest.fixture(scope="module")
def whoosh_and_pg(tmp_path_factory, sample_essays):
    whoosh = EssayIndex(tmp_path_factory.mktemp("whoosh"))
    whoosh.rebuild(sample_essays)
    pg = open_index("postgres", None, schema="search_compare")
    pg.rebuild(sample_essays)
    yield whoosh, pg
    whoosh.close()


@pytest.mark.parametrize("filters", [{}, {"unit_codes": ["u1", "u2"], "course_id": "c1"}])
def test_both_backends_find_exactly_the_same_essays(whoosh_and_pg, filters):
    whoosh, pg = whoosh_and_pg
    fields = ("unit_code", "topic_id")
    for query in WORD_QUERIES + MORE_QUERIES:
        w = whoosh.search(query, per_page=100, exact_total=True, **filters)
        p = pg.search(query, per_page=100, exact_total=True, **filters)
        assert (p.total, p.phrase_total, p.is_phrase) == (w.total, w.phrase_total, w.is_phrase), query
        assert pg.totals(query, **filters) == whoosh.totals(query, **filters), query
        if not w.has_more:
            assert set(p.ids) == set(w.ids), query
        assert pg.count_by_fields(fields, query, **filters) == whoosh.count_by_fields(fields, query, **filters), query


def test_stages_keep_phrase_holders_first_in_both(whoosh_and_pg):
    whoosh, pg = whoosh_and_pg
    for query in ("chien tranh the gioi", "việt nam", "cách mạng tháng tám"):
        parsed = parse_query(query)
        phrase = set(every_id(pg, '"' + query + '"'))
        assert phrase, query
        first = pg.search(query, per_page=100).ids[: len(phrase)]
        assert set(first) <= phrase and len(first) == min(100, len(phrase)) and len(parsed.stages) > 1


def test_terms_are_our_analyzer_s_not_postgresql_s():
    vector = tsvector_text("Hòa bình, hoà BÌNH; thuỷ so")
    assert vector == (
        "'hoa':1,3 'binh':2,4 'thuy':5 'so':6 '=hoà' '=bình' '=thuỷ' 'hoa binh':1,3 'binh hoa':2 'binh thuy':4 "
        "'thuy so':5 '=hoà bình':1,3 '=bình hoà':2 '=bình thuỷ':4 '=thuỷ so':5"
    )
    assert to_tsquery(parse_query("chuyen doi so").stages[0]) == "('chuyen doi' <-> 'doi so')"
    assert to_tsquery(parse_query("chuyển đổi số").stages[0]) == "('=chuyển đổi' <-> '=đổi số')"


def test_a_lexeme_with_a_quote_or_backslash_is_escaped(index_pg):
    index_pg.upsert_many([{"essay_id": "q", "text": "it's a back\\slash"}])
    assert index_pg.search("it s").ids == ["q"]


@pytest.fixture
def index_pg(tmp_path):
    return open_index("postgres", tmp_path)


def test_failed_rebuild_keeps_the_live_table(index_pg, make_essay):
    index_pg.upsert_many([make_essay("kept", "Đà Nẵng")])

    def failing():
        yield make_essay("new", "Hà Nội")
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index_pg.rebuild(failing())
    assert index_pg.all_ids() == {"kept"}
    assert index_pg.search("da nang").ids == ["kept"]


def test_write_in_the_caller_s_transaction_is_seen_by_all_on_commit(index_pg, make_essay):
    other_server = PgEssayIndex(pg_connect, schema=index_pg.schema)
    with pg_connect() as conn:
        with conn.cursor() as cur:
            assert index_pg.write_many(cur, [make_essay("t", "Cải cách hành chính")]) == 1
            assert other_server.search("cai cach").ids == []  # not committed yet
    assert other_server.search("cai cach").ids == ["t"]


def test_processes_starting_at_once_create_the_table_once(tmp_path):
    errors = []

    def start():
        try:
            PgEssayIndex(pg_connect, schema="search_race").ensure_schema()
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    with pg_connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS search_race CASCADE")
    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_pages_beyond_the_first_ranked_block_are_slices_of_one_order(whoosh_and_pg):
    whoosh, pg = whoosh_and_pg
    query = "và"  # in nearly every essay: more matches than GIN ranks in one block
    total = whoosh.search(query, exact_total=True).total
    ids = every_id(pg, query)
    assert total > 2 * pg_module._BLOCK and len(ids) == len(set(ids)) == total
    assert pg.search(query, per_page=20, page=2).ids == ids[20:40]
    result = pg.search(query)
    assert result.has_more and not result.total_is_exact and result.total == 21
