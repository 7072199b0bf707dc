"""Tagging API under /api/v1: tags on essays, the course compilation, the codebook."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.api import API_PREFIX, ApiError, add_openapi_paths, api_login_required, json_body, std_responses
from lms.db import db
from lms.transaction import api_committed
from lms.models import Course, Role, Unit
from essays.access import essay_or_404
from review.tagging.models import TAG_KINDS, Tag, Theme, can_read_compilation, can_tag
from review.tagging.operations import TaggingError, delete_tag, tag_json, tag_or_404, tag_passage, update_tag

bp = Blueprint("review_tagging_api", __name__, url_prefix=API_PREFIX)


def init_app(app: Flask) -> None:
    """Mount the tagging API and describe it in the OpenAPI document."""
    from lms.api import register_api_blueprint

    register_api_blueprint(app, bp)
    add_openapi_paths(app, _PATHS, _SCHEMAS)


def _essay_for_tagging(essay_id: int):
    essay = essay_or_404(essay_id, current_user)
    if not can_tag(current_user):
        raise ApiError(403)
    return essay


def _tag_for_tagging(tag_id: int) -> Tag:
    tag = tag_or_404(tag_id, current_user)
    if not can_tag(current_user):
        raise ApiError(403)
    return tag


@bp.post("/essays/<int:essay_id>/tags")
@api_login_required
def create_tag(essay_id: int):
    essay = _essay_for_tagging(essay_id)
    body = json_body()
    with api_committed(TaggingError):
        tag = tag_passage(essay, start=body.get("start"), end=body.get("end"), kind=body.get("kind"),
                          theme_ids=body.get("themes"), note=body.get("note"), by=current_user,
                          version_number=body.get("version"))
    return jsonify(tag_json(tag)), 201


@bp.get("/essays/<int:essay_id>/tags")
@api_login_required
def essay_tags(essay_id: int):
    essay = essay_or_404(essay_id, current_user)
    if not can_read_compilation(current_user, essay.unit_id):
        raise ApiError(403)
    tags = db.session.scalars(select(Tag).where(Tag.essay_id == essay.id)
                              .options(selectinload(Tag.themes), selectinload(Tag.version),
                                       selectinload(Tag.created_by))
                              .order_by(Tag.version_id, Tag.start_offset, Tag.id)).all()
    current = essay.current_version
    return jsonify({
        "essay_id": essay.id,
        "current_version": current.number if current else None,
        "has_tags_on_older_versions": any(t.version_id != essay.current_version_id for t in tags),
        "tags": [tag_json(t) for t in tags],
    })


@bp.patch("/tags/<int:tag_id>")
@api_login_required
def patch_tag(tag_id: int):
    tag = _tag_for_tagging(tag_id)
    body = json_body()
    allowed = {"kind", "themes", "note", "start", "end", "duplicate_of"}
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(422, f"Trường không được phép sửa: {', '.join(sorted(unknown))}.")
    with api_committed(TaggingError):
        update_tag(tag, body)
    return jsonify(tag_json(tag))


@bp.delete("/tags/<int:tag_id>")
@api_login_required
def remove_tag(tag_id: int):
    tag = _tag_for_tagging(tag_id)
    with api_committed(TaggingError):
        delete_tag(tag)
    return "", 204


@bp.get("/courses/<int:course_id>/tags")
@api_login_required
def course_tags(course_id: int):
    from review.tagging.compilation import CompilationFilter, tags_query

    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404)
    unit_id = None
    if request.args.get("unit"):
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == request.args["unit"]))
        if unit_id is None:
            raise ApiError(422, "Không có đơn vị với mã này.")
    elif not current_user.is_board and current_user.unit_id is not None:
        unit_id = current_user.unit_id  # officers read their own unit without naming it
    if not can_read_compilation(current_user, unit_id):
        raise ApiError(403)
    try:
        filters = CompilationFilter.from_args(request.args, unit_id=unit_id)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    tags = db.session.scalars(tags_query(course.id, filters)).unique().all()
    return jsonify({"course_id": course.id, "tags": [tag_json(t) for t in tags]})


@bp.get("/themes")
@api_login_required
def themes():
    # The codebook is the Board's working tool; officers see it to read their unit's tags.
    if current_user.role == Role.trainee:
        raise ApiError(403)
    query = select(Theme).order_by(Theme.id)
    if request.args.get("all") != "1":
        query = query.where(Theme.is_retired.is_(False))
    rows = db.session.scalars(query).all()
    return jsonify({"themes": [{"id": t.id, "name": t.name, "parent_id": t.parent_id} for t in rows]})


_TAG_SCHEMA = {"$ref": "#/components/schemas/Tag"}
_SCHEMAS: dict[str, Any] = {
    "Tag": {"type": "object", "required": ["id", "essay_id", "version", "start", "end", "text", "kind", "themes"],
            "properties": {
                "id": {"type": "integer"}, "essay_id": {"type": "integer"},
                "version": {"type": "integer", "description": "Version number the offsets refer to"},
                "is_current_version": {"type": "boolean"},
                "start": {"type": "integer", "description": "Start, in code points of the version's NFC text"},
                "end": {"type": "integer", "description": "End (exclusive), in code points"},
                "text": {"type": "string", "description": "text[start:end] of that version"},
                "kind": {"type": "string", "enum": list(TAG_KINDS)},
                "kind_label": {"type": "string"},
                "themes": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}}}},
                "note": {"type": "string", "nullable": True},
                "group_id": {"type": "integer", "nullable": True},
                "duplicate_of": {"type": "integer", "nullable": True},
                "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "trainee": {"type": "string"},
                "unit": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
                "topic_id": {"type": "integer"}}},
    "TagInput": {"type": "object", "required": ["start", "end", "kind", "themes"], "properties": {
        "start": {"type": "integer"}, "end": {"type": "integer"},
        "kind": {"type": "string", "enum": list(TAG_KINDS)},
        "themes": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
        "note": {"type": "string", "nullable": True},
        "version": {"type": "integer", "description": "Version number; default the current version"}}},
    "Theme": {"type": "object", "required": ["id", "name", "parent_id"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "parent_id": {"type": "integer", "nullable": True}}},
}
_ESSAY_ID = {"name": "essay_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TAG_ID = {"name": "tag_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_COURSE_ID = {"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PATHS: dict[str, Any] = {
    "/api/v1/essays/{essay_id}/tags": {
        "post": {"summary": "Tag a passage of the essay (reviewers, admins)", "parameters": [_ESSAY_ID],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/TagInput"}}}},
                 "responses": {**std_responses(_TAG_SCHEMA, 400, 401, 403, 404, 422),
                               "201": {"description": "Created", "content": {"application/json": {"schema": _TAG_SCHEMA}}}}},
        "get": {"summary": "Tags on the essay, every version", "parameters": [_ESSAY_ID],
                "responses": std_responses({"type": "object", "required": ["tags"], "properties": {
                    "essay_id": {"type": "integer"}, "current_version": {"type": "integer", "nullable": True},
                    "has_tags_on_older_versions": {"type": "boolean"},
                    "tags": {"type": "array", "items": _TAG_SCHEMA}}}, 401, 403, 404)}},
    "/api/v1/tags/{tag_id}": {
        "patch": {"summary": "Edit a tag: kind, themes, note, start/end (same version), duplicate_of",
                  "parameters": [_TAG_ID],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                  "responses": std_responses(_TAG_SCHEMA, 400, 401, 403, 404, 422)},
        "delete": {"summary": "Remove a tag", "parameters": [_TAG_ID],
                   "responses": {"204": {"description": "Removed"},
                                 **{k: v for k, v in std_responses({}, 401, 403, 404).items() if k != "200"}}}},
    "/api/v1/courses/{course_id}/tags": {
        "get": {"summary": "Tagged passages of a course (officers: their unit only)",
                "parameters": [_COURSE_ID,
                               {"name": "theme", "in": "query", "schema": {"type": "integer"},
                                "description": "Theme id; nested themes included"},
                               {"name": "unit", "in": "query", "schema": {"type": "string"}, "description": "Unit code"},
                               {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(TAG_KINDS)}},
                               {"name": "topic", "in": "query", "schema": {"type": "integer"}},
                               {"name": "q", "in": "query", "schema": {"type": "string"},
                                "description": "Substring, accents ignored"}],
                "responses": std_responses({"type": "object", "required": ["tags"], "properties": {
                    "course_id": {"type": "integer"}, "tags": {"type": "array", "items": _TAG_SCHEMA}}},
                    401, 403, 404, 422)}},
    "/api/v1/themes": {
        "get": {"summary": "The Board's codebook (retired themes with ?all=1)",
                "parameters": [{"name": "all", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
                "responses": std_responses({"type": "object", "required": ["themes"], "properties": {
                    "themes": {"type": "array", "items": {"$ref": "#/components/schemas/Theme"}}}}, 401)}},
}
