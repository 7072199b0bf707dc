"""Creating courses and their topics; enrolment lookups."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.db import db
from lms.models import Course, Enrollment, Role, Topic, User


class CourseError(ValueError):
    """A course request that cannot be done; the message is for the user."""


def create_course(name: str, *, starts_on: dt.date, ends_on: dt.date, essay_due_at: dt.datetime,
                  cutoff_at: dt.datetime, topics: list[str], description: str | None = None) -> Course:
    """Create a course with its topics, after checking that dates and topics make sense."""
    name = " ".join(name.split())
    titles = [" ".join(t.split()) for t in topics if t and t.strip()]
    if not name:
        raise CourseError("Vui lòng nhập tên lớp.")
    if not titles:
        raise CourseError("Lớp phải có ít nhất một chủ đề bài thu hoạch.")
    if ends_on < starts_on:
        raise CourseError("Ngày kết thúc không được sớm hơn ngày bắt đầu.")
    if cutoff_at < essay_due_at:
        raise CourseError("Hạn chót không được sớm hơn hạn nộp bài.")
    course = Course(name=name, starts_on=starts_on, ends_on=ends_on, essay_due_at=essay_due_at,
                    cutoff_at=cutoff_at, description=description)
    course.topics = [Topic(position=i + 1, title=t) for i, t in enumerate(titles)]
    db.session.add(course)
    db.session.flush()
    return course


def visible_courses(user: User) -> list[Course]:
    """Courses the user may see: trainees their own enrolments, everyone else all courses."""
    query = select(Course).order_by(Course.starts_on.desc(), Course.id.desc())
    if user.role == Role.trainee:
        query = query.join(Enrollment, Enrollment.course_id == Course.id).where(Enrollment.user_id == user.id)
    return list(db.session.scalars(query).unique())


def enrollment_of(user: User, course_id: int) -> Enrollment | None:
    """The user's enrolment in a course, if any."""
    return db.session.scalar(select(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.course_id == course_id))
