"""Tagging API under /api/v1: tags on essays, the course compilation, the codebook."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from essays.access import essay_or_404
from essays.models import EssayVersion
from lms.api import API_PREFIX, ApiError, add_openapi_paths, json_body, register_api_blueprint, std_responses
from lms.db import db, utcnow
from lms.hooks import ESSAY_API_FIELDS
from lms.jobs import register_task
from lms.models import Course, Role, Unit
from lms.params import parse_id
from lms.transaction import api_committed
from review.tagging.compilation import CompilationFilter, tags_query
from review.tagging.copies import can_see_copies, find_copies, same_content_as
from review.tagging.models import (
    TAG_KINDS,
    Suggestion,
    Tag,
    Theme,
    can_edit_tag,
    can_read_compilation,
    can_tag,
    can_tag_essay,
)
from review.tagging.operations import (
    DuplicateTag,
    TaggingError,
    delete_tag,
    tag_json,
    tag_or_404,
    tag_passage,
    update_tag,
)
from review.tagging.suggestions import essay_suggestions
from review.tagging.theme_model import refresh_models, scan_new_versions
from review.tagging.triage import assigned_unit_ids, triage_items

bp = Blueprint("review_tagging_api", __name__, url_prefix=API_PREFIX)


def init_app(app: Flask) -> None:
    """Mount the tagging API and describe it in the OpenAPI document."""

    register_api_blueprint(app, bp)
    add_openapi_paths(app, _PATHS, _SCHEMAS)
    ESSAY_API_FIELDS.register(app, _copies_field)
    register_task(app, scan_new_versions)
    register_task(app, refresh_models)
    register_task(app, find_copies)


def _copies_field(essay, user) -> dict:
    """same_content_as for those who may see it (never the trainee)."""
    return {"same_content_as": same_content_as(essay.id)} if can_see_copies(user, essay) else {}


def _essay_for_tagging(essay_id: int):
    essay = essay_or_404(essay_id, current_user)  # another unit's essay: 404 for an officer
    if not can_tag_essay(current_user, essay):
        raise ApiError(403)
    return essay


def _tag_for_tagging(tag_id: int) -> Tag:
    tag = tag_or_404(tag_id, current_user)
    if not can_edit_tag(current_user, tag):
        raise ApiError(403)
    return tag


@bp.post("/essays/<int:essay_id>/tags")
@login_required
def create_tag(essay_id: int):
    essay = _essay_for_tagging(essay_id)
    body = json_body()
    try:
        with api_committed(TaggingError), _duplicates_as_conflicts():
            tag = tag_passage(essay, start=body.get("start"), end=body.get("end"), kind=body.get("kind"),
                              theme_ids=body.get("themes"), note=body.get("note"), by=current_user,
                              version_number=body.get("version"))
    except _Conflict as conflict:
        return _conflict(conflict.duplicate)
    return jsonify(tag_json(tag)), 201


class _Conflict(Exception):
    """Carries a DuplicateTag past api_committed, which would answer it as a bare 422."""

    def __init__(self, duplicate: DuplicateTag) -> None:
        super().__init__(str(duplicate))
        self.duplicate = duplicate


@contextlib.contextmanager
def _duplicates_as_conflicts() -> Iterator[None]:
    try:
        yield
    except DuplicateTag as exc:
        raise _Conflict(exc) from None


def _conflict(exc: DuplicateTag):
    """409 naming the tag that already marks this span."""
    return jsonify({"error": {"code": "duplicate_tag", "message": str(exc), "tag_id": exc.tag_id}}), 409


@bp.get("/essays/<int:essay_id>/suggestions")
@login_required
def suggestions(essay_id: int):
    essay = _essay_for_tagging(essay_id)
    return jsonify({"suggestions": essay_suggestions(essay)})


@bp.get("/triage")
@login_required
def triage():

    if not can_tag(current_user):
        raise ApiError(403)
    course_id = parse_id(request.args.get("course"))
    if course_id is None or db.session.get(Course, course_id) is None:
        raise ApiError(422, "Cần chọn lớp (tham số course).")
    unit_ids = None
    if request.args.get("unit"):
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == request.args["unit"]))
        if unit_id is None:
            raise ApiError(422, "Không có đơn vị với mã này.")
        unit_ids = [unit_id]
    items = triage_items(course_id, unit_ids=unit_ids, first_units=assigned_unit_ids(current_user))
    return jsonify({"items": items})


def _suggestion_for_tagging(suggestion_id: int) -> Suggestion:
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise ApiError(404)
    version = db.session.get(EssayVersion, suggestion.version_id)
    if version is None:
        raise ApiError(404)
    _essay_for_tagging(version.essay_id)
    return suggestion


@bp.post("/suggestions/<int:suggestion_id>/dismiss")
@login_required
def dismiss(suggestion_id: int):
    suggestion = _suggestion_for_tagging(suggestion_id)
    if suggestion.status != "open":
        raise ApiError(409, "Gợi ý này đã được xử lý.")
    with api_committed():
        suggestion.status, suggestion.decided_by_id, suggestion.decided_at = "dismissed", current_user.id, utcnow()
    return jsonify({"id": suggestion.id, "status": suggestion.status})


@bp.post("/suggestions/<int:suggestion_id>/reopen")
@login_required
def reopen(suggestion_id: int):
    suggestion = _suggestion_for_tagging(suggestion_id)
    if suggestion.status != "dismissed":
        raise ApiError(409, "Chỉ mở lại được gợi ý đã bỏ qua (gợi ý đã nhận: xoá thẻ).")
    with api_committed():
        suggestion.status, suggestion.decided_by_id, suggestion.decided_at = "open", None, None
    return jsonify({"id": suggestion.id, "status": suggestion.status})


@bp.get("/essays/<int:essay_id>/tags")
@login_required
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
@login_required
def patch_tag(tag_id: int):
    tag = _tag_for_tagging(tag_id)
    body = json_body()
    # A ward edits its own tags' span, kind and note; themes and duplicates are the Board's.
    allowed = ({"kind", "themes", "note", "start", "end", "duplicate_of"} if can_tag(current_user)
               else {"kind", "note", "start", "end"})
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(422, f"Trường không được phép sửa: {', '.join(sorted(unknown))}.")
    try:
        with api_committed(TaggingError), _duplicates_as_conflicts():
            update_tag(tag, body)
    except _Conflict as conflict:
        return _conflict(conflict.duplicate)
    return jsonify(tag_json(tag))


@bp.delete("/tags/<int:tag_id>")
@login_required
def remove_tag(tag_id: int):
    tag = _tag_for_tagging(tag_id)
    with api_committed(TaggingError):
        delete_tag(tag)
    return "", 204


@bp.get("/courses/<int:course_id>/tags")
@login_required
def course_tags(course_id: int):

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
@login_required
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
                "topic_id": {"type": "integer"},
                "by_ward": {"type": "boolean", "description": "Accepted by the ward's officer for the ward's compilation"}}},
    "TagInput": {"type": "object", "required": ["start", "end", "kind"], "properties": {
        "start": {"type": "integer"}, "end": {"type": "integer"},
        "kind": {"type": "string", "enum": list(TAG_KINDS)},
        "themes": {"type": "array", "items": {"type": "integer"},
                   "description": "Theme ids: at least one from the Board; optional for a ward officer"},
        "note": {"type": "string", "nullable": True},
        "version": {"type": "integer", "description": "Version number; default the current version"}}},
    "Theme": {"type": "object", "required": ["id", "name", "parent_id"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "parent_id": {"type": "integer", "nullable": True}}},
}
_CONFLICT = {"409": {"description": "Đoạn này của phiên bản này đã được gắn thẻ: error.tag_id là thẻ đó",
                     "content": {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": {
                         "error": {"type": "object", "required": ["code", "message", "tag_id"], "properties": {
                             "code": {"type": "string", "enum": ["duplicate_tag"]}, "message": {"type": "string"},
                             "tag_id": {"type": "integer"}}}}}}}}}
_SUGGESTION = {"type": "object", "required": ["id", "start", "end", "kind", "text", "themes"], "properties": {
    "id": {"type": "integer"},
    "start": {"type": "integer", "description": "Start, in code points of the current version's NFC text"},
    "end": {"type": "integer"}, "kind": {"type": "string", "enum": list(TAG_KINDS)}, "text": {"type": "string"},
    "themes": {"type": "array", "description": "Lĩnh vực gợi ý, tốt nhất trước", "items": {
        "type": "object", "required": ["id", "score"],
        "properties": {"id": {"type": "integer"}, "score": {"type": "number", "minimum": 0, "maximum": 1}}}}}}
_SUGGESTION_ID = {"name": "suggestion_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_DECISION = {"type": "object", "required": ["id", "status"], "properties": {
    "id": {"type": "integer"}, "status": {"type": "string", "enum": ["open", "dismissed"]}}}
_ESSAY_ID = {"name": "essay_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TAG_ID = {"name": "tag_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_COURSE_ID = {"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PATHS: dict[str, Any] = {
    "/api/v1/essays/{essay_id}/tags": {
        "post": {"summary": "Tag a passage of the essay (reviewers, admins; the officer of the essay's unit, themes optional)", "parameters": [_ESSAY_ID],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/TagInput"}}}},
                 "responses": {**std_responses(_TAG_SCHEMA, 400, 401, 403, 404, 422), **_CONFLICT,
                               "201": {"description": "Created", "content": {"application/json": {"schema": _TAG_SCHEMA}}}}},
        "get": {"summary": "Tags on the essay, every version", "parameters": [_ESSAY_ID],
                "responses": std_responses({"type": "object", "required": ["tags"], "properties": {
                    "essay_id": {"type": "integer"}, "current_version": {"type": "integer", "nullable": True},
                    "has_tags_on_older_versions": {"type": "boolean"},
                    "tags": {"type": "array", "items": _TAG_SCHEMA}}}, 401, 403, 404)}},
    "/api/v1/essays/{essay_id}/suggestions": {
        "get": {"summary": "Suggested passages of the current version not yet tagged or dismissed, with ranked "
                           "themes learned from the course's tags (reviewers, admins, and the officer of the essay's unit)",
                "parameters": [_ESSAY_ID],
                "responses": std_responses({"type": "object", "required": ["suggestions"], "properties": {
                    "suggestions": {"type": "array", "items": _SUGGESTION}}}, 401, 403, 404)}},
    "/api/v1/triage": {
        "get": {"summary": "Suggested passages to decide, across essays: the reviewer's assigned units first "
                           "(reviewers, admins)",
                "parameters": [{"name": "course", "in": "query", "required": True, "schema": {"type": "integer"}},
                               {"name": "unit", "in": "query", "schema": {"type": "string"},
                                "description": "Only this unit (code)"}],
                "responses": std_responses({"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": {"type": "object", "properties": {
                        "suggestion_id": {"type": "integer"}, "essay_id": {"type": "integer"},
                        "version": {"type": "integer"}, "start": {"type": "integer"}, "end": {"type": "integer"},
                        "kind": {"type": "string"}, "text": {"type": "string"}, "before": {"type": "string"},
                        "after": {"type": "string"}, "unit": {"type": "string"}, "topic": {"type": "string"},
                        "themes": {"type": "array", "items": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "name": {"type": "string"},
                            "score": {"type": "number"}}}}}}}}}, 401, 403, 422)}},
    "/api/v1/suggestions/{suggestion_id}/dismiss": {
        "post": {"summary": "Dismiss a suggested passage (reviewers, admins)", "parameters": [_SUGGESTION_ID],
                 "responses": std_responses(_DECISION, 401, 403, 404, 409)}},
    "/api/v1/suggestions/{suggestion_id}/reopen": {
        "post": {"summary": "Undo a dismissal (reviewers, admins)", "parameters": [_SUGGESTION_ID],
                 "responses": std_responses(_DECISION, 401, 403, 404, 409)}},
    "/api/v1/tags/{tag_id}": {
        "patch": {"summary": "Edit a tag: kind, themes, note, start/end (same version), duplicate_of (a ward officer: their ward's own tags, kind/note/start/end only)",
                  "parameters": [_TAG_ID],
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                  "responses": {**std_responses(_TAG_SCHEMA, 400, 401, 403, 404, 422), **_CONFLICT}},
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
