"""Login, logout, passwords, CSRF and cookies through the real pages."""
from __future__ import annotations

import re

from lms.db import db
from lms.models import AuditEvent, Role
from tests.conftest import PASSWORD, csrf_token_from


def test_login_and_logout(client, auth, make_user):
    user = make_user(Role.reviewer, full_name="Trần Thị Bình")
    response = auth.login(user)
    assert response.status_code == 302
    assert "Trần Thị Bình" in client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": auth.csrf()}).status_code == 302
    assert client.get("/").status_code == 302  # back to login


def test_wrong_password_and_unknown_user_get_the_same_message(client, auth, make_user):
    user = make_user(Role.trainee, unit=None)
    wrong = auth.login(user, "sai-mat-khau").get_data(as_text=True)
    unknown = auth.login("khong-ton-tai", "sai-mat-khau").get_data(as_text=True)
    message = "Tên đăng nhập hoặc mật khẩu không đúng."
    assert message in wrong and message in unknown
    assert db.session.query(AuditEvent).filter_by(action="login.failed").count() == 2


def test_login_without_csrf_token_is_rejected(client, make_user):
    user = make_user(Role.admin)
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "Phiên làm việc đã hết hạn" in response.get_data(as_text=True)


def test_session_cookie_flags(client, auth, make_user):
    user = make_user(Role.admin)
    response = auth.login(user)
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_is_renewed_at_login(client, auth, make_user):
    user = make_user(Role.admin)
    with client.session_transaction() as sess:
        sess["planted"] = "by attacker"
    auth.login(user)
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_change_password(client, auth, make_user):
    user = make_user(Role.trainee)
    auth.login(user)
    bad = auth.post("/password", {"current": "sai", "new": "moi-mat-khau-1", "confirm": "moi-mat-khau-1"})
    assert "Mật khẩu hiện tại không đúng." in bad.get_data(as_text=True)
    ok = auth.post("/password", {"current": PASSWORD, "new": "moi-mat-khau-1", "confirm": "moi-mat-khau-1"})
    assert ok.status_code == 302
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert auth.login(user, PASSWORD).status_code == 200  # old password refused (form shown again)
    assert auth.login(user, "moi-mat-khau-1").status_code == 302


def test_admin_resets_password_others_cannot(client, auth, make_user):
    admin, target = make_user(Role.admin), make_user(Role.reviewer)
    reviewer = make_user(Role.reviewer)
    auth.login(reviewer)
    assert auth.post(f"/admin/users/{target.id}/reset-password").status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(admin)
    page = auth.post(f"/admin/users/{target.id}/reset-password", follow_redirects=True).get_data(as_text=True)
    # Shown once on the page; only its hash is stored.
    new_password = re.search(rf"Mật khẩu mới của {re.escape(target.username)}: ([a-z0-9]+)", page).group(1)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert auth.login(target, new_password).status_code == 302


def test_open_redirect_after_login_is_refused(client, make_user):
    user = make_user(Role.admin)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x",
                           data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_security_headers(client):
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_audit_log_lists_logins_for_admins_only(client, auth, make_user):
    admin, reviewer = make_user(Role.admin), make_user(Role.reviewer)
    auth.login(reviewer)
    assert client.get("/admin/audit").status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(admin)
    page = client.get("/admin/audit", query_string={"action": "login"}).get_data(as_text=True)
    assert reviewer.username in page and admin.username in page
    assert "access.denied" not in page  # filtered by action prefix
    assert "access.denied" in client.get("/admin/audit").get_data(as_text=True)


def test_audit_log_cannot_be_changed_or_deleted(app, client, auth, make_user):
    import pytest
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    auth.login(make_user(Role.admin))
    event_id = db.session.query(AuditEvent.id).filter_by(action="login").scalar()
    for statement in (update(AuditEvent).where(AuditEvent.id == event_id).values(action="x"),
                      delete(AuditEvent).where(AuditEvent.id == event_id)):
        with pytest.raises(DatabaseError):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.get(AuditEvent, event_id).action == "login"
