"""Sending a ward's compilation to the Board through /api/v1, and reading what was sent."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.api import ApiError, add_openapi_paths, register_api_blueprint, std_responses
from lms.db import db, reads_first
from lms.models import Course, Unit
from lms.timefmt import iso
from review.report.data import MIMETYPES
from review.wards.models import WardReport
from review.wards.operations import (
    SendingConflict,
    can_compile_unit,
    can_read_sent,
    latest_sent,
    send_and_commit,
    sent_file,
)
from review.web import download_response

bp = Blueprint("wards_api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Mount the send/sent API and describe it in the OpenAPI document."""
    register_api_blueprint(app, bp)
    add_openapi_paths(app, _PATHS, _SCHEMAS)


def _course_and_unit(course_id: int, unit_code: str) -> tuple[Course, Unit]:
    """Both, when the user may read the unit's sendings; 404 otherwise (another unit is not theirs to know)."""
    course = db.session.get(Course, course_id)
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    if course is None or unit is None or not can_read_sent(current_user, unit.id):
        raise ApiError(404)
    return course, unit


def sent_json(report: WardReport) -> dict[str, Any]:
    """A sending as the API answers it."""
    course_id, code = report.course_id, report.unit.code
    return {
        "sent_at": iso(report.sent_at),
        "version": report.version,
        "unit": {"code": code, "name": report.unit.name},
        "sent_by": {"username": report.sent_by.username, "full_name": report.sent_by.full_name}
        if report.sent_by else None,
        "cite_names": report.cite_names,
        "passages": [{"essay": p.essay_id, "version": p.version_number, "start": p.start_offset,
                      "end": p.end_offset, "text": p.text, "kind": p.kind,
                      "topic": {"id": p.topic_id, "position": p.topic_position, "title": p.topic_title},
                      **({"trainee": p.trainee} if report.cite_names else {})} for p in report.passages],
        "docx_url": url_for("wards_api.sent_download", course_id=course_id, unit_code=code, number=report.version,
                            fmt="docx"),
        "xlsx_url": url_for("wards_api.sent_download", course_id=course_id, unit_code=code, number=report.version,
                            fmt="xlsx"),
    }


@bp.post("/courses/<int:course_id>/units/<unit_code>/send")
@login_required
@reads_first
def send(course_id: int, unit_code: str):
    course, unit = _course_and_unit(course_id, unit_code)
    if not can_compile_unit(current_user, unit.id):
        raise ApiError(403, "Chỉ cán bộ của đơn vị (hoặc quản trị viên) gửi báo cáo của đơn vị.")
    try:
        report = send_and_commit(course, unit, current_user._get_current_object())
    except SendingConflict as exc:
        raise ApiError(exc.status, str(exc)) from None
    return jsonify(sent_json(report)), 201


@bp.get("/courses/<int:course_id>/units/<unit_code>/sent")
@login_required
def sent(course_id: int, unit_code: str):
    course, unit = _course_and_unit(course_id, unit_code)
    report = latest_sent(course.id, unit.id)
    if report is None:
        raise ApiError(404, "Đơn vị chưa gửi báo cáo.")
    return jsonify(sent_json(report))


@bp.get("/courses/<int:course_id>/units/<unit_code>/sent/<int:number>/<fmt>")
@login_required
def sent_download(course_id: int, unit_code: str, number: int, fmt: str):
    course, unit = _course_and_unit(course_id, unit_code)
    if fmt not in ("docx", "xlsx"):
        raise ApiError(404, "Tệp đã gửi là “docx” hoặc “xlsx”.")
    report = db.session.scalar(select(WardReport).where(WardReport.course_id == course.id,
                                                        WardReport.unit_id == unit.id, WardReport.version == number))
    if report is None:
        raise ApiError(404, "Không có bản gửi này.")
    content, name = sent_file(report, fmt)
    return download_response(content, name, MIMETYPES[fmt], fallback=f"bao-cao.{fmt}")


_PASSAGE = {"type": "object", "required": ["essay", "version", "start", "end", "text", "topic"], "properties": {
    "essay": {"type": "integer", "description": "Essay id"},
    "version": {"type": "integer", "description": "Essay version number the offsets refer to"},
    "start": {"type": "integer", "description": "Start, in code points of the version's NFC text"},
    "end": {"type": "integer", "description": "End (exclusive), in code points"},
    "text": {"type": "string"}, "kind": {"type": "string", "enum": ["recommendation", "proposal"]},
    "topic": {"type": "object", "description": "The class topic (chủ đề) of the essay, as it was when sent",
              "properties": {"id": {"type": "integer"}, "position": {"type": "integer"},
                             "title": {"type": "string"}}},
    "trainee": {"type": "string", "description": "Only when the ward's report cites names"}}}
_SCHEMAS: dict[str, Any] = {
    "WardSent": {"type": "object", "required": ["sent_at", "version", "passages", "docx_url", "xlsx_url"],
                 "properties": {
                     "sent_at": {"type": "string", "format": "date-time"},
                     "version": {"type": "integer", "description": "1 for the first sending, then 2, 3…"},
                     "unit": {"type": "object", "properties": {"code": {"type": "string"},
                                                               "name": {"type": "string"}}},
                     "sent_by": {"type": "object", "nullable": True, "properties": {
                         "username": {"type": "string"}, "full_name": {"type": "string"}}},
                     "cite_names": {"type": "boolean"},
                     "passages": {"type": "array", "items": _PASSAGE},
                     "docx_url": {"type": "string"}, "xlsx_url": {"type": "string"}}},
}
_REF = {"$ref": "#/components/schemas/WardSent"}
_PARAMS = [{"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}},
           {"name": "unit_code", "in": "path", "required": True, "schema": {"type": "string"}}]
_PATHS: dict[str, Any] = {
    "/api/v1/courses/{course_id}/units/{unit_code}/send": {"post": {
        "summary": "Send the ward's compilation to the Board (the unit's officer or an admin)",
        "description": "Freezes the ward's report (.docx, .xlsx, built as of now, recommendations by class "
                       "topic, each passage once) and its passage list as a new version; earlier versions are "
                       "kept unchanged. Other units' officers and trainees: 404; Board reviewers: 403.",
        "parameters": _PARAMS,
        "responses": {"201": {"description": "Sent", "content": {"application/json": {"schema": _REF}}},
                      **{k: v for k, v in std_responses({}, 401, 403, 404, 409).items() if k != "200"}}}},
    "/api/v1/courses/{course_id}/units/{unit_code}/sent": {"get": {
        "summary": "The unit's latest sending (its officer, the Board, admins; anyone else 404)",
        "parameters": _PARAMS,
        "responses": std_responses(_REF, 401, 404)}},
    "/api/v1/courses/{course_id}/units/{unit_code}/sent/{number}/{fmt}": {"get": {
        "summary": "A sent file, as frozen when sent (same readers as /sent)",
        "parameters": [*_PARAMS, {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}},
                       {"name": "fmt", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": ["docx", "xlsx"]}}],
        "responses": {"200": {"description": "The file", "content": {
            MIMETYPES["docx"]: {"schema": {"type": "string", "format": "binary"}},
            MIMETYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}},
            **{k: v for k, v in std_responses({}, 401, 404).items() if k != "200"}}}},
}
