"""Editing a class: the CLI, the API and the admin page; lateness follows the due time in force everywhere."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent, Course, Role
from essays.models import EssayVersion
from essays.operations import submit_essay

TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc đưa nghị quyết "
        "vào cuộc sống, gần dân, sát dân và phục vụ nhân dân tốt hơn.")
VN = dt.timezone(dt.timedelta(hours=7))


def _late_essay(make_unit, make_user, make_course, enroll):
    """A course past due (cut-off ahead) and one essay handed in late, an hour ago."""
    now = dt.datetime.now(dt.timezone.utc)
    unit = make_unit(code="31135")
    course = make_course(due_at=now - dt.timedelta(hours=3), cutoff_at=now + dt.timedelta(days=2))
    trainee = make_user(Role.trainee, unit=unit)
    enroll(trainee, course)
    version = submit_essay(trainee, course.topics[0], data=None, filename=None, text=TEXT, uploaded_by=trainee,
                           now=now - dt.timedelta(hours=1))
    db.session.commit()
    assert version.is_late
    return course, trainee, version


def _figures(client, course, headers) -> tuple[bool, dict]:
    """The essay's `late` in the essay API, and the course's completeness totals from its API."""
    essays = client.get(f"/api/v1/courses/{course.id}/topics/{course.topics[0].id}/essay", headers=headers)
    return essays.get_json()["late"], essays.get_json()


def test_moving_the_due_time_by_the_api_turns_a_late_essay_on_time_and_back(
        client, make_unit, make_user, make_course, enroll, api_token):
    course, trainee, version = _late_essay(make_unit, make_user, make_course, enroll)
    admin = make_user(Role.admin)
    headers = api_token(admin)
    trainee_headers = api_token(trainee)
    old_due = course.essay_due_at
    new_due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).astimezone(VN).replace(microsecond=0)
    answer = client.patch(f"/api/v1/courses/{course.id}", json={"essay_due": new_due.isoformat()}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    listed = next(c for c in client.get("/api/v1/courses", headers=headers).get_json()["courses"] if c["id"] == course.id)
    assert answer.get_json() == listed and listed["essay_due"] == new_due.isoformat()
    db.session.expire_all()
    assert db.session.get(EssayVersion, version.id).is_late is False
    assert _figures(client, course, trainee_headers)[0] is False
    assert "hạn nộp" in db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "course.updated"))

    back = client.patch(f"/api/v1/courses/{course.id}", json={"essay_due": old_due.astimezone(VN).isoformat()},
                        headers=headers)
    assert back.status_code == 200
    db.session.expire_all()
    assert db.session.get(EssayVersion, version.id).is_late is True
    assert _figures(client, course, trainee_headers)[0] is True


def test_the_api_refuses_non_admins_and_bad_input_and_changes_nothing(
        client, make_unit, make_user, make_course, enroll, api_token):
    course, trainee, _ = _late_essay(make_unit, make_user, make_course, enroll)
    before = (course.name, course.essay_due_at, course.cutoff_at)
    for role in (Role.trainee, Role.officer, Role.reviewer):
        user = make_user(role, unit=make_unit() if role in (Role.trainee, Role.officer) else None)
        answer = client.patch(f"/api/v1/courses/{course.id}", json={"name": "Đổi tên"}, headers=api_token(user))
        assert answer.status_code == 403
    headers = api_token(make_user(Role.admin))
    for body, status in (({"cutoff": "2000-01-01T00:00:00+07:00"}, 422), ({"essay_due": "hôm qua"}, 422),
                         ({"starts_on": "2026-01-01"}, 422), ({}, 422), ({"name": "   "}, 422), ({"name": 5}, 422),
                         ({"name": "Lớp\x01"}, 422), ({"description": "a\x00b"}, 422),
                         ([1, 2], 400)):
        answer = client.patch(f"/api/v1/courses/{course.id}", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.get_json())
        assert answer.get_json()["error"]["message"]
    assert client.patch("/api/v1/courses/999999", json={"name": "x"}, headers=headers).status_code == 404
    db.session.expire_all()
    course = db.session.get(Course, course.id)
    assert (course.name, course.essay_due_at, course.cutoff_at) == before


def test_the_cli_updates_name_and_deadlines(app, runner, make_unit, make_user, make_course, enroll):
    course, trainee, version = _late_essay(make_unit, make_user, make_course, enroll)
    later = (dt.datetime.now(VN) + dt.timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    result = runner.invoke(args=["course", "update", str(course.id), "--name", "Lớp đã đổi tên",
                                 "--due", later.isoformat(), "--cutoff", (later + dt.timedelta(days=2)).isoformat()])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    course = db.session.get(Course, course.id)
    assert course.name == "Lớp đã đổi tên"
    assert course.essay_due_at == later.replace(tzinfo=VN).astimezone(dt.timezone.utc)
    assert db.session.get(EssayVersion, version.id).is_late is False
    refused = runner.invoke(args=["course", "update", str(course.id), "--cutoff", "2000-01-01T00:00"])
    assert refused.exit_code != 0 and "Hạn chót không được sớm hơn hạn nộp" in refused.output
    assert runner.invoke(args=["course", "update", "99999", "--name", "x"]).exit_code != 0


def test_trainees_get_a_notice_when_the_due_time_moves(client, auth, make_unit, make_user, make_course, enroll,
                                                       api_token):
    course, trainee, _ = _late_essay(make_unit, make_user, make_course, enroll)
    new_due = (dt.datetime.now(VN) + dt.timedelta(days=1)).replace(microsecond=0)
    client.patch(f"/api/v1/courses/{course.id}", json={"essay_due": new_due.isoformat()},
                 headers=api_token(make_user(Role.admin)))
    auth.login(trainee)
    html = client.get("/completeness/notices").get_data(as_text=True)
    assert "đã thay đổi: hạn nộp" in html and new_due.strftime("%d/%m/%Y %H:%M") in html


def test_the_admin_page_edits_the_class_and_its_topics(client, auth, make_unit, make_user, make_course, enroll):
    course, trainee, version = _late_essay(make_unit, make_user, make_course, enroll)
    auth.login(make_user(Role.admin))
    page = client.get(f"/admin/courses/{course.id}").get_data(as_text=True)
    local_due = course.essay_due_at.astimezone(VN).strftime("%d/%m/%Y %H:%M")
    assert f'value="{local_due}"' in page and "data-datetime" in page
    later = dt.datetime.now(VN) + dt.timedelta(days=1)
    answer = auth.post(f"/admin/courses/{course.id}", data={
        "name": "Lớp bồi dưỡng (đã sửa)", "description": "", "essay_due": later.strftime("%d/%m/%Y %H:%M"),
        "cutoff": (later + dt.timedelta(days=1)).strftime("%d/%m/%Y %H:%M")})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).name == "Lớp bồi dưỡng (đã sửa)"
    assert db.session.get(EssayVersion, version.id).is_late is False
    # A cut-off before the due time is refused with a message and changes nothing.
    refused = auth.post(f"/admin/courses/{course.id}", data={
        "name": "Khác", "essay_due": later.strftime("%d/%m/%Y %H:%M"), "cutoff": "01/01/2020 08:00"})
    assert refused.status_code == 422 and "Hạn chót không được sớm hơn hạn nộp" in refused.get_data(as_text=True)
    assert auth.post(f"/admin/courses/{course.id}", data={"name": "Khác", "essay_due": "31/02/2026 08:00",
                                                         "cutoff": "01/03/2026 08:00"}).status_code == 422
    db.session.expire_all()
    assert db.session.get(Course, course.id).name == "Lớp bồi dưỡng (đã sửa)"
    first, second = course.topics[0], course.topics[1]
    auth.post(f"/admin/courses/{course.id}/topics/{first.id}", data={"title": "Chuyên đề 1: Điểm mới (sửa)"})
    auth.post(f"/admin/courses/{course.id}/topics/{first.id}", data={"move": "1"})
    auth.post(f"/admin/courses/{course.id}/topics", data={"title": "Chủ đề bổ sung"})
    db.session.expire_all()
    topics = db.session.get(Course, course.id).topics
    assert [(t.id, t.position) for t in topics[:2]] == [(second.id, 1), (first.id, 2)]
    assert topics[1].title == "Chuyên đề 1: Điểm mới (sửa)" and topics[1].label == "Chủ đề 2: Điểm mới (sửa)"
    assert topics[-1].title == "Chủ đề bổ sung" and len(topics) == 4


def test_only_admins_edit_classes(client, auth, make_unit, make_user, make_course):
    course = make_course()
    auth.login(make_user(Role.officer, unit=make_unit()))
    assert client.get(f"/admin/courses/{course.id}").status_code == 403
    assert auth.post(f"/admin/courses/{course.id}/topics", data={"title": "x"}).status_code == 403
