"""Roster pages and API: import a trainee list into a course, download a unit's credential sheet."""
from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Flask, abort, jsonify, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField

from lms.api import ApiError, add_openapi_paths, register_api_blueprint, std_responses
from lms.db import db
from lms.hooks import NAV
from lms.models import Course, Role, Unit, User
from lms.params import id_arg
from lms.roster import ImportResult, RosterRejected, build_credentials_xlsx, credential_users, import_roster
from lms.security import audit, audit_read, course_or_404, role_required
from lms.transaction import transaction

bp = Blueprint("roster", __name__)
api_bp = Blueprint("roster_api", __name__, url_prefix="/api/v1")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORTERS = (Role.admin, Role.officer)


class RosterImportForm(FlaskForm):
    course = SelectField("Lớp học", coerce=int)
    file = FileField("Tệp danh sách (.xlsx hoặc .csv)", validators=[FileRequired("Vui lòng chọn tệp danh sách.")])


def init_app(app: Flask) -> None:
    """Register the roster pages, the API endpoint, its OpenAPI entry and the menu link."""
    app.register_blueprint(bp)
    register_api_blueprint(app, api_bp)
    add_openapi_paths(app, _OPENAPI_PATHS, _OPENAPI_SCHEMAS)
    NAV.register(app, _nav)


def _nav(user: User) -> list[tuple[str, str]]:
    return [(url_for("roster.import_page"), "Nhập danh sách học viên")] if user.role in IMPORTERS else []


def _scope_unit_id(user: User) -> int | None:
    """None for administrators (every unit); an officer's own unit. Officers without a unit may not import."""
    if user.role == Role.admin:
        return None
    if user.role == Role.officer and user.unit_id is not None:
        return user.unit_id
    return -1  # never a unit id: every row is refused


def _run_import(data: bytes, filename: str, course_id: int) -> ImportResult:
    """Import and commit with an audit record; on refusal roll back, audit the refusal and re-raise."""
    # End the (write-intent) transaction opened by the permission and course look-ups, so SQLite's
    # write lock is not held while the file is parsed.
    db.session.commit()
    try:
        with transaction():
            result = import_roster(data, filename, course_id, only_unit_id=_scope_unit_id(current_user))
            audit("roster.imported", target=f"course={course_id}", detail=f"{filename}: {result.summary()}")
    except RosterRejected as exc:
        with transaction():
            audit("roster.rejected", target=f"course={course_id}", detail=f"{filename}: {len(exc.errors)} lỗi")
        raise
    return result


@bp.route("/roster/import", methods=["GET", "POST"])
@role_required(*IMPORTERS)
def import_page():
    form = RosterImportForm()
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc(), Course.id.desc())).all()
    form.course.choices = [(c.id, f"{c.name} (mã {c.id})") for c in courses]
    if current_user.role == Role.officer and current_user.unit_id is None:
        abort(403)
    errors, result = None, None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = _run_import(upload.read(), upload.filename or "", form.course.data)
        except RosterRejected as exc:
            errors = exc.errors
    credential_links = []
    if result is not None:
        codes = result.unit_codes
        units = db.session.scalars(select(Unit).where(Unit.code.in_(codes)).order_by(Unit.code)).all()
        credential_links = [(u, url_for("roster.credentials", unit_code=u.code, course=result.course_id))
                            for u in units if current_user.can_manage_unit(u.id)]
    own_unit = current_user.unit if current_user.role == Role.officer else None
    return render_template("roster/import.html", form=form, errors=errors, result=result,
                           credential_links=credential_links, own_unit=own_unit)


@bp.get("/roster/credentials/<unit_code>.xlsx")
@role_required(*IMPORTERS)
def credentials(unit_code: str):
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    # Another unit's sheet is "not found" for an officer: they need not know what exists.
    if unit is None or not current_user.can_manage_unit(unit.id):
        abort(404)
    course_id = None
    if "course" in request.args:
        course_id = id_arg("course", required=True)
        course_or_404(course_id or 0)
    users = credential_users(unit, course_id)
    audit_read("roster.credentials", target=unit.code, detail=f"course={course_id} accounts={len(users)}")
    response = send_file(io.BytesIO(build_credentials_xlsx(unit, users)), mimetype=XLSX_MIME, as_attachment=True,
                         download_name=f"tai-khoan-{unit.code}" + (f"-lop-{course_id}" if course_id else "") + ".xlsx")
    response.headers["Cache-Control"] = "no-store"  # initial passwords
    return response


@api_bp.post("/courses/<int:course_id>/roster")
@login_required
def import_api(course_id: int):
    if current_user.role not in IMPORTERS or (current_user.role == Role.officer and current_user.unit_id is None):
        raise ApiError(403)
    if db.session.get(Course, course_id) is None:
        raise ApiError(404, "Không có lớp học này.")
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "Thiếu tệp danh sách (trường multipart “file”).")
    try:
        result = _run_import(upload.read(), upload.filename or "", course_id)
    except RosterRejected as exc:
        return jsonify({"created": 0, "updated": 0, "unchanged": 0, "enrolled": 0,
                        "errors": [e.to_json() for e in exc.errors]}), 422
    return jsonify(result.to_json())


_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["created", "updated", "enrolled", "errors"], "properties": {
        "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
        "enrolled": {"type": "integer"}, "rows": {"type": "integer"},
        "units": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {"type": "object", "required": ["row", "message"], "properties": {
            "row": {"type": "integer", "nullable": True,
                    "description": "Spreadsheet row number; null for the file as a whole"},
            "message": {"type": "string"}}}}}}
_OPENAPI_SCHEMAS = {"RosterResult": _RESULT_SCHEMA}
_responses = std_responses({"$ref": "#/components/schemas/RosterResult"}, 400, 401, 403, 404)
_responses["422"] = {"description": "Danh sách bị từ chối, không nhập gì; mọi lỗi kèm số dòng",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RosterResult"}}}}
_OPENAPI_PATHS = {
    "/api/v1/courses/{course_id}/roster": {"post": {
        "summary": "Import trainees (.xlsx/.csv) into a course: every row or none "
                   "(administrators: any unit; unit officers: their own unit)",
        "parameters": [{"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}},
        "responses": _responses}},
}
