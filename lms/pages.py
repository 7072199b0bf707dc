"""Host pages: home by role, administration of units, courses and users, error pages."""
from __future__ import annotations

import logging

from flask import (Blueprint, Flask, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from lms import numfmt, timefmt
from lms.courses import CourseError, create_course, visible_courses
from lms.db import db
from lms.forms import CourseForm, EmptyForm, UnitForm, UserForm
from lms.models import Course, Enrollment, Role, Unit, User
from lms.security import audit, audit_read, generate_password, role_required
from lms.sessions import end_sessions
from lms.units import UnitError, add_unit
from lms.users import UserError, create_user, reset_password

bp = Blueprint("pages", __name__)
logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Register the host pages, template helpers and error handlers."""
    app.register_blueprint(bp)
    app.jinja_env.filters["dt"] = timefmt.fmt_datetime
    app.jinja_env.filters["d"] = timefmt.fmt_date
    app.jinja_env.filters["remaining"] = timefmt.fmt_remaining
    app.jinja_env.filters["num"] = numfmt.fmt_int
    app.jinja_env.filters["dec"] = numfmt.fmt_decimal
    app.jinja_env.filters["pct"] = numfmt.fmt_percent
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.globals["nav_links"] = lambda: _nav_links(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # A view that names its own frame-ancestors (LTI content selection, framed by the LMS)
        # decides framing; X-Frame-Options cannot list origins and would forbid it.
        if "frame-ancestors" not in response.headers.get("Content-Security-Policy", ""):
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'")
        return response


def _nav_links(app: Flask) -> list[tuple[str, str]]:
    """Menu entries for the current user, contributed by the host and the features."""
    if not current_user.is_authenticated:
        return []
    links: list[tuple[str, str]] = []
    for provider in app.extensions.get("thuhoach.nav", []):
        links.extend(provider(current_user))
    if current_user.role == Role.admin:
        links += [(url_for("pages.admin_units"), "Đơn vị"), (url_for("pages.admin_courses"), "Lớp học"),
                  (url_for("pages.admin_users"), "Người dùng"), (url_for("pages.admin_audit"), "Nhật ký")]
    return links


# Shown when even the error page cannot be rendered (the database is gone): no template, no query.
_BARE_ERROR_PAGE = ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Lỗi {code}</title>"
                    "</head><body><h1>Lỗi {code}</h1><p>{message}</p><p><a href=\"/\">Về trang chủ</a></p>"
                    "</body></html>")


def _http_error(err: HTTPException):
    from lms.api import error_response, is_api_request

    code = err.code or 500
    if code >= 500:
        # The failed request may have left its session unusable (PendingRollbackError): the page
        # below asks the database for the menu, so start it clean.
        db.discard_session()
    if is_api_request():
        return error_response(code)
    try:
        return render_template("errors/error.html", code=code, message=_page_message(code)), code
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        logger.exception("error page %s could not be rendered", code)
        db.discard_session()
        return _BARE_ERROR_PAGE.format(code=code, message=_page_message(code)), code, {
            "Content-Type": "text/html; charset=utf-8"}


def _csrf_error(err: CSRFError):
    from lms.api import error_response, is_api_request

    message = "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và thử lại."
    if is_api_request():
        return error_response(400, message, "csrf")
    return render_template("errors/error.html", code=400, message=message), 400


def _page_message(code: int | None) -> str:
    from lms.api import ERROR_MESSAGES

    return ERROR_MESSAGES.get(code or 500, ("", "Có lỗi xảy ra."))[1]


@bp.route("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page links; answer instead of logging a 404.
    return current_app.send_static_file("favicon.svg")


@bp.route("/")
@login_required
def index():
    # Each feature may claim the home page for a role (trainees → their essays, officers → completeness).
    for home in current_app.extensions.get("thuhoach.home", []):
        target = home(current_user)
        if target:
            return redirect(target)
    return render_template("pages/index.html", courses=visible_courses(current_user))


@bp.route("/admin/units", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_units():
    form = UnitForm()
    if form.validate_on_submit():
        try:
            unit = add_unit(form.code.data, form.name.data)
            audit("unit.added", target=unit.code)
            db.session.commit()
            flash(f"Đã thêm đơn vị {unit.name}.", "success")
            return redirect(url_for("pages.admin_units"))
        except UnitError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    units = db.session.scalars(select(Unit).order_by(Unit.province_code, Unit.code)).all()
    return render_template("admin/units.html", form=form, units=units)


@bp.route("/admin/courses", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_courses():
    form = CourseForm()
    if form.validate_on_submit():
        try:
            course = create_course(
                form.name.data,
                starts_on=timefmt.parse_vn_date(form.starts_on.data),
                ends_on=timefmt.parse_vn_date(form.ends_on.data),
                essay_due_at=timefmt.parse_local(form.essay_due.data),
                cutoff_at=timefmt.parse_local(form.cutoff.data),
                topics=form.topics.data.splitlines())
            audit("course.created", target=str(course.id))
            db.session.commit()
            flash(f"Đã tạo lớp {course.name}.", "success")
            return redirect(url_for("pages.admin_courses"))
        except ValueError as exc:
            db.session.rollback()
            message = str(exc) if isinstance(exc, CourseError) else "Ngày phải theo dạng dd/mm/yyyy."
            flash(message, "danger")
    counts = dict(db.session.execute(
        select(Enrollment.course_id, func.count()).group_by(Enrollment.course_id)).all())
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc())).all()
    return render_template("admin/courses.html", form=form, courses=courses, counts=counts)


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_users():
    form = UserForm()
    form.role.choices = [(r.value, r.label) for r in Role]
    if form.validate_on_submit():
        try:
            password = generate_password()
            user = create_user(form.username.data, role=Role(form.role.data), password=password,
                               full_name=form.full_name.data, unit_code=form.unit_code.data or None)
            user.initial_password = password
            audit("user.created", target=user.username, detail=f"role={user.role.value}")
            db.session.commit()
            flash(f"Đã tạo tài khoản {user.username}, mật khẩu ban đầu: {password}", "success")
            return redirect(url_for("pages.admin_users"))
        except (UserError, ValueError) as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    q = request.args.get("q", "").strip()
    query = select(User).order_by(User.role, User.username).limit(200)
    if q:
        query = query.where(User.username.contains(q) | User.full_name.contains(q))
    users = db.session.scalars(query).all()
    return render_template("admin/users.html", form=form, users=users, q=q, reset_form=EmptyForm())


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@role_required(Role.admin)
def admin_reset_password(user_id: int):
    form = EmptyForm()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if form.validate_on_submit():
        password = reset_password(user)
        end_sessions(user)
        audit("password.reset", target=user.username)
        db.session.commit()
        flash(f"Mật khẩu mới của {user.username}: {password}", "success")
    return redirect(url_for("pages.admin_users"))


@bp.route("/admin/users/<int:user_id>/end-sessions", methods=["POST"])
@role_required(Role.admin)
def admin_end_sessions(user_id: int):
    form = EmptyForm()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if form.validate_on_submit():
        ended = end_sessions(user)
        audit("sessions.ended", target=user.username, detail=f"sessions={ended}")
        db.session.commit()
        flash(f"Đã đăng xuất {user.username} khỏi mọi thiết bị ({ended} phiên).", "success")
    return redirect(url_for("pages.admin_users"))


AUDIT_PAGE_SIZE = 100


@bp.route("/admin/audit")
@role_required(Role.admin)
def admin_audit():
    from lms.models import AuditEvent

    action = request.args.get("action", "").strip()
    who = request.args.get("user", "").strip()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if who:
        query = query.where(AuditEvent.username == who)
    events = db.session.scalars(query.offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)).all()
    return render_template("admin/audit.html", events=events[:AUDIT_PAGE_SIZE], has_more=len(events) > AUDIT_PAGE_SIZE,
                           page=page, action=action, who=who)


@bp.route("/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    from lms.jobs import job_json, job_or_404

    found = job_or_404(job_id, current_user)
    return render_template("pages/job.html", job=found, state=job_json(found))


@bp.route("/jobs/<int:job_id>/download")
@login_required
def job_download(job_id: int):
    from pathlib import Path

    from flask import send_file

    from lms.jobs import job_or_404

    found = job_or_404(job_id, current_user)
    if found.status != "done" or not found.result_path or not Path(found.result_path).is_file():
        abort(404)
    audit_read("job.downloaded", target=f"job:{found.id}", detail=found.kind)
    return send_file(found.result_path, as_attachment=True, download_name=found.result_name or Path(found.result_path).name)
