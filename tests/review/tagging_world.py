"""Tagging fixtures: a course with two wards, people of every role, a small codebook, essays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from tests.factories import write_essay

from lms.db import db
from lms.models import Course, Role, Unit, User
from review.tagging.models import Theme


@dataclass
class World:
    course: Course
    ward_a: Unit
    ward_b: Unit
    reviewer: User
    admin: User
    officer_a: User
    officer_b: User
    trainee_a: User
    trainee_b: User
    themes: dict[str, Theme]


@pytest.fixture
def world(app, make_unit, make_user, make_course, make_trainee) -> World:
    ward_a = make_unit(code="31135", name="Phường Ninh Kiều")
    ward_b = make_unit(code="31261", name="Xã Cờ Đỏ", kind="xã")
    course = make_course()
    trainee_a = make_trainee(course, ward_a, full_name="Nguyễn Thị Hoà")
    trainee_b = make_trainee(course, ward_b, full_name="Trần Văn Đức")
    themes = {}
    for name in ("cán bộ", "chuyển đổi số", "cải cách hành chính"):
        themes[name] = Theme(name=name)
        db.session.add(themes[name])
    db.session.commit()
    return World(course=course, ward_a=ward_a, ward_b=ward_b,
                 reviewer=make_user(Role.reviewer, full_name="Lê Thu Hương"), admin=make_user(Role.admin),
                 officer_a=make_user(Role.officer, unit=ward_a), officer_b=make_user(Role.officer, unit=ward_b),
                 trainee_a=trainee_a, trainee_b=trainee_b, themes=themes)


@pytest.fixture
def essay_of() -> Callable:
    """`essay_of(trainee, course, text, topic_index=0)` hands in (or replaces) an essay."""
    return write_essay
