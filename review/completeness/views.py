"""Completeness pages: the unit officer's table, the Board's overview, attendance, exemptions,
extensions, downloads and notices. Views ask `review.completeness` for figures; they never count."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from essays.operations import ExtensionError, grant_extension
from lms.courses import visible_courses
from lms.db import db, utcnow
from lms.hooks import HOME, NAV
from lms.models import BOARD_ROLES, STAFF_ROLES, Enrollment, Role, Unit, User
from lms.params import id_arg, id_field, parse_id
from lms.security import audit_read, course_or_404, role_required, unit_or_404
from lms.text import vn_name_key, vn_sort_key
from lms.timefmt import fmt_datetime, to_local
from lms.transaction import committed, message_of
from review.completeness import api as completeness_api, operations as attendance_ops, reminders
from review.completeness.exports import (
    bar_chart_svg,
    essays_docx,
    essays_zip,
    missing_xlsx,
    overview_rows_html,
    overview_xlsx,
    safe_file_name,
)
from review.completeness.figures import (
    SORT_KEYS,
    STATE_CSS,
    STATE_LABELS,
    completeness,
    day_column,
    sort_units,
    trainee_states,
)
from review.completeness.models import Notice
from review.completeness.reminders import REMIND_EVERY, last_unit_reminder, send_reminders
from review.wards.queries import sent_by_unit
from review.web import as_of_from_request, download_response, parse_as_of

bp = Blueprint("completeness", __name__, url_prefix="/completeness")
STAFF = STAFF_ROLES
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def init_app(app: Flask) -> None:
    """Register the completeness pages, API, CLI, menu entry, officers' home page and notices."""

    app.register_blueprint(bp)
    completeness_api.init_app(app)
    reminders.init_app(app)
    NAV.register(app, _nav)
    HOME.register(app, _home)
    app.jinja_env.globals["unread_notices"] = unread_notices


def _nav(user: User) -> list[tuple[str, str]]:
    links = []
    if user.role in STAFF:
        links.append((url_for("completeness.index"), "Tình hình nộp bài"))
    count = unread_count(user)
    links.append((url_for("completeness.notices"), f"Thông báo ({count})" if count else "Thông báo"))
    return links


def _home(user: User) -> str | None:
    return url_for("completeness.index") if user.role == Role.officer else None


def unread_count(user: User) -> int:
    """How many notices the user has not dismissed."""
    return db.session.scalar(select(func.count(Notice.id)).where(
        Notice.user_id == user.id, Notice.read_at.is_(None))) or 0


def unread_notices(limit: int = 5) -> list[Notice]:
    """The current user's latest unread notices, for the pages to show."""
    if not current_user.is_authenticated:
        return []
    return list(db.session.scalars(select(Notice).where(
        Notice.user_id == current_user.id, Notice.read_at.is_(None))
        .order_by(Notice.created_at.desc()).limit(limit)))


# --- fetch helpers -------------------------------------------------------------------------------

def managed_unit_or_404(code: str) -> Unit:
    """A unit whose attendance and exemptions the current user may change (its officer, an admin)."""
    unit = unit_or_404(code)
    if not current_user.can_manage_unit(unit.id):
        abort(403)
    return unit


def _stamp(as_of: dt.datetime) -> str:
    return to_local(as_of).strftime("%Y%m%d-%H%M")


# --- pages ---------------------------------------------------------------------------------------

@bp.route("/")
@role_required(*STAFF)
def index():
    courses = visible_courses(current_user)
    if not courses:
        return render_template("completeness/no_course.html")
    course = courses[0]
    if current_user.role == Role.officer:
        if current_user.unit is None:
            abort(404)
        return redirect(url_for("completeness.unit_table", course_id=course.id, code=current_user.unit.code))
    return redirect(url_for("completeness.overview", course_id=course.id))


@bp.route("/<int:course_id>")
@role_required(*BOARD_ROLES)
def overview(course_id: int):
    course = course_or_404(course_id)
    as_of, as_of_text = as_of_from_request()
    sort, descending = request.args.get("sort", "name"), request.args.get("desc") == "1"
    try:
        threshold = float(request.args.get("threshold", "") or 80)
    except ValueError:
        threshold = 80.0
    figures = completeness(course, as_of)
    units = sort_units(figures.units, sort, descending)
    # One url_for for 3,300 links (each call ≈ 15 µs): the unit's code goes between the two halves.
    head, _, tail = url_for("completeness.unit_table", course_id=course.id, code=_CODE_MARK,
                            as_of=as_of_text or None).partition(_CODE_MARK)
    rows = overview_rows_html(figures, units, threshold, lambda code: head + quote(code, safe="") + tail)
    sent = sent_by_unit(course.id)
    unsent = [u["name"] for u in units.to_dict("records") if u["unit_id"] not in sent]
    return render_template(
        "completeness/overview.html", course=course, figures=figures, n_units=len(units), rows=rows,
        sent=sorted(sent.values(), key=lambda r: vn_sort_key(r.unit.name)), unsent=unsent,
        totals=figures.totals(), topic_totals=figures.topic_totals().to_dict("records"),
        sort=sort if sort in SORT_KEYS else "name", descending=descending, threshold=threshold,
        as_of_text=as_of_text, chart=bar_chart_svg(units, threshold), day_column=day_column,
        courses=visible_courses(current_user))


_CODE_MARK = "__unit_code__"


@bp.route("/<int:course_id>/overview.xlsx")
@role_required(*BOARD_ROLES)
def overview_download(course_id: int):
    course = course_or_404(course_id)
    as_of, _ = as_of_from_request()
    try:
        threshold = float(request.args.get("threshold", "") or 80)
    except ValueError:
        threshold = 80.0
    figures = completeness(course, as_of)
    units = sort_units(figures.units, request.args.get("sort", "name"), request.args.get("desc") == "1")
    figures.units = units
    return download_response(overview_xlsx(figures, threshold), f"tong-hop-lop-{course.id}-{_stamp(figures.as_of)}.xlsx",
                     XLSX)


@bp.route("/<int:course_id>/units/<code>")
@role_required(*STAFF)
def unit_table(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    as_of, as_of_text = as_of_from_request()
    missing_only = request.args.get("missing") == "1"
    topic_id = id_arg("topic")
    if topic_id is not None and topic_id not in {t.id for t in course.topics}:
        topic_id = None
    figures = completeness(course, as_of, [unit.id])
    table = trainee_states(course, [unit.id], figures.as_of, topic_id=topic_id)
    rows = _rows_by_trainee(table, missing_only)
    people = (table[["enrollment_id", "user_id", "full_name", "username", "is_exempt"]]
              .drop_duplicates("enrollment_id").to_dict("records"))
    return render_template(
        "completeness/unit.html", course=course, unit=unit, figures=figures, summary=figures.unit(unit.id),
        unit_topics=figures.unit_topics(unit.id).set_index("topic_id").to_dict("index"), rows=rows,
        people=people, missing_only=missing_only, topic_id=topic_id, as_of_text=as_of_text,
        labels=STATE_LABELS, css=STATE_CSS, may_manage=current_user.can_manage_unit(unit.id),
        may_hand_in=current_user.role in (Role.officer, Role.admin) and current_user.can_manage_unit(unit.id),
        is_board=current_user.is_board, courses=visible_courses(current_user),
        shown_topics=[t for t in course.topics if topic_id is None or t.id == topic_id],
        day_column=day_column)


def _rows_by_trainee(table, missing_only: bool) -> list[dict[str, Any]]:
    """One row per trainee with a cell per topic, in the table's (Vietnamese name) order."""
    rows: dict[int, dict[str, Any]] = {}
    for r in table.to_dict("records"):
        row = rows.setdefault(r["enrollment_id"], {
            "full_name": r["full_name"], "username": r["username"], "user_id": r["user_id"],
            "enrollment_id": r["enrollment_id"], "is_exempt": r["is_exempt"], "exempt_reason": r["exempt_reason"],
            "cells": {}})
        row["cells"][r["topic_id"]] = r
    result = list(rows.values())
    if missing_only:
        result = [r for r in result if any(c["state"] in ("missing", "extension") for c in r["cells"].values())]
    return result


@bp.route("/<int:course_id>/units/<code>/missing.xlsx")
@role_required(*STAFF)
def missing_download(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    as_of, _ = as_of_from_request()
    as_of = as_of or utcnow()
    table = trainee_states(course, [unit.id], as_of, states=("missing", "extension"))
    return download_response(missing_xlsx(table, course.name, unit.name, as_of),
                     f"chua-nop-{safe_file_name(unit.name)}-{_stamp(as_of or utcnow())}.xlsx", XLSX)


@bp.route("/<int:course_id>/units/<code>/essays.zip")
@role_required(*STAFF)
def essays_download(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    as_of, _ = as_of_from_request()
    table = trainee_states(course, [unit.id], as_of)
    audit_read("essays.exported", target=f"unit:{unit.code}", detail=f"course={course.id} format=zip")
    data = essays_zip(table, current_app.config["DATA_DIR"])
    return download_response(data, f"bai-thu-hoach-{safe_file_name(unit.name)}.zip", "application/zip")


@bp.route("/<int:course_id>/units/<code>/essays.docx")
@role_required(*STAFF)
def essays_compiled(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    as_of, _ = as_of_from_request()
    table = trainee_states(course, [unit.id], as_of)
    data = essays_docx(table, f"{course.name} – {unit.name}")
    return download_response(data, f"tap-bai-thu-hoach-{safe_file_name(unit.name)}.docx", DOCX)


# --- attendance, exemptions, extensions ----------------------------------------------------------

@bp.route("/<int:course_id>/units/<code>/attendance", methods=["GET", "POST"])
@role_required(*STAFF)
def attendance(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    may_manage = current_user.can_manage_unit(unit.id)
    if request.method == "POST":
        if not may_manage:
            abort(403)
        present = set()
        for value in request.form.getlist("present"):
            try:
                enrollment_id, day = value.split(":", 1)
                present.add((id_field("enrollment", {"enrollment": enrollment_id}, required=True) or 0,
                             dt.date.fromisoformat(day)))
            except ValueError:
                abort(400)
        with committed(attendance_ops.AttendanceError, success="Đã lưu điểm danh."):
            attendance_ops.set_attendance(course, unit, present, by=current_user._get_current_object())
        return redirect(url_for("completeness.attendance", course_id=course.id, code=unit.code))
    people = db.session.execute(
        select(Enrollment.id, User.full_name, User.username).join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)).all()
    people = sorted(people, key=lambda p: vn_name_key(p.full_name) + ((p.username,),))
    return render_template("completeness/attendance.html", course=course, unit=unit, people=people,
                           marks=attendance_ops.attendance_map(course, unit), days=course.class_days,
                           may_manage=may_manage)


@bp.route("/<int:course_id>/units/<code>/attendance/import", methods=["POST"])
@role_required(*STAFF)
def attendance_import(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = managed_unit_or_404(code)
    upload = request.files.get("file")
    back = url_for("completeness.attendance", course_id=course.id, code=unit.code)
    if upload is None or not upload.filename:
        flash("Vui lòng chọn tệp .xlsx điểm danh.", "danger")
        return redirect(back)
    with committed(attendance_ops.AttendanceError) as outcome:
        result = attendance_ops.read_attendance_xlsx(upload.read(), course, unit)
        attendance_ops.set_attendance(course, unit, result.present, by=current_user._get_current_object())
        outcome.success = f"Đã nhập điểm danh của {result.matched} học viên."
    if outcome.ok and result.unmatched:
        flash("Không tìm thấy học viên ở: " + "; ".join(result.unmatched[:20]), "warning")
    return redirect(back)


@bp.route("/<int:course_id>/units/<code>/exemptions", methods=["POST"])
@role_required(*STAFF)
def exemption(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = managed_unit_or_404(code)
    enrollment_id = parse_id(request.form.get("enrollment_id")) or 0
    with committed(attendance_ops.AttendanceError) as outcome:
        if request.form.get("remove") == "1":
            attendance_ops.remove_exemption(course, unit, enrollment_id, by=current_user._get_current_object())
            outcome.success = "Đã bỏ miễn nộp."
        else:
            attendance_ops.exempt_trainee(course, unit, enrollment_id, request.form.get("reason", ""),
                                          by=current_user._get_current_object())
            outcome.success = "Đã ghi nhận miễn nộp."
    return redirect(url_for("completeness.unit_table", course_id=course.id, code=unit.code))


@bp.route("/<int:course_id>/units/<code>/remind", methods=["POST"])
@role_required(*STAFF)
def remind(course_id: int, code: str):
    """«Nhắc học viên chưa nộp»: an in-app notice (and e-mail where configured), once an hour per unit."""
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    back = url_for("completeness.unit_table", course_id=course.id, code=unit.code)
    last = last_unit_reminder(course, unit)
    now = utcnow()
    if last is not None and now - last < REMIND_EVERY:
        flash(f"Đơn vị đã được nhắc lúc {fmt_datetime(last)}; mỗi giờ chỉ nhắc một lần, "
              f"có thể nhắc lại sau {fmt_datetime(last + REMIND_EVERY)}.", "warning")
        return redirect(back)
    db.session.commit()  # end the read transaction before the write
    notices, emails = send_reminders(course, now, unit)
    if notices:
        flash(f"Đã nhắc: {notices} thông báo trong ứng dụng"
              + (f", {emails} thư điện tử." if emails else " (chưa cấu hình gửi thư điện tử)."), "success")
    else:
        flash("Không có học viên nào chưa nộp: không gửi nhắc.", "success")
    return redirect(back)


@bp.route("/<int:course_id>/units/<code>/extensions", methods=["POST"])
@role_required(*STAFF)
def extension(course_id: int, code: str):
    course = course_or_404(course_id)
    unit = unit_or_404(code)
    back = url_for("completeness.unit_table", course_id=course.id, code=unit.code)
    trainee = None
    who = request.form.get("trainee", "")
    if who != "unit":
        enrollment = db.session.scalar(select(Enrollment).where(
            Enrollment.id == (parse_id(who) or 0), Enrollment.course_id == course.id,
            Enrollment.unit_id == unit.id))
        if enrollment is None:
            flash("Vui lòng chọn học viên được gia hạn.", "danger")
            return redirect(back)
        trainee = enrollment.user
    topic_id = parse_id(request.form.get("topic"))
    topic = next((t for t in course.topics if t.id == topic_id), None)
    try:
        until_at = parse_as_of(request.form.get("until", ""))
    except ValueError:
        until_at = None
    if until_at is None:
        flash("Thời hạn mới phải theo dạng dd/mm/yyyy HH:MM.", "danger")
        return redirect(back)
    with committed(ExtensionError, success=f"Đã gia hạn đến {fmt_datetime(until_at)}.",
                   message=_extension_refusal(unit_wide=trainee is None)):
        grant_extension(current_user._get_current_object(), course, trainee=trainee,
                        unit=unit if trainee is None else None, topic=topic, until_at=until_at,
                        reason=request.form.get("reason", ""))
    return redirect(back)


def _extension_refusal(unit_wide: bool):
    """The refusal's message; an officer asking for a unit-wide extension outside their unit gets a 403."""
    def message(exc: BaseException) -> str:
        if getattr(exc, "status", None) in (403, 404) and unit_wide and not current_user.is_board:
            abort(403)
        return message_of(exc)
    return message


# --- notices -------------------------------------------------------------------------------------

@bp.route("/notices", methods=["GET", "POST"])
@login_required
def notices():
    if request.method == "POST":
        with committed():
            db.session.execute(Notice.__table__.update().where(
                Notice.user_id == current_user.id, Notice.read_at.is_(None)).values(read_at=utcnow()))
        return redirect(url_for("completeness.notices"))
    items = db.session.scalars(select(Notice).where(Notice.user_id == current_user.id)
                               .order_by(Notice.created_at.desc()).limit(100)).all()
    return render_template("completeness/notices.html", items=items)
