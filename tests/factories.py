"""Factories that create real rows (and commit), shared by every test package.

The fixtures of tests/conftest.py (`make_unit`, `make_user`, `make_course`, `enroll`, `make_trainee`,
`hand_in`) hand these out; helpers that build a whole world (tests/review/completeness_roster.py,
tagging_world.py, tests/essays/essay_world.py) and browser tests call them too.
Call them inside an app context.
"""
from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from essays.models import EssayVersion
from essays.operations import submit_essay
from lms.db import db
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.security import hash_password
from lms.units import match_name

PASSWORD = "matkhau-123"
ESSAY_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức sâu sắc hơn về trách nhiệm của cán bộ cơ sở trong việc gần dân, "
              "lắng nghe dân và giải quyết kịp thời những kiến nghị chính đáng của người dân. ") * 3
_FAST_HASH: dict[str, str] = {}
_unit_numbers = itertools.count(1)


def hashed(password: str) -> str:
    """The argon2 hash of a password, computed once per test run (argon2 is slow on purpose)."""
    if password not in _FAST_HASH:
        _FAST_HASH[password] = hash_password(password)
    return _FAST_HASH[password]


def restart_unit_numbers() -> None:
    """Number the next test's units U0001, U0002, … again (the `make_unit` fixture calls it)."""
    global _unit_numbers
    _unit_numbers = itertools.count(1)


def make_unit(code: str | None = None, name: str | None = None, kind: str = "phường") -> Unit:
    """A unit; without a code or name, `U0001` / `Phường Thử 1` and so on."""
    n = next(_unit_numbers)
    code = code or f"U{n:04d}"
    name = name or f"Phường Thử {n}"
    unit = Unit(code=code, name=name, kind=kind, match_name=match_name(name))
    db.session.add(unit)
    db.session.commit()
    return unit


def make_user(role: Role | str = Role.trainee, unit: Unit | None = None, username: str | None = None,
              full_name: str | None = None, password: str = PASSWORD, **fields: Any) -> User:
    """An account with the test password; the username is random unless given."""
    role = Role(role)
    username = username or f"{role.value}-{uuid.uuid4().hex[:8]}"
    user = User(username=username, role=role, unit=unit, full_name=full_name or f"Người {username}",
                password_hash=hashed(password), **fields)
    db.session.add(user)
    db.session.commit()
    return user


def make_course(name: str = "Lớp bồi dưỡng thử", topics: tuple[str, ...] = ("Chủ đề 1", "Chủ đề 2", "Chủ đề 3"),
                due_in: dt.timedelta = dt.timedelta(days=2), cutoff_in: dt.timedelta = dt.timedelta(days=4),
                due_at: dt.datetime | None = None, cutoff_at: dt.datetime | None = None) -> Course:
    """A course held the last two days, with its topics; due and cut-off relative to now unless given."""
    now = dt.datetime.now(dt.timezone.utc)
    course = Course(name=name, starts_on=(now - dt.timedelta(days=2)).date(),
                    ends_on=(now - dt.timedelta(days=1)).date(),
                    essay_due_at=due_at or now + due_in, cutoff_at=cutoff_at or now + cutoff_in)
    course.topics = [Topic(position=i + 1, title=t) for i, t in enumerate(topics)]
    db.session.add(course)
    db.session.commit()
    return course


def enroll(user: User, course: Course, unit: Unit | None = None) -> Enrollment:
    """Enrol the user in the course, in their own unit unless another is given."""
    enrollment = Enrollment(user_id=user.id, course_id=course.id, unit_id=(unit or user.unit).id)
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


def make_trainee(course: Course, unit: Unit, **fields: Any) -> User:
    """A trainee of the unit, enrolled in the course (`fields` as for `make_user`)."""
    trainee = make_user(Role.trainee, unit=unit, **fields)
    enroll(trainee, course)
    return trainee


def hand_in(trainee: User, topic: Topic, at: dt.datetime | None = None, text: str = ESSAY_TEXT,
            data: bytes | None = None, filename: str | None = None) -> EssayVersion:
    """Hand in through the real essays.operations.submit_essay (back-dated with `at`) and commit."""
    version = submit_essay(trainee, topic, data=data, filename=filename, text=None if data else text,
                           uploaded_by=trainee, now=at)
    db.session.commit()
    return version


def write_essay(trainee: User, course: Course, text: str, topic_index: int = 0):
    """Hand in (or replace) the trainee's essay on one of the course's topics as pasted text; returns the essay."""
    return hand_in(trainee, course.topics[topic_index], text=text).essay
