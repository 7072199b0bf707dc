"""Essay pages: my essays, hand in (also on behalf), receipt and versions, download, unit list, extensions."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from essays import scan_jobs, storage
from essays.access import essay_of, essay_or_404, record_view, topic_or_404, version_or_404
from essays.deadlines import deadlines_for, essay_state, extensions_query
from essays.duplicates import same_content_essays
from essays.extraction import ocr_available
from essays.forms import ExtensionForm, SubmitForm
from essays.models import Essay, EssayVersion, Extension, can_submit_for
from essays.operations import ExtensionError, SubmissionError, begin_hand_in, finish_hand_in, grant_extension
from lms.courses import enrollment_of, visible_courses
from lms.db import db, reads_first, utcnow
from lms.jobs import job_or_404
from lms.models import STAFF_ROLES, Course, Enrollment, Role, Topic, Unit, User
from lms.security import role_required
from lms.timefmt import parse_local
from lms.transaction import transaction, write_after_reads

bp = Blueprint("essays", __name__)

MIMETYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
    "paste": "text/plain; charset=utf-8",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "heic": "image/heic",
}


@bp.route("/essays")
@role_required(Role.trainee)
def mine():
    user = current_user._get_current_object()
    enrollments = db.session.scalars(
        select(Enrollment).join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.user_id == user.id).order_by(Course.starts_on.desc(), Course.id.desc())).all()
    essays = {e.topic_id: e for e in db.session.scalars(
        select(Essay).where(Essay.trainee_id == user.id).options(selectinload(Essay.current_version)))}
    courses = []
    for enrollment in enrollments:
        course = enrollment.course
        extensions = db.session.scalars(extensions_query(
            course.id, trainee_ids=[user.id], unit_ids=[enrollment.unit_id])).all()
        rows = []
        for topic in course.topics:
            essay = essays.get(topic.id)
            state = essay_state(course, topic_id=topic.id, trainee_id=user.id, unit_id=enrollment.unit_id,
                                version=essay.current_version if essay else None, extensions=extensions)
            rows.append((topic, state, essay))
        courses.append((course, rows, officers_of(enrollment.unit_id)))
    return render_template("essays/mine.html", courses=courses, now=utcnow())


@bp.route("/courses/<int:course_id>/topics/<int:topic_id>/submit", methods=["GET", "POST"])
@login_required
@reads_first
def submit(course_id: int, topic_id: int):
    return _submit_page(course_id, topic_id, current_user._get_current_object())


@bp.route("/courses/<int:course_id>/topics/<int:topic_id>/trainees/<int:trainee_id>/submit",
          methods=["GET", "POST"])
@role_required(Role.officer, Role.admin)
@reads_first
def submit_for(course_id: int, topic_id: int, trainee_id: int):
    trainee = db.session.get(User, trainee_id)
    if trainee is None:
        abort(404)
    return _submit_page(course_id, topic_id, trainee)


def officers_of(unit_id: int | None) -> list[User]:
    """The active officers of a unit: whom a trainee asks for an extension or a new password."""
    if unit_id is None:
        return []
    return list(db.session.scalars(select(User).where(
        User.unit_id == unit_id, User.role == Role.officer, User.is_active_account.is_(True)).order_by(User.id)))


def _submit_page(course_id: int, topic_id: int, trainee: User):
    now = utcnow()  # time of receipt: before the body is read and the file extracted
    user = current_user._get_current_object()
    topic = topic_or_404(course_id, topic_id)
    enrollment = enrollment_of(trainee, course_id)
    if enrollment is None or not can_submit_for(user, trainee, enrollment.unit_id):
        abort(404)
    form = SubmitForm()
    error, status = None, 200
    if form.validate_on_submit():
        files = [(upload.filename, upload.read()) for upload in request.files.getlist("file") if upload.filename]
        text = form.text.data if form.text.data and form.text.data.strip() else None
        handwritten = bool(form.handwritten.data) and user.id != trainee.id
        try:
            begin_hand_in(trainee, topic, uploaded_by=user, now=now)
            if text is None and scan_jobs.wants_worker(files):
                return _queue_scan(trainee, topic, user, files, handwritten, now)
            version = finish_hand_in(trainee, topic, uploaded_by=user, now=now, files=files, text=text,
                                     handwritten=handwritten)
        except SubmissionError as exc:
            db.session.rollback()
            error, status = exc.message, exc.status
        else:
            flash(f"Đã nhận bài thu hoạch (lần nộp thứ {version.number}).", "success")
            return redirect(url_for("essays.version", essay_id=version.essay_id, number=version.number))
    elif form.is_submitted():
        error, status = "Biểu mẫu không hợp lệ, vui lòng tải lại trang và thử lại.", 400
    deadlines = deadlines_for(topic.course, topic_id=topic.id, trainee_id=trainee.id, unit_id=enrollment.unit_id)
    essay = essay_of(trainee.id, topic.id)
    return render_template("essays/submit.html", form=form, topic=topic, course=topic.course, trainee=trainee,
                           on_behalf=user.id != trainee.id, deadlines=deadlines, essay=essay, error=error,
                           is_open=utcnow() <= deadlines.cutoff_at, now=utcnow(),
                           officers=officers_of(enrollment.unit_id),
                           ocr_ready=ocr_available(current_app.config.get("TESSERACT_CMD", "tesseract"))), status


def _queue_scan(trainee: User, topic: Topic, user: User, files: list[tuple[str, bytes]], handwritten: bool,
                now) -> ResponseReturnValue:
    """Many photographed pages: staged and read by the worker; the trainee follows the job's page."""
    with write_after_reads():
        job = scan_jobs.queue_scan(trainee, topic, uploaded_by=user, files=files, handwritten=handwritten, now=now)
    return redirect(url_for("essays.scan_job", job_id=job.id))


@bp.route("/essays/scan-jobs/<int:job_id>")
@login_required
def scan_job(job_id: int):
    """"Đang nhận dạng" until the worker has read the pages; then the receipt, or the refusal."""
    job = job_or_404(job_id, current_user._get_current_object())
    if job.kind != scan_jobs.JOB_KIND:
        abort(404)
    params = json.loads(job.params or "{}")
    trainee, topic = db.session.get(User, params["trainee_id"]), db.session.get(Topic, params["topic_id"])
    if trainee is None or topic is None:
        abort(404)
    if job.status == "done":
        essay = essay_of(trainee.id, topic.id)
        if essay is not None and essay.current_version is not None:
            flash(job.message or "Đã nhận bài thu hoạch.", "success")
            return redirect(url_for("essays.version", essay_id=essay.id, number=essay.current_version.number))
    back = (url_for("essays.submit", course_id=topic.course_id, topic_id=topic.id) if trainee.id == current_user.id
            else url_for("essays.submit_for", course_id=topic.course_id, topic_id=topic.id, trainee_id=trainee.id))
    return render_template("essays/scan_job.html", job=job, refusal=scan_jobs.refusal_of(job), topic=topic,
                           pages=params.get("pages"), back=back)


@bp.route("/essays/<int:essay_id>")
@login_required
def view(essay_id: int):
    essay = essay_or_404(essay_id, current_user._get_current_object())
    if essay.current_version is None:
        abort(404)
    return redirect(url_for("essays.version", essay_id=essay.id, number=essay.current_version.number))


@bp.route("/essays/<int:essay_id>/versions/<int:number>")
@login_required
def version(essay_id: int, number: int):
    user = current_user._get_current_object()
    essay = essay_or_404(essay_id, user)
    shown = version_or_404(essay, number)
    is_owner = user.id == essay.trainee_id
    twins = same_content_essays(shown)
    html = render_template("essays/version.html", essay=essay, version=shown, versions=essay.versions,
                           is_owner=is_owner, can_submit=essay.can_submit(user), same_content=twins,
                           # The trainee is told, never whom; an officer or the Board sees the pair.
                           visible_twins=[] if is_owner else [e for e in twins if e.can_view(user)])
    record_view(essay, user)
    return html


@bp.route("/essays/<int:essay_id>/versions/<int:number>/file")
@login_required
def download(essay_id: int, number: int):
    user = current_user._get_current_object()
    essay = essay_or_404(essay_id, user)
    shown = version_or_404(essay, number)
    path = storage.file_path(Path(current_app.config["DATA_DIR"]), shown.sha256)
    if not path.exists():
        current_app.logger.error("stored file missing for essay %s version %s", essay.id, number)
        abort(404)
    name = shown.file_name or f"bai-thu-hoach-lan-{shown.number}.txt"
    # send_file writes filename*=UTF-8''… (RFC 5987) when the name is not ASCII.
    response = send_file(path, mimetype=MIMETYPES.get(shown.kind, "application/octet-stream"),
                         as_attachment=True, download_name=name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    record_view(essay, user, "essay.downloaded")
    return response


@bp.route("/essays/<int:essay_id>/versions/<int:number>/<any(original, page):role>/<int:position>")
@login_required
def version_file(essay_id: int, number: int, role: str, position: int):
    """An original photo/scan as sent (download) or a page preview (shown beside the text)."""
    user = current_user._get_current_object()
    essay = essay_or_404(essay_id, user)
    shown = version_or_404(essay, number)
    found = next((f for f in shown.files_of(role) if f.position == position), None)
    if found is None:
        abort(404)
    path = storage.file_path(Path(current_app.config["DATA_DIR"]), found.sha256)
    if not path.exists():
        current_app.logger.error("stored %s %s missing for essay %s version %s", role, position, essay.id, number)
        abort(404)
    is_original = role == "original"
    response = send_file(path, mimetype=MIMETYPES.get(found.kind, "application/octet-stream"),
                         as_attachment=is_original, download_name=found.file_name or f"trang-{position}.jpg",
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    if is_original:
        record_view(essay, user, "essay.downloaded")
    return response


@bp.route("/essays/needs-reading")
@role_required(Role.reviewer, Role.admin)
def needs_reading():
    """Handwritten essays the Board reads in person (their text is not searchable)."""
    essays = db.session.scalars(
        select(Essay).join(EssayVersion, EssayVersion.id == Essay.current_version_id)
        .where(EssayVersion.needs_reading.is_(True))
        .options(selectinload(Essay.current_version), selectinload(Essay.trainee), selectinload(Essay.unit),
                 selectinload(Essay.topic))
        .order_by(EssayVersion.submitted_at.desc()).limit(500)).all()
    return render_template("essays/needs_reading.html", essays=essays)


def _units_for(user: User) -> list[Unit]:
    """Units whose essays the user may list: an officer their own, the Board all with enrolments."""
    if user.role == Role.officer:
        return [user.unit] if user.unit else []
    return list(db.session.scalars(
        select(Unit).where(Unit.id.in_(select(Enrollment.unit_id))).order_by(Unit.code)))


@bp.route("/unit-essays")
@role_required(*STAFF_ROLES)
def unit_essays():
    user = current_user._get_current_object()
    units = _units_for(user)
    code = request.args.get("unit", "")
    unit = next((u for u in units if u.code == code), None)
    if unit is None and user.role == Role.officer and units:
        unit = units[0]
    tables = []
    if unit is not None:
        for course in visible_courses(user):
            enrollments = db.session.scalars(select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)).all()
            if not enrollments:
                continue
            essays = {(e.trainee_id, e.topic_id): e for e in db.session.scalars(
                select(Essay).where(Essay.course_id == course.id, Essay.unit_id == unit.id)
                .options(selectinload(Essay.current_version)))}
            extensions = db.session.scalars(extensions_query(
                course.id, trainee_ids=[e.user_id for e in enrollments], unit_ids=[unit.id])).all()
            rows = []
            for enrollment in sorted(enrollments, key=lambda e: e.user.username):
                cells = []
                for topic in course.topics:
                    essay = essays.get((enrollment.user_id, topic.id))
                    state = essay_state(course, topic_id=topic.id, trainee_id=enrollment.user_id,
                                        unit_id=unit.id, version=essay.current_version if essay else None,
                                        extensions=extensions)
                    cells.append((topic, state, essay))
                rows.append((enrollment.user, cells))
            tables.append((course, rows))
    return render_template("essays/unit.html", units=units, unit=unit, tables=tables,
                           may_submit=user.role in (Role.officer, Role.admin))


@bp.route("/extensions", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
def extensions():
    user = current_user._get_current_object()
    courses = visible_courses(user)
    form = ExtensionForm()
    form.course.choices = [(c.id, c.name) for c in courses]
    form.topic.choices = [(0, "Tất cả chủ đề")] + [(t.id, f"{t.title} ({c.name})") for c in courses for t in c.topics]
    if request.method == "GET":
        form.trainee.data = form.trainee.data or request.args.get("trainee", "")
    error, status = None, 200
    if form.validate_on_submit():
        try:
            with transaction():
                course = next((c for c in courses if c.id == form.course.data), None)
                if course is None:
                    raise ExtensionError("Không tìm thấy lớp học.", 404, "not_found")
                trainee = unit = None
                if form.trainee.data:
                    trainee = db.session.scalar(select(User).where(User.username == form.trainee.data.strip()))
                    if trainee is None or trainee.role != Role.trainee:
                        raise ExtensionError("Không tìm thấy học viên có tên đăng nhập này.", 404, "not_found")
                if form.unit_code.data:
                    unit = db.session.scalar(select(Unit).where(Unit.code == form.unit_code.data.strip()))
                    if unit is None:
                        raise ExtensionError("Không tìm thấy đơn vị có mã này.", 404, "not_found")
                topic = db.session.get(Topic, form.topic.data) if form.topic.data else None
                grant_extension(user, course, trainee=trainee, unit=unit, topic=topic,
                                until_at=parse_local(form.until.data), reason=form.reason.data)
        except ExtensionError as exc:
            error, status = exc.message, exc.status
        else:
            flash("Đã gia hạn nộp bài.", "success")
            return redirect(url_for("essays.extensions"))
    elif form.is_submitted():
        status = 422
    query = select(Extension).order_by(Extension.granted_at.desc()).limit(200)
    if user.role == Role.officer:
        # Lists filter in SQL: an officer sees extensions of their unit and its trainees only.
        query = query.where((Extension.unit_id == user.unit_id) | Extension.trainee_id.in_(
            select(User.id).where(User.unit_id == user.unit_id)))
    granted = db.session.scalars(query).all()
    people = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({e.trainee_id for e in granted if e.trainee_id})))}
    unit_names = {u.id: u for u in db.session.scalars(select(Unit).where(
        Unit.id.in_({e.unit_id for e in granted if e.unit_id})))}
    topics = {t.id: t for c in courses for t in c.topics}
    return render_template("essays/extensions.html", form=form, error=error, granted=granted, people=people,
                           unit_names=unit_names, topics=topics, is_board=user.is_board), status
