"""The report's pages, API, background job and CLI; figures and files come from `review.report`."""
from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path
from typing import Any, Iterable

import click
from flask import (Blueprint, Flask, Response, current_app, flash, redirect, render_template, request,
                   url_for)
from flask.cli import AppGroup
from flask_login import current_user
from sqlalchemy import func, select

from lms.api import (ApiError, add_openapi_paths, api_login_required, as_of_arg, register_api_blueprint,
                     std_responses)
from lms.courses import visible_courses
from lms.db import db, read_only
from lms.jobs import enqueue_job, jobs_dir, register_handler
from lms.models import Course, Enrollment, Role, Unit, User
from lms.security import audit, course_or_404, role_required, unit_or_404
from lms.text import vn_sort_key
from lms.timefmt import fmt_datetime, iso, parse_iso
from review.completeness_views import as_of_from_request, download_response, parse_as_of
from review.models.tagging import Theme
from review.report import (FORMATS, MIMETYPES, ReportData, ReportError, ReportProse, build_report_data,
                           file_name, report_docx, report_prose, report_xlsx, save_prose)

bp = Blueprint("report", __name__, url_prefix="/report")
api_bp = Blueprint("report_api", __name__, url_prefix="/api/v1")
report_cli = AppGroup("report", help="Báo cáo gửi Ban Thường vụ.")
BOARD = (Role.admin, Role.reviewer)
STAFF = (Role.admin, Role.reviewer, Role.officer)
JOB_KIND = "report.build"
# Above this many enrolled trainees the pages build the files in the background job.
DEFAULT_SYNC_MAX_TRAINEES = 3000


def init_app(app: Flask) -> None:
    """Register the report pages, API, job handler, CLI and menu entry."""
    app.register_blueprint(bp)
    register_api_blueprint(app, api_bp)
    add_openapi_paths(app, _PATHS)
    register_handler(app, JOB_KIND, run_report_job)
    app.cli.add_command(report_cli)
    app.extensions.setdefault("thuhoach.nav", []).append(_nav)


def _nav(user: User) -> list[tuple[str, str]]:
    return [(url_for("report.index"), "Báo cáo")] if user.role in STAFF else []


# --- building (shared by pages, API, job and CLI) ----------------------------------------------------

def build_file(course: Course, fmt: str, as_of: dt.datetime | None, unit_ids: list[int] | None = None,
               theme_ids: list[int] | None = None, unit: Unit | None = None) -> tuple[bytes, str, ReportData]:
    """Compute the figures and build one file; returns (bytes, download name, data)."""
    if fmt not in FORMATS:
        raise ReportError("Định dạng phải là .xlsx hoặc .docx.")
    data = build_report_data(course, as_of, unit_ids, theme_ids, unit=unit, with_missing=(fmt == "xlsx"))
    if fmt == "xlsx":
        content = report_xlsx(data)
    else:
        content = report_docx(data, report_prose(course.id, unit))
    return content, file_name(data, fmt), data


def _filters_detail(fmt: str, as_of: dt.datetime | None, unit_ids: list[int] | None, theme_ids: list[int] | None,
                    via: str) -> str:
    return (f"format={fmt} as_of={iso(as_of) if as_of else 'now'} units={_ids(unit_ids)} themes={_ids(theme_ids)} "
            f"via={via}")


def _ids(ids: list[int] | None) -> str:
    return "all" if ids is None else ",".join(str(i) for i in ids)


def _target(course: Course, unit: Unit | None) -> str:
    return f"course:{course.id}" + (f" unit:{unit.code}" if unit else "")


def run_report_job(app: Flask, params: dict[str, Any], progress) -> tuple[Path, str]:
    """Job handler: build the report file the page asked for and leave it in the jobs folder."""
    progress(5, "Đang tính số liệu…")
    # Reads only, in a deferred transaction: progress() writes from its own session meanwhile, and
    # a BEGIN IMMEDIATE here would hold SQLite's write lock against it.
    with read_only():
        try:
            course = db.session.get(Course, params["course_id"])
            if course is None:
                raise ReportError("Lớp không còn tồn tại.")
            unit = db.session.get(Unit, params["unit_id"]) if params.get("unit_id") else None
            as_of = parse_iso(params["as_of"]) if params.get("as_of") else None
            content, name, _data = build_file(course, params["format"], as_of, params.get("unit_ids"),
                                              params.get("theme_ids"), unit)
        finally:
            db.session.rollback()
    progress(90, "Đang lưu tệp…")
    path = jobs_dir(app) / f"report-{uuid.uuid4().hex}.{params['format']}"
    path.write_bytes(content)
    return path, name


def _download(content: bytes, name: str, fmt: str) -> Response:
    return download_response(content, name, MIMETYPES[fmt], fallback=f"bao-cao.{fmt}")


def _int_list(values: Iterable[str]) -> list[int] | None:
    ids = sorted({int(v) for v in values if str(v).strip().isdigit()})
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
    if fmt not in FORMATS:
        flash("Định dạng phải là .xlsx hoặc .docx.", "danger")
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
        job = enqueue_job(JOB_KIND, {"course_id": course.id, "unit_id": unit.id if unit else None, "format": fmt,
                                     "as_of": iso(as_of) if as_of else None, "unit_ids": unit_ids,
                                     "theme_ids": theme_ids}, user)
        audit("report.exported", target=_target(course, unit),
              detail=_filters_detail(fmt, as_of, unit_ids, theme_ids, f"job:{job.id}"))
        db.session.commit()
        return redirect(url_for("pages.job", job_id=job.id))
    content, name, _data = build_file(course, fmt, as_of, unit_ids, theme_ids, unit)
    audit("report.exported", target=_target(course, unit), detail=_filters_detail(fmt, as_of, unit_ids, theme_ids,
                                                                                   "page"))
    db.session.commit()
    return _download(content, name, fmt)


def _settings(course: Course, unit: Unit | None):
    back = (url_for("report.unit_report", course_id=course.id, code=unit.code) if unit
            else url_for("report.course_report", course_id=course.id))
    prose = report_prose(course.id, unit)
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in ReportProse.FIELDS}
        try:
            save_prose(course.id, unit, values, current_user._get_current_object())
        except ReportError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            prose = ReportProse(**values)
        else:
            audit("report.settings_saved", target=_target(course, unit))
            db.session.commit()
            flash("Đã lưu nội dung báo cáo.", "success")
            return redirect(back)
    return render_template("report/settings.html", course=course, unit=unit, prose=prose, back=back)


@bp.route("/<int:course_id>")
@role_required(*BOARD)
def course_report(course_id: int):
    return _page(course_or_404(course_id), None)


@bp.route("/<int:course_id>/build", methods=["POST"])
@role_required(*BOARD)
def course_build(course_id: int):
    return _build(course_or_404(course_id), None)


@bp.route("/<int:course_id>/settings", methods=["GET", "POST"])
@role_required(*BOARD)
def course_settings(course_id: int):
    return _settings(course_or_404(course_id), None)


@bp.route("/<int:course_id>/units/<code>")
@role_required(*STAFF)
def unit_report(course_id: int, code: str):
    return _page(course_or_404(course_id), unit_or_404(code))


@bp.route("/<int:course_id>/units/<code>/build", methods=["POST"])
@role_required(*STAFF)
def unit_build(course_id: int, code: str):
    return _build(course_or_404(course_id), unit_or_404(code))


@bp.route("/<int:course_id>/units/<code>/settings", methods=["GET", "POST"])
@role_required(*STAFF)
def unit_settings(course_id: int, code: str):
    return _settings(course_or_404(course_id), unit_or_404(code))


# --- API -------------------------------------------------------------------------------------------

def _api_report(course_id: int, fmt: str):
    if current_user.role not in BOARD:
        raise ApiError(403)
    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404)
    as_of = as_of_arg()
    unit_ids = None
    codes = [c.strip() for c in request.args.get("units", "").split(",") if c.strip()]
    if codes:
        found = dict(db.session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes))).all())
        if len(found) != len(set(codes)):
            raise ApiError(404, "Có mã đơn vị không tồn tại.")
        unit_ids = sorted(found.values())
    theme_ids = None
    raw_themes = [t.strip() for t in request.args.get("themes", "").split(",") if t.strip()]
    if raw_themes:
        if not all(t.isdigit() for t in raw_themes):
            raise ApiError(422, "Tham số themes là danh sách mã chủ đề (số), cách nhau bởi dấu phẩy.")
        theme_ids = sorted({int(t) for t in raw_themes})
    content, name, _data = build_file(course, fmt, as_of, unit_ids, theme_ids)
    audit("report.exported", target=_target(course, None), detail=_filters_detail(fmt, as_of, unit_ids, theme_ids,
                                                                                   "api"))
    db.session.commit()
    return _download(content, name, fmt)


@api_bp.get("/courses/<int:course_id>/report.xlsx")
@api_login_required
def api_report_xlsx(course_id: int):
    return _api_report(course_id, "xlsx")


@api_bp.get("/courses/<int:course_id>/report.docx")
@api_login_required
def api_report_docx(course_id: int):
    return _api_report(course_id, "docx")


def _api_doc(fmt: str, what: str) -> dict[str, Any]:
    return {"get": {
        "summary": f"The report to the Standing Committee as {what} (Board and admins only; others 403)",
        "description": "Figures per unit and topic (the same as the completeness API), recommendations and "
                       "proposals by theme (confirmed near-duplicate groups counted once). As of a time: only "
                       "versions handed in by then count. Each export is written to the audit log.",
        "parameters": [
            {"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
             "description": "ISO 8601; without an offset read as Vietnam time. Default: now."},
            {"name": "units", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Comma-separated unit codes; default every unit with trainees."},
            {"name": "themes", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Comma-separated theme ids; default every theme."},
        ],
        "responses": {
            "200": {"description": f"The {what} file",
                    "content": {MIMETYPES[fmt]: {"schema": {"type": "string", "format": "binary"}}}},
            **{k: v for k, v in std_responses({}, 401, 403, 404, 422).items() if k != "200"},
        }}}


_PATHS = {
    "/api/v1/courses/{course_id}/report.xlsx": _api_doc("xlsx", "an .xlsx workbook"),
    "/api/v1/courses/{course_id}/report.docx": _api_doc("docx", "a .docx report"),
}


# --- CLI -------------------------------------------------------------------------------------------

def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@report_cli.command("build")
@click.option("--course", "course_id", required=True, type=int, help="Mã số lớp.")
@click.option("--as-of", "as_of_text", default=None, help="Thời điểm ISO 8601 (mặc định: hiện tại).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp kết quả: .xlsx hoặc .docx.")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị: báo cáo riêng của một đơn vị.")
def report_build(course_id: int, as_of_text: str | None, out: Path, unit_code: str | None) -> None:
    """Build the report of a course into FILE.xlsx or FILE.docx (format from the extension)."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        _fail(f"Tệp kết quả phải có đuôi .xlsx hoặc .docx (nhận được “{out.name}”).")
    course = db.session.get(Course, course_id)
    if course is None:
        _fail(f"Không tìm thấy lớp số {course_id}.")
    as_of = None
    if as_of_text:
        try:
            as_of = parse_iso(as_of_text)
        except ValueError:
            _fail(f"Thời điểm “{as_of_text}” không hợp lệ; dùng dạng ISO 8601, ví dụ 2026-05-27T08:00:00+07:00.")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            _fail(f"Không tìm thấy đơn vị có mã {unit_code}.")
    content, _name, data = build_file(course, fmt, as_of, None, None, unit)
    try:
        out.write_bytes(content)
    except OSError as exc:
        _fail(f"Không ghi được tệp {out}: {exc.strerror}.")
    audit("report.exported", target=_target(course, unit), detail=_filters_detail(fmt, as_of, None, None, "cli"))
    db.session.commit()
    click.echo(f"Đã tạo {out} (số liệu tính đến {fmt_datetime(data.as_of)}, {data.totals['units']} đơn vị, "
               f"{data.totals['enrolled']} học viên).")

