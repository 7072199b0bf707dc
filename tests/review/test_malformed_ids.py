"""Ids beyond any database column, or not numbers at all, in the review feature's queries, bodies
and forms answer 400/404/422 with a message, never 500 (issue 18, item 8)."""
from __future__ import annotations

from lms.db import db
from tests.conftest import Auth

HUGE = 99999999999999999999


def test_api_bodies_and_queries(client, api_token, world, essay_of):
    """Before: topic=<huge> in the query and version/themes/duplicate_of in bodies were 500s."""
    essay = essay_of(world.trainee_a, world.course, "Bài thu hoạch. Kiến nghị: tăng cường đào tạo kỹ năng số.")
    headers = api_token(world.reviewer)
    theme = next(iter(world.themes.values()))
    for arg in (f"topic={HUGE}", "topic=abc", f"theme={HUGE}", "kind=bogus"):
        response = client.get(f"/api/v1/courses/{world.course.id}/tags?{arg}", headers=headers)
        assert response.status_code == 422, arg
    good = {"start": 0, "end": 8, "kind": "recommendation", "themes": [theme.id]}
    for bad in ({"version": HUGE}, {"version": "1"}, {"themes": [HUGE]}, {"themes": [-1]}):
        response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={**good, **bad})
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["message"]
    tag = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json=good).get_json()
    for bad in ({"duplicate_of": HUGE}, {"themes": [HUGE]}):
        response = client.patch(f"/api/v1/tags/{tag['id']}", headers=headers, json=bad)
        assert response.status_code == 422, bad
    response = client.get(f"/api/v1/courses/{world.course.id}/report.xlsx?themes={HUGE}",
                          headers=api_token(world.admin))
    assert response.status_code == 422


def test_forms(app, world):
    """Before: assignment_id, group_id, theme_id … = <huge> in forms were 500s."""
    client = app.test_client()
    auth = Auth(client)
    auth.login(world.reviewer)
    course = world.course.id
    for url, data in (("/review/assignments", {"action": "remove", "assignment_id": str(HUGE)}),
                      ("/review/assignments", {"reviewer_id": str(HUGE), "units": "31135"}),
                      (f"/review/courses/{course}/groups", {"action": "ungroup", "group_id": str(HUGE)}),
                      ("/review/themes", {"action": "edit", "theme_id": str(HUGE), "name": "x"}),
                      ("/review/themes", {"action": "merge", "theme_id": "1", "into_id": str(HUGE)})):
        response = auth.post(url, data)
        assert response.status_code in (302, 400, 404), (url, data, response.status_code)
    response = auth.post(f"/completeness/{course}/units/31135/exemptions", {"enrollment_id": str(HUGE)})
    assert response.status_code in (302, 403, 404)


def test_page_parameters(app, world, essay_of):
    """Before: `?v=`, `?nguong=`, `?topic=` read with `type=int` (no bound), and the ward page's
    `same`, `start`, `end` with `int()` of anything `isdigit()` accepts ("²" raised, a huge id reached
    the database: "integer out of range" on PostgreSQL)."""
    from review.wards.operations import scan_unit, ward_queue

    essay = essay_of(world.trainee_a, world.course, "Bài thu hoạch.\nKiến nghị:\n1. Đề nghị tăng cường đào tạo "
                                                     "kỹ năng số cho cán bộ phường.\nKết luận.")
    course, code = world.course.id, world.ward_a.code
    client = app.test_client()
    auth = Auth(client)
    auth.login(world.reviewer)
    for value in (str(HUGE), "abc", "²", "-1"):
        assert client.get(f"/review/essays/{essay.id}?v={value}").status_code == 404, value
        assert client.get(f"/review/courses/{course}/groups?nguong={value}").status_code == 200, value
    assert client.get(f"/review/essays/{essay.id}?v=1").status_code == 200
    for value in (str(HUGE), "abc", "²"):
        assert client.get(f"/completeness/{course}/units/{code}?topic={value}").status_code == 400, value
        response = auth.post(f"/completeness/{course}/units/{code}/extensions",
                             {"trainee": "unit", "topic": value, "until": "31/12/2030 17:00", "reason": "x"})
        assert response.status_code in (302, 400), (value, response.status_code)
    client = app.test_client()
    auth = Auth(client)
    auth.login(world.officer_a)
    scan_unit(world.course, world.ward_a)
    db.session.commit()
    suggestion = ward_queue(world.course, world.ward_a)[0].groups[0][0]
    for data in ({"same": str(HUGE)}, {"same": "²"}, {"start": str(HUGE)}, {"end": "²"}):
        response = auth.post(f"/ward/{course}/units/{code}/suggestions/{suggestion.suggestion_id}/accept",
                             data, headers={"Accept": "application/json"})
        assert response.status_code in (200, 404, 422), (data, response.status_code)
        db.session.rollback()
