"""The report API: GET /api/v1/courses/<id>/report.xlsx and report.docx."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, request
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.api import ApiError, add_openapi_paths, as_of_arg, register_api_blueprint, std_responses
from lms.db import db
from lms.models import Course, Unit
from lms.params import parse_id
from lms.security import audit_read
from review.report.data import MIMETYPES
from review.report.operations import build_file, filters_detail, report_target
from review.web import download_response

api_bp = Blueprint("report_api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Register the report API and its OpenAPI paths."""
    register_api_blueprint(app, api_bp)
    add_openapi_paths(app, _PATHS)


def _api_report(course_id: int, fmt: str):
    if not current_user.is_board:
        raise ApiError(403)
    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404)
    as_of = as_of_arg()
    unit_ids = None
    codes = [c.strip() for c in request.args.get("units", "").split(",") if c.strip()]
    if codes:
        found = {code: uid for code, uid in db.session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes)))}
        if len(found) != len(set(codes)):
            raise ApiError(404, "Có mã đơn vị không tồn tại.")
        unit_ids = sorted(found.values())
    theme_ids = None
    raw_themes = [t.strip() for t in request.args.get("themes", "").split(",") if t.strip()]
    if raw_themes:
        parsed = [parse_id(t) for t in raw_themes]
        if None in parsed:
            raise ApiError(422, "Tham số themes là danh sách mã lĩnh vực (số), cách nhau bởi dấu phẩy.")
        theme_ids = sorted({t for t in parsed if t is not None})
    content, name, _data = build_file(course, fmt, as_of, unit_ids, theme_ids)
    audit_read("report.exported", target=report_target(course, None),
               detail=filters_detail(fmt, as_of, unit_ids, theme_ids, "api"))
    return download_response(content, name, MIMETYPES[fmt], fallback=f"bao-cao.{fmt}")


@api_bp.get("/courses/<int:course_id>/report.xlsx")
@login_required
def api_report_xlsx(course_id: int):
    return _api_report(course_id, "xlsx")


@api_bp.get("/courses/<int:course_id>/report.docx")
@login_required
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
