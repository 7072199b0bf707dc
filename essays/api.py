"""The essays part of /api/v1: hand in one's own essay, read it back, read an essay one may see."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from lms.api import API_PREFIX, ApiError, add_openapi_paths, api_login_required, json_body, \
    register_api_blueprint, std_responses
from lms.db import reads_first, utcnow
from lms.hooks import ESSAY_API_FIELDS
from lms.limits import drain_refused_body
from lms.timefmt import iso
from essays.access import essay_of, essay_or_404, record_view, topic_or_404
from essays.models import EssayVersion
from essays.operations import MESSAGES, SubmissionError, begin_hand_in, finish_hand_in, too_large_message
from lms.transaction import api_committed

bp = Blueprint("essays_api", __name__, url_prefix=API_PREFIX)


def init_app(app: Flask) -> None:
    """Mount the essays API and describe it in the OpenAPI document."""
    register_api_blueprint(app, bp)
    add_openapi_paths(app, OPENAPI_PATHS, OPENAPI_SCHEMAS)


def submission_json(version: EssayVersion) -> dict[str, Any]:
    """A handed-in version as the API answers it."""
    return {"essay_id": version.essay_id, "version": version.number, "sha256": version.sha256,
            "submitted_at": iso(version.submitted_at), "late": version.is_late, "chars": version.chars}


def ocr_json(version: EssayVersion) -> dict[str, Any]:
    """Whether the text was recognised from photos/scans, how confidently, and whether a person must read it."""
    return {"ocr": bool(version.ocr), "ocr_confidence": version.ocr_confidence,
            "needs_reading": bool(version.needs_reading), "pages": len(version.files_of("page")) or None}


def _read_body() -> tuple[list[tuple[str, bytes]] | None, str | None]:
    """(files as (name, bytes) in the order sent, pasted text) from multipart `file` fields or JSON {"text": …}."""
    try:
        if request.is_json:
            body = json_body()
            text = body.get("text")
            if not isinstance(text, str):
                raise ApiError(400, "Trường \"text\" phải là một chuỗi văn bản.")
            return None, text
        uploads = request.files.getlist("file")
    except RequestEntityTooLarge:
        drain_refused_body()
        raise ApiError(413, too_large_message(), "too_large") from None
    if not uploads:
        raise ApiError(400, MESSAGES["nothing"])
    return [(upload.filename or "", upload.read()) for upload in uploads], None


@bp.put("/courses/<int:course_id>/topics/<int:topic_id>/essay")
@api_login_required
@reads_first
def put_essay(course_id: int, topic_id: int):
    now = utcnow()  # time of receipt, before reading and extracting the file
    user = current_user._get_current_object()
    topic = topic_or_404(course_id, topic_id)
    # Who may hand in (and whether the window is open) is decided before the body is read.
    with api_committed(SubmissionError):
        begin_hand_in(user, topic, uploaded_by=user, now=now)
        files, text = _read_body()
        version = finish_hand_in(user, topic, uploaded_by=user, now=now, files=files, text=text)
    return jsonify(submission_json(version))


@bp.get("/courses/<int:course_id>/topics/<int:topic_id>/essay")
@api_login_required
def get_own_essay(course_id: int, topic_id: int):
    topic = topic_or_404(course_id, topic_id)
    essay = essay_of(current_user.id, topic.id)
    if essay is None or essay.current_version is None:
        raise ApiError(404, "Bạn chưa nộp bài thu hoạch cho chủ đề này.", "not_submitted")
    return jsonify(submission_json(essay.current_version))


@bp.get("/essays/<int:essay_id>")
@api_login_required
def get_essay(essay_id: int):
    user = current_user._get_current_object()
    essay = essay_or_404(essay_id, user)
    version = essay.current_version
    if version is None:
        raise ApiError(404)
    body = {"essay_id": essay.id, "version": version.number, "text": version.text,
            "trainee": essay.trainee.full_name, "unit_code": essay.unit.code, "topic_id": essay.topic_id,
            "submitted_at": iso(version.submitted_at), "late": version.is_late, "sha256": version.sha256,
            **ocr_json(version)}
    # Features add fields they own (review: same_content_as), each deciding who may see them.
    for extra in ESSAY_API_FIELDS.providers():
        body.update(extra(essay, user))
    record_view(essay, user)
    return jsonify(body)


_SUBMISSION = {"$ref": "#/components/schemas/EssaySubmission"}
_PATH_PARAMS = [
    {"name": "course_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    {"name": "topic_id", "in": "path", "required": True, "schema": {"type": "integer"}},
]
_OCR_PROPERTIES: dict[str, Any] = {
    "ocr": {"type": "boolean", "description": "the text was recognised by Tesseract from photos/scans: "
                                              "check it against the page images"},
    "ocr_confidence": {"type": "number", "nullable": True, "minimum": 0, "maximum": 100,
                       "description": "mean word confidence of the recognition (null without OCR)"},
    "needs_reading": {"type": "boolean", "description": "a handwritten essay handed in by the ward officer: "
                                                        "counted as submitted, not searchable, read by a person"},
    "pages": {"type": "integer", "nullable": True, "description": "page images of a photographed/scanned essay"},
}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "EssaySubmission": {
        "type": "object", "required": ["essay_id", "version", "sha256", "submitted_at", "late", "chars"],
        "properties": {
            "essay_id": {"type": "integer"},
            "version": {"type": "integer", "description": "1 for the first hand-in, then 2, 3, …"},
            "sha256": {"type": "string", "description": "SHA-256 (hex) of the stored file"},
            "submitted_at": {"type": "string", "format": "date-time", "description": "time of receipt, +07:00"},
            "late": {"type": "boolean", "description": "after the due time and not under an extension"},
            "chars": {"type": "integer", "description": "characters of the extracted, normalised text"},
        }},
    "Essay": {
        "type": "object",
        "required": ["essay_id", "version", "text", "trainee", "unit_code", "topic_id", "submitted_at", "late",
                     "sha256", "ocr", "ocr_confidence", "needs_reading"],
        "properties": {
            "essay_id": {"type": "integer"}, "version": {"type": "integer"},
            "text": {"type": "string", "description": "stored text of the current version (NFC)"},
            "trainee": {"type": "string", "description": "full name of the trainee"},
            "unit_code": {"type": "string"}, "topic_id": {"type": "integer"},
            "submitted_at": {"type": "string", "format": "date-time"}, "late": {"type": "boolean"},
            "sha256": {"type": "string"},
            "same_content_as": {"type": "array", "items": {"type": "integer"},
                                "description": "Bài của học viên khác có nội dung trùng (giống hệt hoặc ≥ 90 %); "
                                               "chỉ có với Ban Tổ chức, quản trị và cán bộ đơn vị của bài"},
            **_OCR_PROPERTIES,
        }},
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/courses/{course_id}/topics/{topic_id}/essay": {
        "put": {
            "parameters": _PATH_PARAMS,
            "summary": "Hand in (or replace) my essay on a topic",
            "description": "Send the file as multipart field `file` (.docx, .doc, .odt, .pdf, .txt), or photos "
                           "of the pages (.jpg, .jpeg, .png, .heic) / scanned PDFs as several `file` fields in "
                           "page order (read by OCR, joined into one stored PDF; the originals are kept), or "
                           "JSON {\"text\": …} with the essay typed or pasted. Each call adds a version; "
                           "earlier versions are kept. After the cut-off (unless an extension applies) → 409. "
                           "Photos with too little readable text → 422 `unreadable`; OCR not installed on the "
                           "server → 422 `no_ocr`.",
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "one or several files, in page order"}}}},
                "application/json": {"schema": {"type": "object", "required": ["text"], "properties": {
                    "text": {"type": "string"}}}},
            }},
            "responses": std_responses(_SUBMISSION, 400, 401, 404, 409, 413, 422),
        },
        "get": {"summary": "My current version on a topic (404 when nothing is handed in)", "parameters": _PATH_PARAMS,
                "responses": std_responses(_SUBMISSION, 401, 404)},
    },
    "/api/v1/essays/{essay_id}": {
        "get": {"summary": "An essay's current text (owner, officer of its unit, Board reviewers, admins)",
                "parameters": [{"name": "essay_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": std_responses({"$ref": "#/components/schemas/Essay"}, 401, 404)},
    },
}
