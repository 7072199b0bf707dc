"""The /api/v1 frame: auth by session or token, errors, the core endpoints, OpenAPI."""
from __future__ import annotations

from lms.models import Role


def test_me_by_token(client, make_user, make_unit, api_token):
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    user = make_user(Role.officer, unit=unit, full_name="Lê Văn Đức")
    response = client.get("/api/v1/me", headers=api_token(user))
    assert response.json == {"username": user.username, "full_name": "Lê Văn Đức", "role": "officer",
                             "unit_code": "31135"}


def test_unauthenticated_and_bad_token_get_json_401(client):
    for headers in ({}, {"Authorization": "Bearer khong-hop-le"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert "đăng nhập" in response.json["error"]["message"]


def test_unknown_api_path_is_json_404(client, make_user, api_token):
    response = client.get("/api/v1/khong-co", headers=api_token(make_user(Role.admin)))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_courses_trainee_sees_only_enrolled(client, make_user, make_unit, make_course, enroll, api_token):
    unit = make_unit()
    mine, other = make_course(name="Lớp của tôi"), make_course(name="Lớp khác")
    trainee = make_user(Role.trainee, unit=unit)
    enroll(trainee, mine)
    body = client.get("/api/v1/courses", headers=api_token(trainee)).json
    assert [c["name"] for c in body["courses"]] == ["Lớp của tôi"]
    course = body["courses"][0]
    assert course["essay_due"].endswith("+07:00") and course["cutoff"].endswith("+07:00")
    assert [t["title"] for t in course["topics"]] == ["Chủ đề 1", "Chủ đề 2", "Chủ đề 3"]
    reviewer = make_user(Role.reviewer)
    names = {c["name"] for c in client.get("/api/v1/courses", headers=api_token(reviewer)).json["courses"]}
    assert names == {"Lớp của tôi", "Lớp khác"}


def test_units_codes_are_strings_with_official_names(client, runner, make_user, api_token):
    runner.invoke(args=["units", "load-province", "92"])
    units = client.get("/api/v1/units", headers=api_token(make_user(Role.reviewer))).json["units"]
    assert len(units) == 103
    assert {"code": "31135", "name": "Phường Ninh Kiều", "kind": "phường"} in units
    assert {"code": "31261", "name": "Xã Cờ Đỏ", "kind": "xã"} in units


def test_session_auth_works_for_api(client, auth, make_user):
    user = make_user(Role.admin)
    auth.login(user)
    assert client.get("/api/v1/me").json["username"] == user.username


def test_openapi_documents_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = set()
    for path, ops in doc["paths"].items():
        for method in ops:
            documented.add((path, method.upper()))
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} missing from openapi.json"


def test_every_api_write_through_a_cookie_session_needs_the_csrf_token(app, client, auth, make_user,
                                                                       make_unit, make_course, enroll):
    unit, course = make_unit(), make_course()
    trainee = make_user(Role.trainee, unit=unit)
    enroll(trainee, course)
    auth.login(trainee)
    url = f"/api/v1/courses/{course.id}/topics/{course.topics[0].id}/essay"
    text = {"text": "Bài thu hoạch về chuyển đổi số ở phường, xã, với đủ số chữ để được nhận. " * 3}
    refused = client.put(url, json=text)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf"
    accepted = client.put(url, json=text, headers={"X-CSRFToken": auth.csrf()})
    assert accepted.status_code == 200 and accepted.json["version"] == 1
