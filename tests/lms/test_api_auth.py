"""One authentication rule for /api/v1: a valid bearer token, or the session with CSRF on writes
(issue 18, item 5); anything else is a 401."""
from __future__ import annotations

from sqlalchemy import func, select

from essays.models import EssayVersion
from lms.db import db
from lms.models import Role


def _essay_url(course) -> str:
    return f"/api/v1/courses/{course.id}/topics/{course.topics[0].id}/essay"


def _versions() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(EssayVersion))


def test_a_bogus_bearer_header_does_not_skip_csrf_for_a_session(client, auth, make_unit, make_user, make_course,
                                                                 enroll):
    """Before: session cookie + `Authorization: Bearer x` wrote without CSRF token."""
    unit = make_unit()
    trainee = make_user(Role.trainee, unit=unit)
    course = make_course()
    enroll(trainee, course)
    auth.login(trainee)
    for header in ("Bearer x", "Bearer ", "Basic dXNlcjpwYXNz", "bearer " + "a" * 5000):
        response = client.put(_essay_url(course), json={"text": "Bài viết đủ dài " * 30},
                              headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer x"}).status_code == 401
    assert _versions() == 0
    # The session alone, without its CSRF token, is refused; with it, accepted.
    assert client.put(_essay_url(course), json={"text": "Bài viết đủ dài " * 30}).status_code == 400
    assert client.put(_essay_url(course), json={"text": "Bài viết đủ dài " * 30},
                      headers={"X-CSRFToken": auth.csrf()}).status_code == 200
    assert _versions() == 1


def test_a_valid_token_wins_over_the_cookie(client, auth, make_user, api_token):
    """The token's user is who acts, whatever session cookie comes along."""
    reviewer, trainee = make_user(Role.reviewer), make_user(Role.trainee)
    auth.login(trainee)
    assert client.get("/api/v1/me", headers=api_token(reviewer)).get_json()["username"] == reviewer.username
    assert client.get("/api/v1/me").get_json()["username"] == trainee.username


def test_unauthenticated_api_writes_get_401_not_csrf(client, make_course):
    """Before: 400 "csrf"."""
    course = make_course()
    for method, url in (("put", _essay_url(course)), ("post", f"/api/v1/courses/{course.id}/roster"),
                        ("patch", "/api/v1/tags/1"), ("delete", "/api/v1/tags/1")):
        response = getattr(client, method)(url, json={"text": "x"})
        assert response.status_code == 401, method
        assert response.get_json()["error"]["code"] == "unauthorized"
