"""GET /api/v1/courses/<id>/completeness: the same figures as the overview, as JSON."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.api import ApiError, add_openapi_paths, as_of_arg, register_api_blueprint, std_responses
from lms.db import db
from lms.models import Course, Role, Unit
from lms.timefmt import iso
from review.completeness.figures import completeness, day_column
from review.wards.queries import sent_by_unit

bp = Blueprint("completeness_api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    """Mount the completeness API and describe it in the OpenAPI document."""
    register_api_blueprint(app, bp)
    add_openapi_paths(app, _PATHS, _SCHEMAS)


@bp.get("/courses/<int:course_id>/completeness")
@login_required
def course_completeness(course_id: int):
    user = current_user
    if user.role == Role.trainee:
        raise ApiError(403)
    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404)
    unit_ids = None
    code = request.args.get("unit", "").strip()
    if code:
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        # Another unit is "not found" for an officer: its existence is not theirs to learn.
        if unit is None or not user.can_see_unit(unit.id):
            raise ApiError(404)
        unit_ids = [unit.id]
    elif user.role == Role.officer:
        if user.unit_id is None:
            raise ApiError(404)
        unit_ids = [user.unit_id]
    as_of = as_of_arg()
    figures = completeness(course, as_of, unit_ids)
    counts = ("submitted", "on_time", "late", "extension", "missing", "exempt")
    cells = figures.topics
    topics: dict[int, list[dict]] = {}
    for unit_id, topic_id, *values in zip(*(cells[c].tolist() for c in ("unit_id", "topic_id", *counts))):
        topics.setdefault(unit_id, []).append({"topic_id": topic_id, **dict(zip(counts, values))})
    days = [(d.isoformat(), day_column(d)) for d in figures.days]
    sent = sent_by_unit(course.id)
    units = [{"code": u["code"], "name": u["name"], "enrolled": u["enrolled"], "attended": u["attended"],
              "attendance_recorded": bool(u["attendance_recorded"]),
              "attended_per_day": {day: u[column] for day, column in days},
              "percent": None if u["percent"] != u["percent"] else u["percent"],  # NaN: nothing expected
              "topics": topics.get(u["unit_id"], []),
              "sent_at": iso(sent[u["unit_id"]].sent_at) if u["unit_id"] in sent else None,
              "sent_version": sent[u["unit_id"]].version if u["unit_id"] in sent else None}
             for u in figures.units.to_dict("records")]
    return jsonify({"course_id": course.id, "as_of": iso(figures.as_of), "units": units})


_COUNT = {"type": "integer", "minimum": 0}
_SCHEMAS = {
    "Completeness": {"type": "object", "required": ["as_of", "units"], "properties": {
        "course_id": {"type": "integer"},
        "as_of": {"type": "string", "format": "date-time"},
        "units": {"type": "array", "items": {"type": "object",
                  "required": ["code", "name", "enrolled", "attended", "attendance_recorded", "topics"], "properties": {
                      "code": {"type": "string"}, "name": {"type": "string"}, "enrolled": _COUNT,
                      "attended": _COUNT,
                      "attendance_recorded": {"type": "boolean", "description": (
                          "false: the unit's attendance was never taken (attended is then 0 but means "
                          "«chưa ghi nhận điểm danh», not nobody present)")},
                      "attended_per_day": {"type": "object", "additionalProperties": _COUNT},
                      "percent": {"type": "number", "nullable": True},
                      "sent_at": {"type": "string", "format": "date-time", "nullable": True,
                                  "description": "When the unit last sent its compilation to the Board; null if never"},
                      "sent_version": {"type": "integer", "nullable": True,
                                       "description": "Which sending that was (1, 2, …); null if never"},
                      "topics": {"type": "array", "items": {"type": "object", "required": [
                          "topic_id", "submitted", "on_time", "late", "extension", "missing", "exempt"],
                          "properties": {"topic_id": {"type": "integer"}, "submitted": _COUNT, "on_time": _COUNT,
                                         "late": _COUNT, "extension": _COUNT, "missing": _COUNT,
                                         "exempt": _COUNT}}}}}}}},
}
_PATHS = {
    "/api/v1/courses/{course_id}/completeness": {"get": {
        "summary": "Completeness per unit and topic (unit officers: their own unit only; trainees: 403)",
        "description": "submitted = on_time + late (handed in; on_time includes hand-ins under an extension); "
                       "extension = nothing handed in yet but an extension applies; missing = nothing handed "
                       "in, no extension, not exempt; exempt = excused by the unit officer. As of a time, only "
                       "versions handed in and extensions granted by then count.",
        "parameters": [
            {"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "unit", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Unit code; another unit than the officer's answers 404."},
            {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
             "description": "ISO 8601; without an offset read as Vietnam time. Default: now."},
        ],
        "responses": std_responses({"$ref": "#/components/schemas/Completeness"}, 401, 403, 404, 422)}},
}
