"""Sessions end when they should: logout, a password change, an administrator (issue 18, item 2)."""
from __future__ import annotations

from lms.models import Role
from tests.conftest import PASSWORD, Auth, csrf_token_from


def _login(client, user, remember: bool = False):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def _copy_cookie(source, target, name: str) -> str:
    value = source.get_cookie(name).value
    target.set_cookie(name, value)
    return value


def _me(client):
    return client.get("/api/v1/me").status_code


def test_a_session_cookie_copied_before_logout_is_worth_nothing_after(app, client, auth, make_user):
    user = make_user(Role.reviewer)
    _login(client, user)
    thief = app.test_client()
    _copy_cookie(client, thief, "session")
    assert _me(thief) == 200 and thief.get("/").status_code in (200, 302)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert _me(thief) == 401
    assert thief.get("/report/").status_code == 302  # to the login page


def test_remember_token_is_random_rotated_at_use_and_ends_with_logout(app, make_user):
    user = make_user(Role.trainee)
    first, second = app.test_client(), app.test_client()
    _login(first, user, remember=True)
    _login(second, user, remember=True)
    one, two = first.get_cookie("remember_token").value, second.get_cookie("remember_token").value
    assert one != two and str(user.id) not in (one.split("|")[0], two.split("|")[0]) and len(one) >= 40
    # A browser that kept only the remember-me cookie is let in, and the cookie is replaced.
    returning = app.test_client()
    returning.set_cookie("remember_token", one)
    assert _me(returning) == 200
    rotated = returning.get_cookie("remember_token").value
    assert rotated != one
    # The used value no longer opens anything.
    replay = app.test_client()
    replay.set_cookie("remember_token", one)
    assert _me(replay) == 401
    # Logging out ends the session and its remember-me token.
    Auth(returning).client.post("/logout", data={"csrf_token": Auth(returning).csrf()})
    again = app.test_client()
    again.set_cookie("remember_token", rotated)
    assert _me(again) == 401


def test_an_old_style_remember_cookie_is_refused(app, make_user):
    user = make_user(Role.admin)
    forged = app.test_client()
    forged.set_cookie("remember_token", f"{user.id}|" + "0" * 128)
    assert _me(forged) == 401


def test_password_change_ends_the_other_sessions(app, client, auth, make_user):
    user = make_user(Role.officer)
    _login(client, user)
    phone = app.test_client()
    _login(phone, user, remember=True)
    remembered = phone.get_cookie("remember_token").value
    new = "mat-khau-moi-2026"
    response = auth.post("/password", {"current": PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 302
    assert _me(client) == 200  # the session that changed it goes on
    assert _me(phone) == 401
    back = app.test_client()
    back.set_cookie("remember_token", remembered)
    assert _me(back) == 401


def test_admin_ends_all_sessions_of_a_user(app, client, auth, make_user):
    user = make_user(Role.trainee)
    laptop = app.test_client()
    _login(laptop, user, remember=True)
    auth.login(make_user(Role.admin))
    assert auth.post(f"/admin/users/{user.id}/end-sessions").status_code == 302
    assert _me(laptop) == 401
    assert "Đăng xuất mọi thiết bị" in client.get("/admin/users").get_data(as_text=True)
    # Only an administrator may do it.
    other = app.test_client()
    Auth(other).login(make_user(Role.reviewer))
    assert Auth(other).post(f"/admin/users/{user.id}/end-sessions").status_code == 403


def test_the_worker_deletes_dead_sessions_and_keeps_live_ones(app, client, make_user):
    """Before: purge_sessions existed but nothing called it, so login_session only grew."""
    import datetime as dt

    from sqlalchemy import func, select, update

    from lms.db import db, utcnow
    from lms.models import LoginSession

    user = make_user(Role.trainee)
    for _ in range(3):
        _login(app.test_client(), user)
    _login(client, user)
    rows = db.session.scalars(select(LoginSession.id).order_by(LoginSession.id)).all()
    db.session.execute(update(LoginSession).where(LoginSession.id == rows[0]).values(revoked_at=utcnow()))
    db.session.execute(update(LoginSession).where(LoginSession.id == rows[1]).values(
        expires_at=utcnow() - dt.timedelta(minutes=1)))
    db.session.commit()
    for task in app.extensions["thuhoach.worker_tasks"]:  # one turn of the worker loop
        task(app)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(LoginSession.id))) == 2
    assert _me(client) == 200
