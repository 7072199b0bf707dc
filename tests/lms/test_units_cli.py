"""Units, courses, users and tokens through the real CLI."""
from __future__ import annotations

from sqlalchemy import func, select

from lms.db import db
from lms.models import Course, Role, Unit, User


def test_load_province_92_gives_103_units_with_official_codes(runner):
    result = runner.invoke(args=["units", "load-province", "92"])
    assert result.exit_code == 0, result.output
    units = db.session.scalars(select(Unit).where(Unit.province_code == "92")).all()
    assert len(units) == 103
    kinds = [u.kind for u in units]
    assert kinds.count("xã") == 72 and kinds.count("phường") == 31
    by_code = {u.code: u.name for u in units}
    assert by_code["31135"] == "Phường Ninh Kiều"
    assert by_code["31261"] == "Xã Cờ Đỏ"
    # Loading twice changes nothing.
    again = runner.invoke(args=["units", "load-province", "92"])
    assert "Đã nạp 0 đơn vị mới" in again.output
    assert db.session.scalar(select(func.count()).select_from(Unit)) == 103


def test_other_province_loads_the_same_way(runner):
    result = runner.invoke(args=["units", "load-province", "1"])
    assert result.exit_code == 0
    assert db.session.scalar(select(Unit.name).where(Unit.code == "00004")) == "Phường Ba Đình"


def test_unknown_province_is_refused(runner):
    result = runner.invoke(args=["units", "load-province", "999"])
    assert result.exit_code == 1
    assert "Không có tỉnh/thành phố mã 999" in result.output


def test_units_add_non_ward_and_refuse_duplicate(runner):
    assert runner.invoke(args=["units", "add", "TCT", "Trường Chính trị thành phố"]).exit_code == 0
    unit = db.session.scalar(select(Unit).where(Unit.code == "TCT"))
    assert unit.kind == "khác"
    dup = runner.invoke(args=["units", "add", "TCT", "Khác"])
    assert dup.exit_code == 1 and "đã có" in dup.output


def test_course_create_prints_id_and_keeps_times(runner):
    result = runner.invoke(args=["course", "create", "--name", "Lớp 23–24/5/2026",
                                 "--due", "2026-05-26T17:00:00+07:00", "--cutoff", "2026-05-27T08:00",
                                 "--topic", "Chủ đề một", "--topic", "Chủ đề hai"])
    assert result.exit_code == 0, result.output
    course = db.session.get(Course, int(result.output.strip().splitlines()[-1]))
    assert [t.title for t in course.topics] == ["Chủ đề một", "Chủ đề hai"]
    assert course.essay_due_at.isoformat() == "2026-05-26T10:00:00+00:00"
    assert course.cutoff_at.isoformat() == "2026-05-27T01:00:00+00:00"


def test_course_create_refuses_cutoff_before_due(runner):
    result = runner.invoke(args=["course", "create", "--name", "X", "--due", "2026-05-26T17:00",
                                 "--cutoff", "2026-05-25T17:00", "--topic", "A"])
    assert result.exit_code == 1
    assert "Hạn chót không được sớm hơn hạn nộp bài" in result.output
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_user_create_reads_password_from_stdin(runner, make_unit, client):
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    result = runner.invoke(args=["user", "create", "canbo", "--role", "officer", "--unit", "31135"],
                           input="mat-khau-dai\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "canbo"))
    assert user.role == Role.officer and user.unit_id == unit.id
    assert "mat-khau-dai" not in user.password_hash


def test_user_create_requires_unit_for_trainees(runner):
    result = runner.invoke(args=["user", "create", "hv1", "--role", "trainee"], input="mat-khau-dai\n")
    assert result.exit_code == 1
    assert "phải thuộc một đơn vị" in result.output


def test_token_create_prints_token_last_and_fails_for_unknown(runner, make_user, client):
    user = make_user(Role.reviewer)
    result = runner.invoke(args=["token", "create", user.username])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["username"] == user.username
    unknown = runner.invoke(args=["token", "create", "khong-co"])
    assert unknown.exit_code != 0


def test_demo_loads_every_role_and_open_course(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    for name in ("admin", "bantochuc", "canbo.31135", "hv.31135.1"):
        assert name in result.output
    roles = set(db.session.scalars(select(User.role)))
    assert roles == set(Role)
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "không nạp lại" in again.output
