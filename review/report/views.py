"""The report's pages; figures and files come from `review.report.data`, `xlsx`, `docx`."""
from __future__ import annotations

from typing import Iterable

from flask import Blueprint, Flask, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from lms.courses import visible_courses
from lms.db import db, reads_first
from lms.hooks import NAV
from lms.jobs import enqueue_job, register_handler
from lms.models import BOARD_ROLES, STAFF_ROLES, Course, Enrollment, Role, Unit, User
from lms.params import parse_id
from lms.security import audit, audit_read, course_or_404, role_required, unit_or_404
from lms.text import vn_sort_key
from lms.timefmt import iso
from lms.transaction import committed, write_after_reads
from review.report import api as report_api
from review.report.cli import report_cli
from review.report.data import BOTH, FORMATS, MIMETYPES, ReportError, build_report_data
from review.report.operations import JOB_KIND, build_file, filters_detail, report_target, run_report_job
from review.report.prose import ReportProse, report_prose, save_prose
from review.tagging.models import Theme
from review.web import as_of_from_request, download_response, parse_as_of

bp = Blueprint("report", __name__, url_prefix="/report")
STAFF = STAFF_ROLES
# Above this many enrolled trainees the pages build the files in the background job.
DEFAULT_SYNC_MAX_TRAINEES = 3000


def init_app(app: Flask) -> None:
    """Register the report pages, API, job handler, CLI and menu entry."""
    app.register_blueprint(bp)
    report_api.init_app(app)
    register_handler(app, JOB_KIND, run_report_job)
    app.cli.add_command(report_cli)
    NAV.register(app, _nav)


def _nav(user: User) -> list[tuple[str, str]]:
    return [(url_for("report.index"), "Báo cáo")] if user.role in STAFF else []


def _download(content: bytes, name: str, fmt: str) -> Response:
    return download_response(content, name, MIMETYPES[fmt], fallback=f"bao-cao.{fmt}")


def _int_list(values: Iterable[str]) -> list[int] | None:
    ids = sorted({i for i in (parse_id(v) for v in values) if i is not None})
    return ids or None


def _enrolled(course: Course, unit_ids: list[int] | None) -> int:
    query = select(func.count(Enrollment.id)).where(Enrollment.course_id == course.id)
    if unit_ids is not None:
        query = query.where(Enrollment.unit_id.in_(unit_ids))
    return db.session.scalar(query) or 0


def _choices(course: Course) -> tuple[list[Unit], list[Theme]]:
    units = db.session.scalars(select(Unit).where(Unit.id.in_(
        select(Enrollment.unit_id).where(Enrollment.course_id == course.id)))).all()
    themes = db.session.scalars(select(Theme).where(Theme.merged_into_id.is_(None))).all()
    return (sorted(units, key=lambda u: vn_sort_key(u.name)), sorted(themes, key=lambda t: vn_sort_key(t.name)))


# --- pages -----------------------------------------------------------------------------------------

@bp.route("/")
@role_required(*STAFF)
def index():
    courses = visible_courses(current_user)
    return render_template("report/index.html", courses=courses, unit=current_user.unit
                           if current_user.role == Role.officer else None)


def _page(course: Course, unit: Unit | None):
    as_of, as_of_text = as_of_from_request()
    unit_ids = [unit.id] if unit else _int_list(request.args.getlist("unit"))
    theme_ids = _int_list(request.args.getlist("theme"))
    data = build_report_data(course, as_of, unit_ids, theme_ids, unit=unit, with_missing=False)
    units, themes = _choices(course)
    return render_template(
        "report/build.html", course=course, unit=unit, data=data, totals=data.totals,
        theme_totals=data.themes.totals(), theme_rows=data.themes.themes.to_dict("records"),
        unit_rows=data.figures.units.to_dict("records"), topic_rows=data.topic_rows(), as_of_text=as_of_text,
        all_units=units, all_themes=themes, unit_ids=set(unit_ids or []), theme_ids=set(theme_ids or []),
        courses=visible_courses(current_user), prose=report_prose(course.id, unit))


def _build(course: Course, unit: Unit | None):
    fmt = request.form.get("format", "")
    back = (url_for("report.unit_report", course_id=course.id, code=unit.code) if unit
            else url_for("report.course_report", course_id=course.id))
    if fmt not in (*FORMATS, BOTH):
        flash("Định dạng phải là .xlsx, .docx hoặc cả hai (.zip).", "danger")
        return redirect(back)
    try:
        as_of = parse_as_of(request.form.get("as_of"))
    except ValueError:
        flash("Thời điểm phải theo dạng dd/mm/yyyy HH:MM, ví dụ 27/5/2026 08:00.", "danger")
        return redirect(back)
    unit_ids = [unit.id] if unit else _int_list(request.form.getlist("unit"))
    theme_ids = _int_list(request.form.getlist("theme"))
    user = current_user._get_current_object()
    limit = int(current_app.config.get("REPORT_SYNC_MAX_TRAINEES", DEFAULT_SYNC_MAX_TRAINEES))
    if _enrolled(course, unit_ids) > limit:
        with write_after_reads():  # the job is queued in a write transaction
            job = enqueue_job(JOB_KIND, {"course_id": course.id, "unit_id": unit.id if unit else None, "format": fmt,
                                         "as_of": iso(as_of) if as_of else None, "unit_ids": unit_ids,
                                         "theme_ids": theme_ids}, user)
            audit("report.exported", target=report_target(course, unit),
                  detail=filters_detail(fmt, as_of, unit_ids, theme_ids, f"job:{job.id}"))
        return redirect(url_for("pages.job", job_id=job.id))
    # Built in a read transaction (the view is reads_first): uploads are not held up meanwhile.
    content, name, _data = build_file(course, fmt, as_of, unit_ids, theme_ids, unit)
    audit_read("report.exported", target=report_target(course, unit),
               detail=filters_detail(fmt, as_of, unit_ids, theme_ids, "page"))
    return _download(content, name, fmt)


def _settings(course: Course, unit: Unit | None):
    back = (url_for("report.unit_report", course_id=course.id, code=unit.code) if unit
            else url_for("report.course_report", course_id=course.id))
    prose = report_prose(course.id, unit)
    if request.method == "POST":
        values: dict = {name: request.form.get(name, "") for name in ReportProse.FIELDS}
        if unit is not None:
            values["cite_names"] = request.form.get("cite_names") == "1"
        with committed(ReportError, success="Đã lưu nội dung báo cáo.") as outcome:
            save_prose(course.id, unit, values, current_user._get_current_object())
            audit("report.settings_saved", target=report_target(course, unit))
        if outcome.ok:
            return redirect(back)
        prose = ReportProse(**values)  # cite_names included for a unit
    return render_template("report/settings.html", course=course, unit=unit, prose=prose, back=back)


@bp.route("/<int:course_id>")
@role_required(*BOARD_ROLES)
def course_report(course_id: int):
    return _page(course_or_404(course_id), None)


@bp.route("/<int:course_id>/build", methods=["POST"])
@role_required(*BOARD_ROLES)
@reads_first
def course_build(course_id: int):
    return _build(course_or_404(course_id), None)


@bp.route("/<int:course_id>/settings", methods=["GET", "POST"])
@role_required(*BOARD_ROLES)
def course_settings(course_id: int):
    return _settings(course_or_404(course_id), None)


@bp.route("/<int:course_id>/units/<code>")
@role_required(*STAFF)
def unit_report(course_id: int, code: str):
    return _page(course_or_404(course_id), unit_or_404(code))


@bp.route("/<int:course_id>/units/<code>/build", methods=["POST"])
@role_required(*STAFF)
@reads_first
def unit_build(course_id: int, code: str):
    return _build(course_or_404(course_id), unit_or_404(code))


@bp.route("/<int:course_id>/units/<code>/settings", methods=["GET", "POST"])
@role_required(*STAFF)
def unit_settings(course_id: int, code: str):
    return _settings(course_or_404(course_id), unit_or_404(code))
