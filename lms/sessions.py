"""Server-side login sessions: what a browser's cookie proves is looked up, so it can be ended.

Flask's signed cookie keeps only a random token (under Flask-Login's `_user_id` key); the
database keeps its SHA-256 in `login_session`. Logout, a password change and an administrator
revoke rows, after which a copied cookie is worth nothing. The remember-me cookie holds a second
random token, also stored hashed; it is used once: it opens a new session and is replaced.
"""
from __future__ import annotations

import datetime as dt
import secrets

from flask import Flask, current_app, g, request, session
from flask_login import login_user
from sqlalchemy import delete, or_, select, update

from lms.db import db, rows_changed, utcnow, write_transaction
from lms.jobs import register_hourly
from lms.models import LoginSession, User
from lms.security import client_address, token_digest

SESSION_KEY = "_user_id"  # where Flask-Login keeps the id it hands to the user loader
REMEMBER_DAYS = 30


def init_app(app: Flask) -> None:
    """Resume remembered sessions before each request and write the rotated cookie after it; the
    worker deletes dead sessions once an hour, so `login_session` does not only grow."""
    app.before_request(_resume_remembered)
    app.after_request(_set_remember_cookie)
    register_hourly(app, "sessions", purge_sessions)


def start_session(user: User, remember: bool = False) -> LoginSession:
    """Log the user in with a fresh, revocable session (nothing planted before it survives)."""
    session.clear()
    now = utcnow()
    token = secrets.token_urlsafe(32)
    row = LoginSession(user_id=user.id, token_sha256=token_digest(token), created_at=now,
                       expires_at=now + _lifetime(), address=client_address())
    if remember:
        g._remember_token = _new_remember(row, now + dt.timedelta(days=REMEMBER_DAYS))
    db.session.add(row)
    login_user(user)
    session[SESSION_KEY] = token
    return row


def user_for_token(token: str) -> User | None:
    """The active user of a live session token, or None."""
    user = db.session.scalar(
        select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_sha256 == token_digest(token), LoginSession.revoked_at.is_(None),
               LoginSession.expires_at > utcnow()))
    return user if user is not None and user.is_active else None


def end_current_session() -> None:
    """Revoke the session this request came with (logout)."""
    token = session.get(SESSION_KEY)
    if token:
        db.session.execute(update(LoginSession).where(LoginSession.token_sha256 == token_digest(str(token)),
                                                      LoginSession.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))


def end_sessions(user: User, *, keep_current: bool = False) -> int:
    """Revoke every session (and remember-me token) of a user; the current one too unless asked."""
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    token = session.get(SESSION_KEY) if keep_current else None
    if token:
        stmt = stmt.where(LoginSession.token_sha256 != token_digest(str(token)))
    return rows_changed(db.session.execute(stmt.values(revoked_at=utcnow())))


def purge_sessions(now: dt.datetime | None = None) -> int:
    """Delete rows that can no longer be used (revoked, or past both expiries)."""
    now = now or utcnow()
    dead = or_(LoginSession.revoked_at.is_not(None),
               (LoginSession.expires_at < now) & ((LoginSession.remember_expires_at.is_(None))
                                                  | (LoginSession.remember_expires_at < now)))
    return rows_changed(db.session.execute(delete(LoginSession).where(dead)))


def _lifetime() -> dt.timedelta:
    value = current_app.config["PERMANENT_SESSION_LIFETIME"]
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=value)


def _new_remember(row: LoginSession, expires_at: dt.datetime) -> str:
    token = secrets.token_urlsafe(32)
    row.remember_sha256 = token_digest(token)
    row.remember_expires_at = expires_at
    return token


def _cookie_name() -> str:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")


def _resume_remembered() -> None:
    """A browser without a session but with a remember-me cookie: swap it for a new session."""
    cookie = request.cookies.get(_cookie_name())
    if not cookie or session.get(SESSION_KEY) or request.endpoint in (None, "static"):
        return
    now = utcnow()
    with write_transaction():
        row = db.session.scalar(select(LoginSession).where(LoginSession.remember_sha256 == token_digest(cookie)))
        if (row is None or row.revoked_at is not None or row.remember_expires_at is None
                or row.remember_expires_at <= now or not row.user.is_active):
            db.session.rollback()
            session["_remember"] = "clear"  # Flask-Login deletes the cookie after the response
            return
        # Used once: the old row ends, a new session (and a new remember-me token) replace it.
        row.revoked_at = now
        fresh = start_session(row.user)
        g._remember_token = _new_remember(fresh, row.remember_expires_at)
        db.session.commit()


def _set_remember_cookie(response):
    token = g.pop("_remember_token", None)
    if token:
        config = current_app.config
        response.set_cookie(_cookie_name(), token, max_age=REMEMBER_DAYS * 86400,
                            path=config.get("REMEMBER_COOKIE_PATH", "/"),
                            secure=config.get("REMEMBER_COOKIE_SECURE", False),
                            httponly=config.get("REMEMBER_COOKIE_HTTPONLY", True),
                            samesite=config.get("REMEMBER_COOKIE_SAMESITE", "Lax"))
    return response
