"""Registers the review feature with the host app."""
from __future__ import annotations

from flask import Flask, url_for

from lms.courses import describe_changes
from lms.db import db, utcnow
from lms.hooks import COURSE_CHANGED, LTI_INSTRUCTOR_TARGET
from lms.models import Course, Enrollment, Role, User
from review.completeness import views as completeness_views
from review.completeness.models import Notice
from review.report import views as report_views
from review.tagging import search_themes, views as tagging_views
from review.wards import views as wards_views


def init_app(app: Flask) -> None:
    """Register the review pages, API and CLI."""

    tagging_views.init_app(app)
    search_themes.init_app(app)
    completeness_views.init_app(app)
    report_views.init_app(app)
    wards_views.init_app(app)
    LTI_INSTRUCTOR_TARGET.register(app, _lti_instructor_target)
    COURSE_CHANGED.register(app, _notify_course_changed)


def _notify_course_changed(course: Course, changes: dict) -> None:
    """Tell every trainee of the course, in the app, what changed (name or deadlines)."""
    from sqlalchemy import insert, literal, select


    text = (f"Lớp «{course.name}» đã thay đổi: {describe_changes(changes)}.\n\n"
            "Xem thời hạn nộp bài của bạn tại trang «Bài thu hoạch của tôi».")
    now = utcnow()
    db.session.execute(insert(Notice).from_select(
        ["user_id", "text", "created_at"],
        select(Enrollment.user_id, literal(text), literal(now, Notice.created_at.type))
        .where(Enrollment.course_id == course.id)))


def _lti_instructor_target(user: User, course: Course) -> str | None:
    """A teacher coming from the LMS sees the completeness of that course: their unit's, or all."""
    if user.role == Role.officer and user.unit is not None:
        return url_for("completeness.unit_table", course_id=course.id, code=user.unit.code)
    if user.is_board:
        return url_for("completeness.overview", course_id=course.id)
    return None
