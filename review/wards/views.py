"""The ward's compilation page: its queue by class topic, what it accepted, sending to the Board."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from lms.courses import visible_courses
from lms.db import reads_first
from lms.forms import EmptyForm
from lms.hooks import NAV
from lms.models import Course, Role, Unit, User
from lms.params import MAX_ID, parse_id, parse_int
from lms.security import course_or_404, role_required, unit_or_404
from lms.transaction import transaction, write_after_reads
from review.tagging.models import KIND_LABELS, TAG_KINDS
from review.tagging.operations import TaggingError
from review.wards import api as wards_api
from review.wards.operations import (
    SendingConflict,
    accept,
    accepted_tags,
    can_compile_unit,
    can_read_sent,
    dismiss,
    latest_sent,
    scan_unit,
    send_and_commit,
    sent_history,
    suggestion_in_unit,
    topic_label,
    undo,
    ward_queue,
)

bp = Blueprint("wards", __name__, url_prefix="/ward")
STAFF = (Role.admin, Role.reviewer, Role.officer)


def init_app(app: Flask) -> None:
    """Register the ward pages, the send/sent API and the officers' menu entry."""
    app.register_blueprint(bp)
    wards_api.init_app(app)
    NAV.register(app, _nav)
    app.jinja_env.globals["ward_compile_url"] = ward_compile_url
    app.jinja_env.globals["topic_label"] = topic_label
    app.jinja_env.globals["ward_latest_sent"] = latest_sent


def _nav(user: User) -> list[tuple[str, str]]:
    if user.role != Role.officer or user.unit is None:
        return []
    courses = visible_courses(user)
    if not courses:
        return []
    return [(url_for("wards.compile_unit", course_id=courses[0].id, code=user.unit.code), "Tổng hợp kiến nghị")]


def ward_compile_url(course_id: int, code: str) -> str:
    """Where a unit's compilation page is (for the officer's unit page and the Board's overview)."""
    return url_for("wards.compile_unit", course_id=course_id, code=code)


def _unit_for(course_id: int, code: str) -> tuple[Course, Unit]:
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    if not can_read_sent(current_user, unit.id):
        abort(404)
    return course, unit


@bp.route("/<int:course_id>/units/<code>")
@role_required(*STAFF)
def compile_unit(course_id: int, code: str):
    course, unit = _unit_for(course_id, code)
    may_compile = can_compile_unit(current_user, unit.id)
    if may_compile:
        with write_after_reads():  # the suggestions cache of versions not scanned yet
            scan_unit(course, unit)
    queue = ward_queue(course, unit) if may_compile else []
    tags = accepted_tags(course, unit)
    accepted: dict[str, list] = {}
    for tag in tags:
        accepted.setdefault(topic_label(tag.essay.topic.position, tag.essay.topic.title), []).append(tag)
    return render_template("wards/compile.html", course=course, unit=unit, queue=queue, accepted=accepted,
                           n_accepted=len(tags), history=sent_history(course.id, unit.id), may_compile=may_compile,
                           kinds=KIND_LABELS, kind_values=TAG_KINDS, form=EmptyForm())


def _answer(ok: bool, message: str, back: str, status: int = 200, **extra) -> ResponseReturnValue:
    """JSON for the page's script, a flash and a redirect without it."""
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify({"ok": ok, "message": message, **extra}), status
    flash(message, "success" if ok else "danger")
    return redirect(back)


def _int_or_none(name: str) -> int | None:
    return parse_int(request.form.get(name, ""), low=-MAX_ID)


@bp.route("/<int:course_id>/units/<code>/suggestions/<int:suggestion_id>/<any(accept, dismiss, undo):action>",
          methods=["POST"])
@role_required(*STAFF)
def decide(course_id: int, code: str, suggestion_id: int, action: str):
    course, unit = _unit_for(course_id, code)
    back = url_for("wards.compile_unit", course_id=course.id, code=unit.code)
    if not can_compile_unit(current_user, unit.id):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    found = suggestion_in_unit(suggestion_id, course, unit)
    if found is None:
        abort(404)
    suggestion, essay = found
    user = current_user._get_current_object()
    try:
        with transaction():
            if action == "accept":
                tag = accept(suggestion, essay, user, start=_int_or_none("start"), end=_int_or_none("end"),
                             kind=request.form.get("kind") or None)
                for other_id in [i for i in map(parse_id, request.form.getlist("same")) if i is not None]:
                    _accept_duplicate(other_id, course, unit, user, tag.id)
                message = "Đã nhận đoạn vào tổng hợp của đơn vị."
            elif action == "dismiss":
                dismiss(suggestion, user)
                message = "Đã bỏ qua gợi ý."
            else:
                undo(suggestion)
                message = "Đã hoàn tác."
    except TaggingError as exc:
        return _answer(False, str(exc), back, 422)
    return _answer(True, message, back, suggestion_id=suggestion.id, status_now=suggestion.status)


def _accept_duplicate(suggestion_id: int, course: Course, unit: Unit, user: User, lead_id: int) -> None:
    """A near-duplicate of the group's lead: tagged too, marked as repeating it (counted once)."""
    found = suggestion_in_unit(suggestion_id, course, unit)
    if found is None:
        raise TaggingError("Có đoạn trong nhóm không thuộc đơn vị.")
    accept(found[0], found[1], user, duplicate_of=lead_id)


@bp.route("/<int:course_id>/units/<code>/send", methods=["POST"])
@role_required(*STAFF)
@reads_first
def send(course_id: int, code: str):
    course, unit = _unit_for(course_id, code)
    back = url_for("wards.compile_unit", course_id=course.id, code=unit.code)
    if not can_compile_unit(current_user, unit.id):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        report = send_and_commit(course, unit, current_user._get_current_object())
    except SendingConflict as exc:
        flash(str(exc), "danger")
        return redirect(back)
    flash(f"Đã gửi báo cáo lần {report.version} cho Ban Tổ chức ({report.passage_count} ý kiến).", "success")
    return redirect(back)
