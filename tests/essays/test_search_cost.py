"""Search cost bounded (issue 18, item 4): repeats collapsed, few prefixes, a per-user rate."""
from __future__ import annotations

from whoosh import query as wq

from lms.models import Role
from lms.throttle import RateLimit
from search.query import MAX_PREFIXES, MAX_SYLLABLES, parse_query


def _leaves(q) -> list:
    return [q] if not hasattr(q, "subqueries") or not q.subqueries else [x for s in q.subqueries for x in _leaves(s)]


def test_the_expensive_queries_of_the_report_are_small():
    """Before: "ch* " × 125 became an And of 125 prefix expansions (3 s, the index lock held)."""
    assert parse_query("ch* " * 125).loose == wq.Prefix("folded", "ch")
    distinct = parse_query(" ".join(f"c{a}{b}*" for a in "abcdefgh" for b in "hklmnprt"))
    assert sum(isinstance(x, wq.Prefix) for x in _leaves(distinct.loose)) == MAX_PREFIXES
    assert len(_leaves(parse_query("chuyển đổi số " * 60).loose)) <= MAX_SYLLABLES
    assert parse_query("kinh tế OR kinh tế OR kinh tế").loose == parse_query("kinh tế").loose


def test_a_long_run_keeps_its_first_words():
    assert parse_query("ch " * 125).loose == wq.Term("folded", "ch")
    assert parse_query("văn hoá " + "x " * 100).loose is not None


def test_rate_limit_counts_per_key_and_forgets():
    limit = RateLimit(3, 10)
    assert [limit.hit("a", now=t) for t in (0, 1, 2)] == [None, None, None]
    assert limit.hit("a", now=3) == 7 and limit.hit("b", now=3) is None
    assert limit.hit("a", now=10.5) is None


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
