"""Passwords, CSRF, role guards, per-object fetch helpers and the audit log."""
from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any, Callable, TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, abort, current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from lms.db import db
from lms.models import ApiToken, AuditEvent, Course, Role, Unit, User
from lms.transaction import write_after_reads

csrf = CSRFProtect()
_hasher = PasswordHasher()
F = TypeVar("F", bound=Callable[..., Any])

# Compared against when the username does not exist, so timing does not tell who exists.
_DUMMY_HASH = _hasher.hash("thuhoach-dummy-password")


def init_app(app: Flask) -> None:
    """Switch CSRF protection on for every state-changing request."""
    csrf.init_app(app)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Check a password in the same time whether or not the user exists, whatever their hash's cost.

    Initial passwords are hashed with a cheaper argon2 (roster import speed): alone, a login for
    such an account answered in 11 ms against ~127 ms, telling that a predictable username exists
    and was never used. Such a check is followed by one against a full-cost hash.
    """
    stored = user.password_hash if user else _DUMMY_HASH
    try:
        ok: bool = _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if stored is not _DUMMY_HASH and _is_cheaper(stored):
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    return ok and user is not None


def _is_cheaper(stored: str) -> bool:
    """True for a hash made with lower argon2 parameters than hash_password() uses (or not argon2 at all)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def needs_rehash(stored: str) -> bool:
    """Whether a verified password should be hashed again with today's parameters."""
    return _is_cheaper(stored)


def generate_password(length: int = 10) -> str:
    """A password a trainee can type from a printed sheet: no look-alike characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def token_digest(token: str) -> str:
    """SHA-256 of an API token; only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user: User) -> str:
    """Create and return a new API token for the user (shown once)."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_sha256=token_digest(token)))
    db.session.flush()
    return token


def role_required(*roles: Role) -> Callable[[F], F]:
    """Page guard: login required, then one of the roles (403 otherwise)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return cast(Any, current_app).login_manager.unauthorized()
            if current_user.role not in roles:
                audit_read("access.denied", target=request.path)
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def client_address() -> str | None:
    """The address of the client, as the WSGI server saw it."""
    try:
        return request.remote_addr
    except RuntimeError:
        return None


def audit(action: str, *, target: str | None = None, detail: str | None = None,
          user: User | None = None) -> None:
    """Add an audit record to the current transaction (it commits or rolls back with the action)."""
    actor = user
    if actor is None:
        try:
            actor = current_user._get_current_object() if current_user.is_authenticated else None
        except (RuntimeError, AttributeError):
            actor = None
    db.session.add(AuditEvent(
        user_id=actor.id if actor else None,
        username=actor.username if actor else None,
        action=action, target=target, detail=detail, address=client_address(),
    ))


def audit_read(action: str, *, target: str | None = None, detail: str | None = None,
               user: User | None = None) -> None:
    """Record a read (a download, a refused page) in its own short write transaction, now.

    A GET reads in a deferred SQLite transaction; an INSERT after those reads is refused the
    write lock at once ("database is locked") when any other process wrote in between. So the
    read transaction ends here (a read has nothing to keep) and the row is written in a
    transaction that queues for the write gate, as uploads do: it waits, it does not fail.
    """
    with write_after_reads():
        audit(action, target=target, detail=detail, user=user)


def course_or_404(course_id: int) -> Course:
    """A course by id, or 404."""
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    return course


def unit_or_404(code: str) -> Unit:
    """A unit the current user may see (the Board any, an officer their own); 404 otherwise, never 403."""
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None or not current_user.can_see_unit(unit.id):
        abort(404)
    return unit
