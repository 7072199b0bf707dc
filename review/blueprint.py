"""Registers the review feature with the host app."""
from __future__ import annotations

from flask import Flask, url_for

from lms.models import Course, Role, User


def init_app(app: Flask) -> None:
    """Register the review pages, API and CLI."""
    from review.completeness import views as completeness_views
    from review.report import views as report_views
    from review.tagging import search_themes
    from review.tagging import views as tagging_views
    from review.wards import views as wards_views

    tagging_views.init_app(app)
    search_themes.init_app(app)
    completeness_views.init_app(app)
    report_views.init_app(app)
    wards_views.init_app(app)
    app.extensions.setdefault("thuhoach.lti_instructor_target", []).append(_lti_instructor_target)


def _lti_instructor_target(user: User, course: Course) -> str | None:
    """A teacher coming from the LMS sees the completeness of that course: their unit's, or all."""
    if user.role == Role.officer and user.unit is not None:
        return url_for("completeness.unit_table", course_id=course.id, code=user.unit.code)
    if user.is_board:
        return url_for("completeness.overview", course_id=course.id)
    return None
