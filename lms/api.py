"""The /api/v1 frame: bearer-token auth, JSON errors, the OpenAPI document, and the core endpoints."""
from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from lms.courses import visible_courses
from lms.db import db
from lms.errors import ERROR_MESSAGES, ApiError  # noqa: F401  (lms.api.ApiError is what views import)
from lms.models import ApiToken, Course, Unit, User
from lms.security import csrf, token_digest
from lms.timefmt import iso
from lms.transaction import api_committed

API_PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

def error_response(status: int, message: str | None = None, code: str | None = None):
    """A JSON error body with the right status."""
    err = ApiError(status, message, code)
    return jsonify({"error": {"code": err.code, "message": err.message}}), status


def is_api_request() -> bool:
    """True while serving one of the /api/v1 blueprints."""
    names = current_app.extensions.get("thuhoach.api_blueprints", set())
    return request.blueprint in names or (request.blueprint is None and
                                          request.path.startswith(request.script_root + API_PREFIX))


def register_api_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """Mount a feature's API blueprint: bearer auth, CSRF for cookie sessions, JSON errors."""
    app.extensions.setdefault("thuhoach.api_blueprints", set()).add(blueprint.name)
    # CSRFProtect is switched off for the blueprint so that bearer requests pass; cookie sessions
    # are checked by the app-wide hook of init_app instead, on every API blueprint.
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)


def add_openapi_paths(app: Flask, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> None:
    """Let a feature describe its endpoints in /api/v1/openapi.json."""
    doc = app.extensions.setdefault("thuhoach.openapi", copy.deepcopy(_BASE_OPENAPI))
    doc["paths"].update(paths)
    doc["components"]["schemas"].update(schemas or {})


def authenticate_api_request() -> None:
    """The one rule for /api/v1: a valid bearer token, or the session with its CSRF token on writes.

    A request with an Authorization header is judged by that header alone (never by a cookie
    that happens to come with it); a write with neither a token nor a session is a 401.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        user = _user_for_bearer(header)
        if user is None:
            raise ApiError(401)
        g._login_user = user  # Flask-Login's per-request user: the token's, not the cookie's
        return
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return  # the view's login check answers 401 when needed
    if not current_user.is_authenticated:
        raise ApiError(401)
    csrf.protect()


def _user_for_bearer(header: str) -> User | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    # One query (the token row itself is not needed): every API call pays for this.
    user = db.session.scalar(select(User).join(ApiToken, ApiToken.user_id == User.id)
                             .where(ApiToken.token_sha256 == token_digest(token)))
    if user is None or not user.is_active:
        return None
    return user


def init_app(app: Flask) -> None:
    """Mount the core API and the JSON error handling."""
    register_api_blueprint(app, bp)
    app.extensions.setdefault("thuhoach.openapi", copy.deepcopy(_BASE_OPENAPI))

    @app.before_request
    def _api_auth() -> None:
        if request.blueprint in app.extensions["thuhoach.api_blueprints"]:
            authenticate_api_request()

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return jsonify({"error": {"code": err.code, "message": err.message}}), err.status


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 with a Vietnamese message (413 when over the size limit)."""
    try:
        data = request.get_json(silent=True)
        # A chunked body has no Content-Length: werkzeug stops reading at the limit and hands
        # back a cut-off body. One more byte asked for tells whether there was more (then 413).
        request.stream.read(1)
    except RequestEntityTooLarge:
        raise ApiError(413, "Nội dung yêu cầu quá lớn.", "too_large") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Nội dung yêu cầu phải là một đối tượng JSON.")
    return data


def as_of_arg():
    """The `as_of` query parameter as an aware UTC time, None when absent; 422 when malformed."""
    from lms.timefmt import parse_iso

    text = request.args.get("as_of")
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise ApiError(422, "Tham số as_of phải là thời điểm ISO 8601, ví dụ 2026-05-27T08:00:00+07:00.") from None


def course_json(course: Course) -> dict[str, Any]:
    """A course as the API answers it."""
    return {
        "id": course.id,
        "name": course.name,
        "essay_due": iso(course.essay_due_at),
        "cutoff": iso(course.cutoff_at),
        "starts_on": course.starts_on.isoformat(),
        "ends_on": course.ends_on.isoformat(),
        "topics": [{"id": t.id, "title": t.title} for t in course.topics],
    }


@bp.get("/me")
@login_required
def me():
    user = current_user
    return jsonify({"username": user.username, "full_name": user.full_name, "role": user.role.value,
                    "unit_code": user.unit_code})


@bp.get("/courses")
@login_required
def courses():
    return jsonify({"courses": [course_json(c) for c in visible_courses(current_user)]})


PATCHABLE = {"name", "essay_due", "cutoff"}


@bp.patch("/courses/<int:course_id>")
@login_required
def update_course(course_id: int):
    """Change a course's name or deadlines (admins); answers the course as GET /courses lists it."""
    from lms.courses import CourseError, describe_changes, update_course as update
    from lms.models import Role
    from lms.security import audit
    from lms.timefmt import parse_iso

    if current_user.role != Role.admin:
        raise ApiError(403, "Chỉ quản trị viên được sửa lớp học.")
    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404, "Không tìm thấy lớp học.")
    data = json_body()
    unknown = sorted(set(data) - PATCHABLE)
    if unknown or not data:
        raise ApiError(422, "Chỉ sửa được name, essay_due, cutoff (ít nhất một trường)"
                       + (f"; không nhận: {', '.join(unknown)}." if unknown else "."))
    fields: dict[str, Any] = {}
    if "name" in data:
        if not isinstance(data["name"], str):
            raise ApiError(422, "name phải là chuỗi ký tự.")
        fields["name"] = data["name"]
    for key, attr in (("essay_due", "essay_due_at"), ("cutoff", "cutoff_at")):
        if key in data:
            try:
                if not isinstance(data[key], str):
                    raise ValueError
                fields[attr] = parse_iso(data[key])
            except ValueError:
                raise ApiError(422, f"{key} phải là thời điểm ISO 8601, ví dụ 2026-05-27T17:00:00+07:00.") from None
    with api_committed(CourseError):
        changes = update(course, **fields)
        if changes:
            audit("course.updated", target=str(course.id), detail=describe_changes(changes))
    return jsonify(course_json(course))


@bp.get("/units")
@login_required
def units():
    rows = db.session.scalars(select(Unit).order_by(Unit.province_code, Unit.code)).all()
    return jsonify({"units": [{"code": u.code, "name": u.name, "kind": u.kind} for u in rows]})


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    from lms.jobs import job_json, job_or_404

    return jsonify(job_json(job_or_404(job_id, current_user)))


@bp.get("/openapi.json")
def openapi():
    return jsonify(current_app.extensions["thuhoach.openapi"])


_ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def std_responses(ok_schema: dict[str, Any], *codes: int) -> dict[str, Any]:
    """OpenAPI responses: 200 with the schema, plus JSON errors for the given statuses."""
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}}
    for code in codes:
        responses[str(code)] = {"description": ERROR_MESSAGES[code][1],
                                "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    return responses


_BASE_OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "thuhoach API", "version": "1.0.0",
             "description": "Bài thu hoạch: nộp, tra cứu, tổng hợp. Times are ISO 8601 with +07:00."},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Me": {"type": "object", "required": ["username", "full_name", "role", "unit_code"], "properties": {
                "username": {"type": "string"}, "full_name": {"type": "string"},
                "role": {"type": "string", "enum": ["admin", "reviewer", "officer", "trainee"]},
                "unit_code": {"type": "string", "nullable": True}}},
            "Course": {"type": "object", "required": ["id", "name", "essay_due", "cutoff", "topics"], "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "essay_due": {"type": "string", "format": "date-time"},
                "cutoff": {"type": "string", "format": "date-time"},
                "starts_on": {"type": "string", "format": "date"}, "ends_on": {"type": "string", "format": "date"},
                "topics": {"type": "array", "items": {"type": "object", "required": ["id", "title"], "properties": {
                    "id": {"type": "integer"}, "title": {"type": "string"}}}}}},
            "Unit": {"type": "object", "required": ["code", "name", "kind"], "properties": {
                "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}}},
        },
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/v1/me": {"get": {"summary": "Who am I", "responses": std_responses(
            {"$ref": "#/components/schemas/Me"}, 401)}},
        "/api/v1/courses": {"get": {"summary": "Courses I can see (trainees: their enrolments)",
                                    "responses": std_responses({"type": "object", "required": ["courses"], "properties": {
                                        "courses": {"type": "array", "items": {"$ref": "#/components/schemas/Course"}}}}, 401)}},
        "/api/v1/courses/{course_id}": {"patch": {
            "summary": "Change a course's name, due time or cut-off (admins); lateness follows the new due time",
            "parameters": [{"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 300},
                    "essay_due": {"type": "string", "format": "date-time"},
                    "cutoff": {"type": "string", "format": "date-time"}}}}}},
            "responses": std_responses({"$ref": "#/components/schemas/Course"}, 400, 401, 403, 404, 422)}},
        "/api/v1/units": {"get": {"summary": "Units (connection points)", "responses": std_responses(
            {"type": "object", "required": ["units"], "properties": {
                "units": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"}}}}, 401)}},
        "/api/v1/jobs/{job_id}": {"get": {
            "summary": "State of a background job (its creator or an admin)",
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": std_responses({"type": "object", "required": ["id", "kind", "status", "progress"], "properties": {
                "id": {"type": "integer"}, "kind": {"type": "string"},
                "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "progress": {"type": "integer"}, "message": {"type": "string", "nullable": True},
                "download_url": {"type": "string", "nullable": True}}}, 401, 404)}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                         "responses": {"200": {"description": "OpenAPI document"}}}},
    },
}
