"""A small world for submission tests: two wards, their officers, trainees, a reviewer, one course."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from lms.db import db
from lms.models import Course, Role, Unit, User

LONG_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc "
             "đưa nghị quyết vào cuộc sống, gần dân, sát dân và phục vụ nhân dân tốt hơn.")


@dataclass
class World:
    ward: Unit
    other_ward: Unit
    course: Course
    trainee: User
    classmate: User
    stranger: User  # a trainee of the other ward
    officer: User
    other_officer: User
    reviewer: User
    admin: User

    @property
    def topic(self):
        return self.course.topics[0]


def make_world(make_unit, make_user, make_course, enroll, **course_args) -> World:
    ward = make_unit(code="31135", name="Phường Ninh Kiều")
    other = make_unit(code="31147", name="Phường Cái Khế")
    course = make_course(**course_args)
    trainee = make_user(Role.trainee, unit=ward, username="hv.ninhkieu.1", full_name="Nguyễn Thị Ánh Tuyết")
    classmate = make_user(Role.trainee, unit=ward, username="hv.ninhkieu.2", full_name="Trần Văn Đức")
    stranger = make_user(Role.trainee, unit=other, username="hv.caikhe.1", full_name="Lê Hoàng Yến")
    for person in (trainee, classmate, stranger):
        enroll(person, course)
    return World(
        ward=ward, other_ward=other, course=course, trainee=trainee, classmate=classmate, stranger=stranger,
        officer=make_user(Role.officer, unit=ward, username="canbo.ninhkieu", full_name="Phạm Minh Quân"),
        other_officer=make_user(Role.officer, unit=other, username="canbo.caikhe", full_name="Võ Văn Sơn"),
        reviewer=make_user(Role.reviewer, username="bantochuc", full_name="Nguyễn Thị Thu Hương"),
        admin=make_user(Role.admin, username="quantri", full_name="Quản trị"),
    )


def counts() -> dict[str, int]:
    """Rows of every essays table, and files under DATA_DIR/files."""
    from essays.models import Essay, EssayVersion, IndexOutbox
    from essays.storage import stored_files

    db.session.expire_all()
    result = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
              for model in (Essay, EssayVersion, IndexOutbox)}
    result["files"] = len(stored_files(Path(current_app.config["DATA_DIR"])))
    return result


NOTHING = {"essay": 0, "essay_version": 0, "index_outbox": 0, "files": 0}
