"""Ids beyond any database column, or not numbers at all, in the review feature's queries, bodies
and forms answer 400/404/422 with a message, never 500 (issue 18, item 8)."""
from __future__ import annotations

from lms.models import Role
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
