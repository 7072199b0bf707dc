"""Creating courses and their topics; enrolment lookups."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lms.db import db
from lms.hooks import COURSE_CHANGED
from lms.models import Course, Enrollment, Role, Topic, User
from lms.text import has_control_characters
from lms.timefmt import fmt_datetime

_CONTROL_MESSAGE = "{what} có ký tự điều khiển không hợp lệ; vui lòng gõ lại."


def _check_typed(what: str, *texts: str | None) -> None:
    # A control character would be stored, then break every .docx/.xlsx that shows the value.
    if any(t and has_control_characters(t) for t in texts):
        raise CourseError(_CONTROL_MESSAGE.format(what=what))


class CourseError(ValueError):
    """A course request that cannot be done; the message is for the user."""


def create_course(name: str, *, starts_on: dt.date, ends_on: dt.date, essay_due_at: dt.datetime,
                  cutoff_at: dt.datetime, topics: list[str], description: str | None = None) -> Course:
    """Create a course with its topics, after checking that dates and topics make sense."""
    _check_typed("Tên lớp", name)
    _check_typed("Mô tả", description)
    _check_typed("Tên chủ đề", *topics)
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


_FIELD_LABELS = {"name": "tên lớp", "description": "mô tả", "essay_due_at": "hạn nộp", "cutoff_at": "hạn chót"}


def update_course(course: Course, *, name: str | None = None, description: str | None = None,
                  essay_due_at: dt.datetime | None = None, cutoff_at: dt.datetime | None = None) -> dict[str, tuple]:
    """Change a course's name, description or deadlines; returns {field: (old, new)} of what changed.

    Checks everything before changing anything; flushes, then tells the features (hook
    `lms.hooks.COURSE_CHANGED`: essays re-judges lateness against the deadline now in force, review
    notifies the trainees). The caller audits and commits.
    """
    wanted: dict[str, object] = {}
    _check_typed("Tên lớp", name)
    _check_typed("Mô tả", description)
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise CourseError("Vui lòng nhập tên lớp.")
        if len(name) > 300:
            raise CourseError("Tên lớp dài quá 300 ký tự.")
        wanted["name"] = name
    if description is not None:
        wanted["description"] = description.strip() or None
    due = essay_due_at if essay_due_at is not None else course.essay_due_at
    cutoff = cutoff_at if cutoff_at is not None else course.cutoff_at
    if cutoff < due:
        raise CourseError("Hạn chót không được sớm hơn hạn nộp bài.")
    if essay_due_at is not None:
        wanted["essay_due_at"] = essay_due_at
    if cutoff_at is not None:
        wanted["cutoff_at"] = cutoff_at
    changes = {key: (getattr(course, key), value) for key, value in wanted.items() if getattr(course, key) != value}
    for key, (_old, new) in changes.items():
        setattr(course, key, new)
    if changes:
        db.session.flush()
        for hook in COURSE_CHANGED.providers():
            hook(course, changes)
    return changes


def describe_changes(changes: dict[str, tuple]) -> str:
    """The changes in Vietnamese, for the audit log and the trainees' notice."""

    parts = []
    for key, (old, new) in changes.items():
        show = fmt_datetime if isinstance(new, dt.datetime) else (lambda v: v or "(trống)")
        parts.append(f"{_FIELD_LABELS[key]}: {show(old)} → {show(new)}")
    return "; ".join(parts)


def add_topic(course: Course, title: str) -> Topic:
    """Add a topic at the end of the course."""
    _check_typed("Tên chủ đề", title)
    title = " ".join(title.split())
    if not title:
        raise CourseError("Vui lòng nhập tên chủ đề.")
    topic = Topic(position=max((t.position for t in course.topics), default=0) + 1, title=title)
    course.topics.append(topic)
    db.session.flush()
    return topic


def rename_topic(topic: Topic, title: str) -> None:
    """Give a topic a new title (its essays stay with it)."""
    _check_typed("Tên chủ đề", title)
    title = " ".join(title.split())
    if not title:
        raise CourseError("Vui lòng nhập tên chủ đề.")
    topic.title = title
    db.session.flush()


def move_topic(course: Course, topic: Topic, step: int) -> None:
    """Swap a topic with its neighbour (step -1: up, +1: down); positions stay 1..n and unique."""
    ordered = sorted(course.topics, key=lambda t: t.position)
    index = ordered.index(topic)
    other_index = index + step
    if not 0 <= other_index < len(ordered):
        return
    other = ordered[other_index]
    # (course_id, position) is unique: go through a free position so no flush sees a duplicate.
    a, b = topic.position, other.position
    topic.position = -a
    db.session.flush()
    other.position = a
    db.session.flush()
    topic.position = b
    db.session.flush()
