"""Creating users, resetting passwords, role changes."""
from __future__ import annotations

import re

from sqlalchemy import select

from lms.db import db, utcnow
from lms.models import Enrollment, Role, Unit, User
from lms.security import generate_password, hash_password

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")


class UserError(ValueError):
    """A user request that cannot be done; the message is for the user."""


def create_user(username: str, *, role: Role, password: str, full_name: str | None = None,
                unit_code: str | None = None) -> User:
    """Create an account; officers and trainees belong to a unit."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise UserError("Tên đăng nhập chỉ gồm chữ thường không dấu, chữ số, dấu chấm, gạch (2–80 ký tự).")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise UserError(f"Tên đăng nhập {username} đã có.")
    if len(password) < 8:
        raise UserError("Mật khẩu phải có từ 8 ký tự trở lên.")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code.strip()))
        if unit is None:
            raise UserError(f"Không có đơn vị mã {unit_code}.")
    if role in (Role.officer, Role.trainee) and unit is None:
        raise UserError("Cán bộ đơn vị và học viên phải thuộc một đơn vị (--unit).")
    user = User(username=username, role=role, password_hash=hash_password(password),
                full_name=" ".join((full_name or username).split()), unit=unit)
    db.session.add(user)
    db.session.flush()
    return user


def reset_password(user: User) -> str:
    """Give the user a new initial password, returned to be shown once (only its hash is kept)."""
    password = generate_password()
    user.password_hash = hash_password(password)
    return password


def set_password(user: User, password: str) -> None:
    """Set a chosen password (administrator, `user set-password`); the handed-out one is forgotten."""
    if len(password) < 8:
        raise UserError("Mật khẩu phải có từ 8 ký tự trở lên.")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


def can_reset_password_of(officer: User, trainee: User) -> bool:
    """An officer may give a new password to a trainee of their own unit (by account or by enrolment)."""
    if officer.role != Role.officer or officer.unit_id is None or trainee.role != Role.trainee:
        return False
    if trainee.unit_id == officer.unit_id:
        return True
    return db.session.scalar(select(Enrollment.id).where(
        Enrollment.user_id == trainee.id, Enrollment.unit_id == officer.unit_id).limit(1)) is not None
