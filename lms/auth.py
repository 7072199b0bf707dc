"""Login, logout and password change (Flask-Login sessions, argon2 hashes)."""
from __future__ import annotations

import datetime as dt
import math

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, logout_user
from sqlalchemy import select

from lms import sessions, throttle
from lms.db import db, utcnow
from lms.forms import ChangePasswordForm, EmptyForm, LoginForm
from lms.models import User
from lms.security import audit, client_address, hash_password, needs_rehash, verify_password

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
login_manager.login_message_category = "warning"


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    # The cookie names a server-side session, not a user: a revoked or forged one is no one.
    return sessions.user_for_token(token)


def init_app(app: Flask) -> None:
    """Register the login manager and the auth pages."""
    login_manager.init_app(app)
    sessions.init_app(app)
    app.register_blueprint(bp)


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (never says which part was wrong)."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if not verify_password(user, password) or user is None or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # a cheap initial-password hash becomes a full one
    return user


def change_password(user: User, new_password: str) -> None:
    """Set a user's own password; other sessions end."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    sessions.end_sessions(user, keep_current=True)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("pages.index"))
    form = LoginForm()
    if form.validate_on_submit():
        address = client_address()
        wait = throttle.blocked_for(form.username.data, address)
        if wait is not None:
            # Same answer whether or not the account exists: throttling must not reveal usernames.
            audit("login.throttled", target=form.username.data[:80])
            db.session.commit()
            flash(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {_wait_text(wait)}.", "danger")
            seconds = max(1, math.ceil(wait.total_seconds()))
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            throttle.record_failure(form.username.data, address)
            audit("login.failed", target=form.username.data[:80])
            db.session.commit()
            flash("Tên đăng nhập hoặc mật khẩu không đúng.", "danger")
        else:
            throttle.clear_account(user.username, address)
            # A fresh session at login: nothing planted before it survives (session fixation).
            sessions.start_session(user, remember=bool(form.remember.data))
            audit("login", user=user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _wait_text(wait: dt.timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return f"{seconds} giây" if seconds < 60 else f"{math.ceil(seconds / 60)} phút"


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("pages.index")


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        sessions.end_current_session()
        db.session.commit()
        logout_user()
    session.clear()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(current_user, form.current.data):
            flash("Mật khẩu hiện tại không đúng.", "danger")
        else:
            change_password(current_user, form.new.data)
            audit("password.changed")
            db.session.commit()
            flash("Đã đổi mật khẩu.", "success")
            return redirect(url_for("pages.index"))
    return render_template("auth/password.html", form=form)


@login_manager.unauthorized_handler
def _unauthorized():
    from lms.api import error_response, is_api_request

    if is_api_request():
        return error_response(401)
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("auth.login", next=(request.script_root + request.full_path).rstrip("?")))
