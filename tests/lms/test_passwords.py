"""Passwords: `user set-password` (standard input), and an officer's reset limited to their own unit."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from lms.auth import authenticate
from lms.db import db
from lms.models import AuditEvent, Role


def test_set_password_reads_standard_input(app, runner, make_user):
    user = make_user(Role.officer, username="canbo.31135", unit=None)
    result = runner.invoke(args=["user", "set-password", "canbo.31135"], input="mat-khau-moi-2026\n")
    assert result.exit_code == 0, result.output
    assert "Đã đặt mật khẩu mới" in result.output
    db.session.expire_all()
    assert authenticate("canbo.31135", "mat-khau-moi-2026") is not None
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.target == user.username)) == "password.set"


def test_set_password_refuses_short_passwords_and_unknown_users(app, runner, make_user):
    make_user(Role.trainee, username="hv.1", unit=None)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    short = runner.invoke(args=["user", "set-password", "hv.1"], input="ngan\n")
    assert short.exit_code != 0 and "8 ký tự" in short.output
    unknown = runner.invoke(args=["user", "set-password", "khong.co"], input="mat-khau-moi-2026\n")
    assert unknown.exit_code != 0 and "Không có tài khoản khong.co" in unknown.output
    assert authenticate("hv.1", "ngan") is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_an_officer_resets_a_trainee_of_their_unit_after_a_confirmation_naming_them(
        client, auth, make_unit, make_user, make_course, enroll):
    ward, other = make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31147", name="Phường Cái Khế")
    officer = make_user(Role.officer, unit=ward)
    trainee = make_user(Role.trainee, unit=ward, username="hv.31135.1", full_name="Nguyễn Thị Ánh Tuyết")
    stranger = make_user(Role.trainee, unit=other, username="hv.31147.1")
    auth.login(officer)
    url = f"/unit/trainees/{trainee.id}/password"
    confirm = client.get(url).get_data(as_text=True)
    assert "Cấp mật khẩu mới cho học viên <strong>Nguyễn Thị Ánh Tuyết</strong>" in confirm
    answer = auth.post(url, data={"next": "/completeness/"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="new-password"[^>]*>([^<]+)<', html).group(1)
    assert "chỉ hiển thị một lần" in html
    db.session.expire_all()
    assert authenticate("hv.31135.1", password) is not None
    assert password not in str(db.session.get(type(trainee), trainee.id).__dict__)  # kept nowhere in clear
    # Not a trainee of another unit, nor another officer, nor a trainee for another officer's unit.
    assert client.get(f"/unit/trainees/{stranger.id}/password").status_code == 404
    assert auth.post(f"/unit/trainees/{stranger.id}/password").status_code == 404
    assert client.get(f"/unit/trainees/{officer.id}/password").status_code == 404


def test_an_officer_may_reset_a_trainee_enrolled_at_their_connection_point(
        client, auth, make_unit, make_user, make_course, enroll):
    ward, other = make_unit(code="31135"), make_unit(code="31147")
    officer = make_user(Role.officer, unit=ward)
    trainee = make_user(Role.trainee, unit=other)
    enroll(trainee, make_course(), unit=ward)
    auth.login(officer)
    assert client.get(f"/unit/trainees/{trainee.id}/password").status_code == 200


def test_trainees_and_reviewers_cannot_reset_passwords(client, auth, make_unit, make_user):
    ward = make_unit()
    trainee = make_user(Role.trainee, unit=ward)
    for who in (make_user(Role.trainee, unit=ward), make_user(Role.reviewer)):
        auth.login(who)
        assert client.get(f"/unit/trainees/{trainee.id}/password").status_code == 403
        client.post("/logout", data={"csrf_token": auth.csrf()})


def test_the_login_page_says_whom_to_ask(client):
    html = client.get("/login").get_data(as_text=True)
    assert "Quên mật khẩu" in html and "cán bộ đơn vị" in html
