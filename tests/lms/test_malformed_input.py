"""Malformed ids and numbers answer 400/404, a 405 says what is allowed, an over-long chunked body
is a 413, times are RFC 3339 (issue 18, item 8)."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from lms.models import Role
from lms.params import parse_id, parse_int
from lms.timefmt import iso

HUGE = "99999999999999999999"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def test_huge_path_ids_are_404_not_405(client, make_user, api_token):
    """Before: DELETE /api/v1/tags/<huge> answered 405 (the router tried the PATCH rule)."""
    headers = api_token(make_user(Role.admin))
    for method, url in (("delete", f"/api/v1/tags/{HUGE}"), ("patch", f"/api/v1/tags/{HUGE}"),
                        ("get", f"/api/v1/essays/{HUGE}"), ("get", f"/api/v1/jobs/{2**31}")):
        response = getattr(client, method)(url, headers=headers, json={})
        assert response.status_code == 404, (method, url)
        assert response.get_json()["error"]["code"] == "not_found"


def test_405_carries_allow(client, auth, make_user, api_token):
    """Before: no 405 carried Allow (the error handler dropped werkzeug's headers)."""
    response = client.post("/api/v1/me", headers=api_token(make_user(Role.reviewer)), json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    auth.login(make_user(Role.reviewer))
    page = client.delete("/password")
    assert page.status_code == 405 and "GET" in page.headers["Allow"] and "POST" in page.headers["Allow"]


def test_malformed_query_ids_and_numbers(client, auth, make_unit, make_user):
    """Before: roster credentials ?course=<huge> and the audit log ?page=<huge> were 500s."""
    unit = make_unit()
    auth.login(make_user(Role.admin))
    for value in (HUGE, "abc", "-1", "1e3", "٣"):
        assert client.get(f"/roster/credentials/{unit.code}.xlsx?course={value}").status_code == 400, value
    assert client.get(f"/admin/audit?page={HUGE}").status_code == 200
    assert client.get("/admin/audit?page=x").status_code == 200


def test_over_long_chunked_json_body_is_413(app, client, make_unit, make_user, make_course, enroll, api_token):
    """Before: a chunked JSON body over the limit got 400 (read as "not JSON")."""
    unit = make_unit()
    trainee = make_user(Role.trainee, unit=unit)
    course = make_course()
    enroll(trainee, course)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    body = b'{"text": "' + b"a" * (200 * 1024) + b'"}'
    response = client.put(f"/api/v1/courses/{course.id}/topics/{course.topics[0].id}/essay",
                          input_stream=io.BytesIO(body), environ_base={"wsgi.input_terminated": True},
                          headers={**api_token(trainee), "Transfer-Encoding": "chunked",
                                   "Content-Type": "application/json"})
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("year", [1800, 1905, 1960, 2026])
def test_times_are_rfc3339_even_long_ago(year):
    """Before: 1800 gave "+07:06:40", local mean time, which RFC 3339 cannot write."""
    text = iso(dt.datetime(year, 5, 27, 1, 0, tzinfo=dt.timezone.utc))
    assert RFC3339.match(text), text


def test_id_helpers():
    assert [parse_id(v) for v in ("7", " 7 ", 7, "0", 0, HUGE, 2**31, "1_000", "٣", True, None, 1.5, "-3")] == [
        7, 7, 7, None, None, None, None, None, None, None, None, None, None]
    assert parse_int("-3", low=-5, high=5) == -3 and parse_int("6", high=5) is None
