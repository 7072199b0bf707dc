"""Search cost bounded (issue 18, item 4): repeats collapsed, few prefixes of at least 3 letters,
a per-user rate counted in the database (every process), a time budget per query on both backends."""
from __future__ import annotations

import datetime as dt
import multiprocessing

import pytest
from whoosh import query as wq

from essays import indexing
from essays.operations import submit_essay
from lms import create_app
from lms.db import db, utcnow
from lms.models import Role
from lms.throttle import hit_rate
from search.query import MAX_PREFIXES, MAX_SYLLABLES, SearchTimeout, parse_query, query_notes


def _leaves(q) -> list:
    return [q] if not hasattr(q, "subqueries") or not q.subqueries else [x for s in q.subqueries for x in _leaves(s)]


def test_the_expensive_queries_of_the_report_are_small():
    """Before: "ch* " × 125 became an And of 125 prefix expansions (3 s, the index lock held)."""
    parsed = parse_query("ch* " * 125)
    # Two letters expand to too much: read as the word typed, once, and the user is told.
    assert parsed.loose == wq.Term("folded", "ch")
    assert query_notes(parsed) == ["Tiền tố cần ít nhất 3 chữ cái: «ch*» được tìm như một từ."]
    assert parse_query("chuy*").loose == wq.Prefix("folded", "chuy") and not query_notes(parse_query("chuy*"))
    distinct = parse_query(" ".join(f"c{a}{b}*" for a in "abcdefgh" for b in "hklmnprt"))
    assert sum(isinstance(x, wq.Prefix) for x in _leaves(distinct.loose)) == MAX_PREFIXES
    assert "chỉ dùng 32 âm tiết và 3 tiền tố đầu tiên" in query_notes(distinct)[0]
    assert len(_leaves(parse_query("chuyển đổi số " * 60).loose)) <= MAX_SYLLABLES
    assert parse_query("kinh tế OR kinh tế OR kinh tế").loose == parse_query("kinh tế").loose


def test_a_long_run_keeps_its_first_words():
    assert parse_query("ch " * 125).loose == wq.Term("folded", "ch")
    assert parse_query("văn hoá " + "x " * 100).loose is not None


def test_rate_limit_counts_per_key_and_forgets(app):
    t0 = utcnow()
    at = [t0 + dt.timedelta(seconds=s) for s in (0, 1, 2, 3, 10.5)]
    assert [hit_rate("a", 3, 10, now=t) for t in at[:3]] == [None, None, None]
    assert hit_rate("a", 3, 10, now=at[3]) == pytest.approx(7) and hit_rate("b", 3, 10, now=at[3]) is None
    assert hit_rate("a", 3, 10, now=at[4]) is None


def _search_in_process(config: dict, token: str, n: int, out) -> None:
    app = create_app(config)
    client = app.test_client()
    out.put([client.get("/api/v1/search?q=kinh", headers={"Authorization": f"Bearer {token}"}).status_code
             for _ in range(n)])


def test_the_search_rate_holds_across_processes(app, app_config, make_user, api_token):
    """Before: counted in each process's memory, so 3 gunicorn workers let 3× the limit through."""
    headers = api_token(make_user(Role.reviewer))
    config = {**app_config, "SEARCH_RATE_LIMIT": (6, 60)}
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_search_in_process, args=(config, headers["Authorization"][7:], 4, out))
             for _ in range(3)]
    for p in procs:
        p.start()
    codes = [code for _ in procs for code in out.get(timeout=120)]
    for p in procs:
        p.join(60)
    assert sorted(codes) == [200] * 6 + [429] * 6


def test_searching_too_fast_is_429_with_retry_after(app, client, auth, make_user, api_token):
    app.config["SEARCH_RATE_LIMIT"] = (3, 60)
    reviewer = make_user(Role.reviewer)
    headers = api_token(reviewer)
    answers = [client.get("/api/v1/search?q=kinh+t%E1%BA%BF", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert answers[-1].get_json()["error"]["code"] == "too_many_requests"
    auth.login(reviewer)
    page = client.get("/search?q=kinh")
    assert page.status_code == 429 and "tìm kiếm quá nhanh" in page.get_data(as_text=True)


def test_unknown_state_is_refused(client, make_user, api_token):
    """Before: an unknown state was accepted silently (and matched nothing)."""
    response = client.get("/api/v1/search?q=x&state=bogus", headers=api_token(make_user(Role.reviewer)))
    assert response.status_code == 422


@pytest.fixture
def indexed(app, make_unit, make_user, make_course, enroll):
    """A few essays, indexed, that the expensive queries of the issue match."""
    course, unit = make_course(), make_unit(code="31135")
    for text in ("Chuyển đổi số ở phường, chính quyền số.", "Chăm lo đời sống nhân dân.",
                 "Cải cách hành chính, chữ ký số."):
        trainee = make_user(Role.trainee, unit=unit)
        enroll(trainee, course)
        submit_essay(trainee, course.topics[0], data=None, filename=None, text=text, uploaded_by=trainee)
    db.session.commit()
    indexing.drain_all(app)
    return course


def test_the_issues_queries_answer_quickly_and_say_what_they_did(app, client, indexed, make_user, api_token):
    headers = api_token(make_user(Role.reviewer))
    for q in ("ch* " * 125, "chuyển* " * 125, " ".join(f"c{a}{b}*" for a in "aeiou" for b in "hmnt"), "số " * 300):
        response = client.get("/api/v1/search", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, q
        assert response.json["timed_out"] is False and response.json["total_is_exact"] is True
    notes = client.get("/api/v1/search", query_string={"q": "ch* " * 125}, headers=headers).json["notes"]
    assert notes == ["Tiền tố cần ít nhất 3 chữ cái: «ch*» được tìm như một từ."]


def test_out_of_time_answers_what_was_found_with_a_note(app, client, auth, indexed, make_user, api_token):
    """Whoosh: the hits collected within the budget, flagged; never a 500."""
    if app.config["SEARCH_BACKEND"] != "whoosh":
        pytest.skip("Whoosh's collector; PostgreSQL's statement_timeout is the next test")
    reviewer = make_user(Role.reviewer)
    indexing.get_index(app).time_budget = 0.0
    answer = client.get("/api/v1/search?q=s%E1%BB%91", headers=api_token(reviewer))
    assert answer.status_code == 200
    assert answer.json["timed_out"] is True and answer.json["total_is_exact"] is False
    assert "tốn quá nhiều thời gian" in answer.json["notes"][-1]
    auth.login(reviewer)
    page = client.get("/search?q=s%E1%BB%91")
    assert page.status_code == 200 and "tốn quá nhiều thời gian" in page.get_data(as_text=True)


def test_postgresql_cancels_a_search_statement_over_budget(app):
    """PostgreSQL: statement_timeout on every search statement; the cancel becomes SearchTimeout."""
    index = indexing.get_index(app)
    if app.config["SEARCH_BACKEND"] != "postgres":
        pytest.skip("PostgreSQL search backend only")
    index.time_budget = 0.05
    with pytest.raises(SearchTimeout):
        with index._cursor(timed=True) as cur:
            cur.execute("SELECT pg_sleep(1)")
    with index._cursor() as cur:  # indexing and `search check` are not cut short
        cur.execute("SELECT pg_sleep(0.1)")
