"""Host pages: home by role, administration of units, courses and users, error pages."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from lms import audit_text, numfmt, throttle, timefmt
from lms.courses import (
    CourseError,
    add_topic,
    create_course,
    describe_changes,
    move_topic,
    rename_topic,
    update_course,
    visible_courses,
)
from lms.db import db
from lms.errors import ERROR_MESSAGES
from lms.forms import CourseEditForm, CourseForm, EmptyForm, TopicForm, UnitForm, UserForm
from lms.hooks import HOME, NAV
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.params import parse_int
from lms.security import audit, audit_read, generate_password, role_required
from lms.sessions import end_sessions
from lms.transaction import committed
from lms.units import UnitError, add_unit
from lms.users import UserError, can_reset_password_of, create_user, reset_password

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
    app.jinja_env.filters["audit_action"] = audit_text.action_label
    app.jinja_env.filters["audit_detail"] = audit_text.detail_text
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
    for provider in NAV.providers(app):
        links.extend(provider(current_user))
    if current_user.role == Role.admin:
        links += [(url_for("pages.admin_units"), "Đơn vị"), (url_for("pages.admin_courses"), "Lớp học"),
                  (url_for("pages.admin_users"), "Người dùng"), (url_for("pages.admin_throttle"), "Đăng nhập bị chặn"),
                  (url_for("pages.admin_audit"), "Nhật ký")]
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
    # What the exception says about itself (Allow for a 405, WWW-Authenticate …), not its body type.
    headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
    if is_api_request():
        body, status = error_response(code)
        body.headers.update(headers)
        return body, status
    try:
        return render_template("errors/error.html", code=code, message=_page_message(code)), code, headers
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        logger.exception("error page %s could not be rendered", code)
        db.discard_session()
        return _BARE_ERROR_PAGE.format(code=code, message=_page_message(code)), code, {
            **headers, "Content-Type": "text/html; charset=utf-8"}


def _csrf_error(err: CSRFError):
    from lms.api import error_response, is_api_request

    message = "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Vui lòng tải lại trang và thử lại."
    if is_api_request():
        return error_response(400, message, "csrf")
    return render_template("errors/error.html", code=400, message=message), 400


def _page_message(code: int | None) -> str:
    return ERROR_MESSAGES.get(code or 500, ("", "Có lỗi xảy ra."))[1]


@bp.route("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page links; answer instead of logging a 404.
    return current_app.send_static_file("favicon.svg")


@bp.route("/")
@login_required
def index():
    # Each feature may claim the home page for a role (trainees → their essays, officers → completeness).
    for home in HOME.providers():
        target = home(current_user)
        if target:
            return redirect(target)
    return render_template("pages/index.html", courses=visible_courses(current_user))


@bp.route("/admin/units", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_units():
    form = UnitForm()
    if form.validate_on_submit():
        with committed(UnitError) as outcome:
            unit = add_unit(form.code.data, form.name.data)
            audit("unit.added", target=unit.code)
            outcome.success = f"Đã thêm đơn vị {unit.name}."
        if outcome.ok:
            return redirect(url_for("pages.admin_units"))
    units = db.session.scalars(select(Unit).order_by(Unit.province_code, Unit.code)).all()
    return render_template("admin/units.html", form=form, units=units)


@bp.route("/admin/courses", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_courses():
    form = CourseForm()
    if form.validate_on_submit():
        with committed(ValueError, message=_course_refusal) as outcome:
            course = create_course(
                form.name.data,
                starts_on=timefmt.parse_vn_date(form.starts_on.data),
                ends_on=timefmt.parse_vn_date(form.ends_on.data),
                essay_due_at=timefmt.parse_local(form.essay_due.data),
                cutoff_at=timefmt.parse_local(form.cutoff.data),
                topics=form.topics.data.splitlines())
            audit("course.created", target=str(course.id))
            outcome.success = f"Đã tạo lớp {course.name}."
        if outcome.ok:
            return redirect(url_for("pages.admin_courses"))
    counts = dict(db.session.execute(
        select(Enrollment.course_id, func.count()).group_by(Enrollment.course_id)).all())
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc())).all()
    return render_template("admin/courses.html", form=form, courses=courses, counts=counts)


def _course_refusal(exc: BaseException) -> str:
    """Our CourseError says what is wrong; any other ValueError came from a date that did not parse."""
    return str(exc) if isinstance(exc, CourseError) else "Ngày phải theo dạng dd/mm/yyyy."


def _course_or_404(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404)
    return course


@bp.route("/admin/courses/<int:course_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_course(course_id: int):
    """Edit a class: name, description, due and cut-off (lateness follows), and its topics."""
    course = _course_or_404(course_id)
    form = CourseEditForm(obj=None if request.method == "POST" else course,
                          data=None if request.method == "POST" else {
                              "essay_due": timefmt.to_local(course.essay_due_at).replace(tzinfo=None),
                              "cutoff": timefmt.to_local(course.cutoff_at).replace(tzinfo=None)})
    status = 200
    if form.validate_on_submit():
        with committed(CourseError) as outcome:
            changes = update_course(course, name=form.name.data, description=form.description.data or "",
                                    essay_due_at=timefmt.parse_local(form.essay_due.data) if form.essay_due.data else None,
                                    cutoff_at=timefmt.parse_local(form.cutoff.data) if form.cutoff.data else None)
            if changes:
                audit("course.updated", target=str(course.id), detail=describe_changes(changes))
            outcome.success = f"Đã lưu: {describe_changes(changes)}." if changes else "Không có gì thay đổi."
        if outcome.ok:
            return redirect(url_for("pages.admin_course", course_id=course.id))
        status = 422
    return render_template("admin/course.html", course=course, form=form, topic_form=TopicForm(),
                           empty=EmptyForm()), 422 if form.errors else status


@bp.route("/admin/courses/<int:course_id>/topics", methods=["POST"])
@bp.route("/admin/courses/<int:course_id>/topics/<int:topic_id>", methods=["POST"])
@role_required(Role.admin)
def admin_topic(course_id: int, topic_id: int | None = None):
    """Add a topic, rename one, or move it up/down (`move` = -1/1)."""
    course = _course_or_404(course_id)
    topic = None
    if topic_id is not None:
        topic = db.session.get(Topic, topic_id)
        if topic is None or topic.course_id != course.id:
            abort(404)
    form = TopicForm() if request.form.get("move") is None else EmptyForm()
    if not form.validate_on_submit():
        flash("Vui lòng nhập tên chủ đề.", "danger")
        return redirect(url_for("pages.admin_course", course_id=course.id))
    with committed(CourseError) as outcome:
        if topic is None:
            topic = add_topic(course, form.title.data)
            what = f"thêm {topic.label}"
        elif request.form.get("move") is not None:
            move_topic(course, topic, -1 if request.form["move"] == "-1" else 1)
            what = f"đổi thứ tự: {topic.label}"
        else:
            old = topic.label
            rename_topic(topic, form.title.data)
            what = f"đổi tên {old} → {topic.label}"
        audit("course.topics_changed", target=str(course.id), detail=what)
        outcome.success = f"Đã {what}."
    return redirect(url_for("pages.admin_course", course_id=course.id))


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_users():
    form = UserForm()
    form.role.choices = [(r.value, r.label) for r in Role]
    if form.validate_on_submit():
        with committed(UserError, ValueError) as outcome:
            password = generate_password()
            user = create_user(form.username.data, role=Role(form.role.data), password=password,
                               full_name=form.full_name.data, unit_code=form.unit_code.data or None)
            audit("user.created", target=user.username, detail=f"role={user.role.value}")
            outcome.success = f"Đã tạo tài khoản {user.username}, mật khẩu ban đầu: {password}"
        if outcome.ok:
            return redirect(url_for("pages.admin_users"))
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
        with committed() as outcome:
            password = reset_password(user)
            end_sessions(user)
            audit("password.reset", target=user.username)
            outcome.success = f"Mật khẩu mới của {user.username}: {password}"
    return redirect(url_for("pages.admin_users"))


def _local_path(value: str | None) -> str | None:
    """A same-site path to go back to, or None (never another site: "//host" or "http:")."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@bp.route("/unit/trainees/<int:user_id>/password", methods=["GET", "POST"])
@role_required(Role.officer)
def officer_reset_password(user_id: int):
    """An officer gives a trainee of their own unit a new password: confirm by name, then shown once."""
    officer = current_user._get_current_object()
    trainee = db.session.get(User, user_id)
    if trainee is None or not can_reset_password_of(officer, trainee):
        abort(404)
    form = EmptyForm()
    password = None
    if form.validate_on_submit():
        with committed():
            password = reset_password(trainee)
            end_sessions(trainee)
            audit("password.reset", target=trainee.username, detail="by=officer")
    response = current_app.make_response(render_template(
        "auth/officer_reset.html", trainee=trainee, form=form, password=password,
        back=_local_path(request.values.get("next")) or url_for("pages.index")))
    response.headers["Cache-Control"] = "no-store"  # the new password must not stay in a cache
    return response


@bp.route("/admin/users/<int:user_id>/end-sessions", methods=["POST"])
@role_required(Role.admin)
def admin_end_sessions(user_id: int):
    form = EmptyForm()
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if form.validate_on_submit():
        with committed() as outcome:
            ended = end_sessions(user)
            audit("sessions.ended", target=user.username, detail=f"sessions={ended}")
            outcome.success = f"Đã đăng xuất {user.username} khỏi mọi thiết bị ({ended} phiên)."
    return redirect(url_for("pages.admin_users"))


THROTTLE_KINDS = {"pair": "Tài khoản từ một địa chỉ", "user": "Tài khoản", "addr": "Địa chỉ"}


@bp.route("/admin/blocked-logins")
@role_required(Role.admin)
def admin_throttle():
    return render_template("admin/throttle.html", blocked=throttle.blocked_now(), kinds=THROTTLE_KINDS)


@bp.route("/admin/blocked-logins/release", methods=["POST"])
@role_required(Role.admin)
def admin_release_login():
    form = EmptyForm()
    key = request.form.get("key", "")[:200]
    if form.validate_on_submit() and key:
        with committed() as outcome:
            if throttle.release(key):
                audit("login.released", target=key)
                outcome.success = "Đã mở khoá."
    return redirect(url_for("pages.admin_throttle"))


AUDIT_PAGE_SIZE = 100


@bp.route("/admin/audit")
@role_required(Role.admin)
def admin_audit():
    from lms.models import AuditEvent

    action = request.args.get("action", "").strip()
    who = request.args.get("user", "").strip()
    page = parse_int(request.args.get("page", "1"), low=1, high=100_000) or 1
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
