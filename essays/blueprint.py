"""Registers the essays feature with the host app."""
from __future__ import annotations

from flask import Flask, render_template, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from lms.hooks import COURSE_CHANGED, DEMO, HOME, LTI_LEARNER_TARGET, LTI_SUBMITTED, NAV, USER_HAS_WORK
from lms.limits import drain_refused_body
from lms.models import Role, User


def init_app(app: Flask) -> None:
    """Register the submission pages, API, demo step and the hooks of the host."""
    from essays import api, cli, demo, indexing, lateness, scan_jobs, search_views, views
    from lms.jobs import register_handler

    from lms.timefmt import iso

    app.register_blueprint(views.bp)
    register_handler(app, scan_jobs.JOB_KIND, scan_jobs.run_scan_job)
    app.add_template_filter(iso, "iso_local")
    api.init_app(app)
    indexing.init_app(app)
    app.cli.add_command(cli.search_cli)
    search_views.init_app(app)
    NAV.register(app, _nav)
    HOME.register(app, _home)
    DEMO.register(app, demo.hand_in_demo_essays)
    # LTI (lms.lti) asks these: where a learner lands, and who has handed in on a topic.
    LTI_LEARNER_TARGET.register(app, _lti_learner_target)
    LTI_SUBMITTED.register(app, _lti_submitted)
    USER_HAS_WORK.register(app, _has_essays)
    # A course's due time moved (lms.courses.update_course): lateness follows the deadline in force.
    COURSE_CHANGED.register(app, lateness.on_course_changed)
    # A body over MAX_CONTENT_LENGTH is refused by Werkzeug before any view runs: say why in Vietnamese.
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def _lti_learner_target(user: User, topic) -> str:
    return url_for("essays.submit", course_id=topic.course_id, topic_id=topic.id)


def _lti_submitted(topic_id: int, user_ids: list[int]) -> set[int]:
    from sqlalchemy import select

    from essays.models import Essay
    from lms.db import db

    if not user_ids:
        return set()
    return set(db.session.scalars(select(Essay.trainee_id).where(
        Essay.topic_id == topic_id, Essay.trainee_id.in_(user_ids), Essay.current_version_id.is_not(None))))


def _has_essays(user_id: int) -> bool:
    from sqlalchemy import select

    from essays.models import Essay
    from lms.db import db

    return db.session.scalar(select(Essay.id).where(Essay.trainee_id == user_id).limit(1)) is not None


def _nav(user: User) -> list[tuple[str, str]]:
    if user.role == Role.trainee:
        return [(url_for("essays.mine"), "Bài thu hoạch của tôi")]
    if user.role == Role.officer:
        # One page per unit: the officer's grid, extensions, on-behalf upload and reminders are on
        # the completeness unit page (review), not on a second essays list.
        return []
    links = [(url_for("essays.unit_essays"), "Bài thu hoạch"), (url_for("essays.extensions"), "Gia hạn")]
    if user.role in (Role.reviewer, Role.admin):
        links.append((url_for("essays.needs_reading"), "Bài viết tay"))
    return links


def _home(user: User) -> str | None:
    return url_for("essays.mine") if user.role == Role.trainee else None


def _too_large(err: RequestEntityTooLarge):
    from lms.api import error_response, is_api_request
    from essays.operations import too_large_message

    drain_refused_body()
    if is_api_request():
        return error_response(413, too_large_message(), "too_large")
    return render_template("errors/error.html", code=413, message=too_large_message()), 413
