"""Roster pages and API: import a trainee list into a course, hand out the new accounts' initial passwords once."""
from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Flask, abort, jsonify, render_template, request, send_file, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField

from lms import credentials as sheets
from lms.api import ApiError, add_openapi_paths, register_api_blueprint, std_responses
from lms.db import db
from lms.hooks import NAV
from lms.models import Course, Role, Unit, User
from lms.params import id_arg
from lms.roster import ImportResult, RosterRejected, import_roster
from lms.security import audit, course_or_404, role_required
from lms.transaction import transaction, write_after_reads

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
    sheets.init_app(app)


def _nav(user: User) -> list[tuple[str, str]]:
    return [(url_for("roster.import_page"), "Nhập danh sách học viên")] if user.role in IMPORTERS else []


def _scope_unit_id(user: User) -> int | None:
    """None for administrators (every unit); an officer's own unit. Officers without a unit may not import."""
    if user.role == Role.admin:
        return None
    if user.role == Role.officer and user.unit_id is not None:
        return user.unit_id
    return -1  # never a unit id: every row is refused


def _run_import(data: bytes, filename: str, course_id: int, *, seal: bool = False) -> ImportResult:
    """Import and commit with an audit record; on refusal roll back, audit the refusal and re-raise.

    seal: the new accounts' passwords wait, sealed, for the importer's one download (the page);
    the key goes into the importer's session in the same step as the commit.
    """
    # End the (write-intent) transaction opened by the permission and course look-ups, so SQLite's
    # write lock is not held while the file is parsed.
    db.session.commit()
    try:
        with transaction():
            result = import_roster(data, filename, course_id, only_unit_id=_scope_unit_id(current_user))
            sealed = sheets.seal_sheets(result.new_accounts, course_id=course_id,
                                        importer=current_user._get_current_object()) if seal else None
            audit("roster.imported", target=f"course={course_id}", detail=f"{filename}: {result.summary()}")
    except RosterRejected as exc:
        with transaction():
            audit("roster.rejected", target=f"course={course_id}", detail=f"{filename}: {len(exc.errors)} lỗi")
        raise
    if sealed is not None:
        sheets.remember_key(session, *sealed)
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
            result = _run_import(upload.read(), upload.filename or "", form.course.data, seal=True)
        except RosterRejected as exc:
            errors = exc.errors
    credential_links = []
    if result is not None and result.new_accounts:
        unit_ids = {unit_id for _, unit_id, _ in result.new_accounts}
        units = db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)).order_by(Unit.code)).all()
        credential_links = [(u, url_for("roster.credentials", unit_code=u.code, course=result.course_id))
                            for u in units if current_user.can_manage_unit(u.id)]
    own_unit = current_user.unit if current_user.role == Role.officer else None
    return render_template("roster/import.html", form=form, errors=errors, result=result,
                           credential_links=credential_links, own_unit=own_unit,
                           lifetime_minutes=int(sheets.SHEET_LIFETIME.total_seconds() // 60))


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
    # The sheet is opened and deleted in one write transaction (ended reads first, as audit_read does).
    with write_after_reads():
        accounts = sheets.take_sheet(current_user._get_current_object(), unit, course_id,
                                     session.get(sheets.SESSION_KEY) or {})
        audit("roster.credentials", target=unit.code,
              detail=f"course={course_id} accounts={len(accounts or [])}")
    if accounts is None:
        return render_template("errors/error.html", code=410, message=(
            "Danh sách mật khẩu ban đầu này không còn: mỗi danh sách chỉ tải được một lần, trong "
            f"{int(sheets.SHEET_LIFETIME.total_seconds() // 60)} phút sau khi nhập, và chỉ người đã nhập "
            "tải được. Mật khẩu ban đầu không được lưu lại. Học viên nào chưa nhận được mật khẩu: cán bộ "
            "đơn vị cấp lại mật khẩu cho người đó (trang đơn vị, «Cấp lại mật khẩu»).")), 410
    response = send_file(io.BytesIO(sheets.build_credentials_xlsx(accounts)), mimetype=XLSX_MIME,
                         as_attachment=True,
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
    # The new accounts' initial passwords are in this answer and nowhere else.
    response = jsonify({**result.to_json(),
                        "credentials": sheets.credentials_json(sheets.accounts_of(result.new_accounts))})
    response.headers["Cache-Control"] = "no-store"
    return response


_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["created", "updated", "enrolled", "errors"], "properties": {
        "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
        "enrolled": {"type": "integer"}, "rows": {"type": "integer"},
        "units": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {"type": "object", "required": ["row", "message"], "properties": {
            "row": {"type": "integer", "nullable": True,
                    "description": "Spreadsheet row number; null for the file as a whole"},
            "message": {"type": "string"}}}},
        "credentials": {"type": "array", "description": (
            "The accounts this import created with their initial passwords: handed out in this answer only "
            "(only their hashes are stored)"), "items": {
            "type": "object", "required": ["username", "password", "full_name", "unit"], "properties": {
                "username": {"type": "string"}, "password": {"type": "string"},
                "full_name": {"type": "string"}, "unit": {"type": "string"}}}}}}
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
