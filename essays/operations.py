"""Handing in essays and granting extensions: checks, file storage and rows, in the caller's transaction.

Operations flush and write the audit record; the view or CLI commits once. Every refusal is a
`SubmissionError` (or `ExtensionError`) whose `.message` is Vietnamese and `.status` an HTTP status.

Nothing is left behind by a refused upload: the file is checked and its text extracted before any
row is written or any byte is stored. The file is stored (durably) before the rows that point at
it, so a committed row always has its file. If the transaction then rolls back, a file *this*
transaction created is deleted again when no committed version uses the same content (see
`_forget_orphans`); a file that already existed is never touched, since other versions share it.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from flask import current_app
from sqlalchemy import Engine, bindparam, event, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from essays import storage
from essays.deadlines import Deadlines, Lateness, deadlines_for
from essays.extraction import (
    IMAGE_KINDS,
    MAX_FILES,
    MESSAGES as EXTRACTION_MESSAGES,
    MIN_LETTERS,
    WARNINGS,
    ExtractionError,
    check_upload,
    clean_filename,
    extract_scan,
    extract_text,
)
from essays.indexing import queue_upload
from essays.models import (
    Essay,
    EssayVersion,
    EssayVersionFile,
    Extension,
    can_grant_extension,
    can_submit_for,
)
from essays.vntext import count_letters, prepare_text
from lms.courses import enrollment_of
from lms.db import UTCDateTime, app_object, db, utcnow, write_transaction
from lms.hooks import essay_version_stored
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.security import audit
from lms.timefmt import fmt_datetime

logger = logging.getLogger(__name__)

_NEW_FILES_KEY = "essays.new_files"

MESSAGES = {
    "nothing": "Vui lòng chọn tệp bài thu hoạch hoặc dán nội dung bài vào ô văn bản.",
    "both": "Vui lòng chỉ gửi một trong hai: tệp bài thu hoạch hoặc nội dung dán vào, không gửi cả hai.",
    "paste_short": "Nội dung dán vào quá ngắn, chưa phải một bài thu hoạch. Vui lòng kiểm tra lại.",
    "paste_large": "Nội dung dán vào quá dài. Dung lượng tối đa cho phép là {limit}.",
    "not_found": "Không tìm thấy học viên hoặc chủ đề này.",
    "not_enrolled": "Học viên không có tên trong danh sách lớp này nên không nộp bài được.",
    "closed": "Đã quá hạn chót nhận bài ({cutoff}). Hệ thống không nhận bài nữa; nếu có lý do chính "
              "đáng, vui lòng liên hệ cán bộ đơn vị để được gia hạn.",
    "handwritten_self": "Chỉ cán bộ đơn vị mới nộp hộ được bài viết tay (cần đọc trực tiếp).",
    "handwritten_files": "Bài viết tay được nộp dưới dạng ảnh chụp (.jpg, .jpeg, .png, .heic) hoặc tệp "
                         "PDF scan các trang bài.",
    "ocr_warning": "Chữ của bài được máy nhận dạng tự động từ ảnh chụp/bản scan (độ tin cậy trung bình "
                   "{confidence}). Vui lòng đọc lại nội dung bên dưới; nếu sai nhiều, hãy chụp lại rõ hơn "
                   "và nộp lại.",
    "handwritten_note": "Bài viết tay do cán bộ đơn vị nộp hộ: được tính là đã nộp, Ban Tổ chức sẽ đọc "
                        "trực tiếp trên ảnh các trang (không tìm kiếm được theo nội dung).",
}


class EssayError(Exception):
    """A request about essays that cannot be done; `.message` is for the user, `.status` for HTTP."""

    def __init__(self, message: str, status: int = 422, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class SubmissionError(EssayError):
    """An essay that is not accepted (nothing has been stored)."""


class ExtensionError(EssayError):
    """An extension that cannot be granted."""


@dataclass(frozen=True)
class ExtraFile:
    """A further file of a version (an original photo, a page preview) and its hash."""

    data: bytes
    kind: str
    file_name: str | None
    sha256: str


@dataclass(frozen=True)
class PreparedSubmission:
    """An upload that passed the checks: its bytes, kind, clean name and normalised text."""

    data: bytes
    kind: str
    file_name: str | None
    text: str
    warnings: tuple[str, ...]
    sha256: str
    size: int
    ocr: bool = False
    ocr_confidence: float | None = None
    needs_reading: bool = False
    originals: tuple[ExtraFile, ...] = ()
    previews: tuple[ExtraFile, ...] = ()

    def extra_files(self) -> list[tuple[str, int, ExtraFile]]:
        """(role, position, file) of every further file to store with the version."""
        return ([("original", i, f) for i, f in enumerate(self.originals, start=1)]
                + [("page", i, f) for i, f in enumerate(self.previews, start=1)])


def percent_label(value: float) -> str:
    """66.7 → "66,7 %" (Vietnamese decimal comma)."""
    return f"{value:.1f}".replace(".", ",") + " %"


def _size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def max_upload_bytes() -> int:
    """The largest file accepted, from the app's settings."""
    return int(current_app.config["MAX_UPLOAD_BYTES"])


def too_large_message(limit: int | None = None) -> str:
    """The Vietnamese refusal for a file over the limit."""
    return EXTRACTION_MESSAGES["too_large"].format(limit=_size_label(limit or max_upload_bytes()))


def _refusal(exc: ExtractionError) -> SubmissionError:
    return SubmissionError(exc.message, 413 if exc.code == "too_large" else 422, exc.code)


def prepare_submission(*, data: bytes | None, filename: str | None, text: str | None,
                       max_bytes: int | None = None, files: list[tuple[str, bytes]] | None = None,
                       handwritten: bool = False) -> PreparedSubmission:
    """Check an upload and extract its text, or normalise pasted text; touches neither DB nor disk.

    `files` are several (name, bytes) in the order given: photos or PDFs of one essay's pages.
    `handwritten`: an officer hands in photos/scans of a handwritten essay, kept to be read by a person.
    """
    limit = max_bytes or max_upload_bytes()
    if data is not None:
        files = [(filename or "", data)]
    has_text = text is not None and text.strip() != ""
    if files and has_text:
        raise SubmissionError(MESSAGES["both"], 400, "bad_request")
    if not files and not has_text:
        raise SubmissionError(MESSAGES["nothing"], 400, "bad_request")
    if files:
        try:
            return _prepare_files(files, limit, handwritten)
        except ExtractionError as exc:
            raise _refusal(exc) from None
    return _prepare_text(text or "", limit)


def _prepare_files(files: list[tuple[str, bytes]], limit: int, handwritten: bool) -> PreparedSubmission:
    if len(files) > MAX_FILES:
        raise ExtractionError("too_many_files", EXTRACTION_MESSAGES["too_many_files"].format(limit=MAX_FILES))
    kinds = [check_upload(name or "", data, limit) for name, data in files]
    if any(kind not in (*IMAGE_KINDS, "pdf") for kind in kinds):
        if handwritten:
            raise SubmissionError(MESSAGES["handwritten_files"], 422, "unsupported_type")
        if len(files) > 1:
            raise ExtractionError("mixed_files")
    if len(files) == 1 and kinds[0] not in IMAGE_KINDS and not handwritten:
        name, data = files[0]
        try:
            extracted = extract_text(data, kinds[0])
        except ExtractionError as exc:
            if exc.code != "scanned":
                raise
        else:
            return PreparedSubmission(data=data, kind=kinds[0], file_name=clean_filename(name),
                                      text=extracted.text, warnings=tuple(extracted.warnings),
                                      sha256=storage.sha256_of(data), size=len(data))
    return _prepare_scan(files, kinds, handwritten)


def _prepare_scan(files: list[tuple[str, bytes]], kinds: list[str], handwritten: bool) -> PreparedSubmission:
    """Photos and scans: Tesseract reads them (unless handwritten); the pages become one PDF."""
    parts = [(kind, data) for kind, (_name, data) in zip(kinds, files)]
    scanned = extract_scan(parts, read_text=not handwritten,
                           tesseract=current_app.config.get("TESSERACT_CMD", "tesseract"))
    pdf = scanned.pdf if scanned.pdf is not None else files[0][1]
    first_name = clean_filename(files[0][0])
    file_name = first_name if scanned.pdf is None else f"{first_name.rsplit('.', 1)[0]}.pdf"
    originals = tuple(ExtraFile(data=data, kind=kind, file_name=clean_filename(name), sha256=storage.sha256_of(data))
                      for kind, (name, data) in zip(kinds, files))
    previews = tuple(ExtraFile(data=jpeg, kind="jpeg", file_name=None, sha256=storage.sha256_of(jpeg))
                     for jpeg in scanned.previews)
    text, warnings = scanned.text, []
    if handwritten:
        warnings.append(MESSAGES["handwritten_note"])
    elif scanned.ocr and scanned.confidence is not None:
        warnings.append(MESSAGES["ocr_warning"].format(confidence=percent_label(scanned.confidence)))
    return PreparedSubmission(data=pdf, kind="pdf", file_name=file_name, text=text, warnings=tuple(warnings),
                              sha256=storage.sha256_of(pdf), size=len(pdf), ocr=scanned.ocr,
                              ocr_confidence=scanned.confidence if scanned.ocr else None,
                              needs_reading=handwritten, originals=originals, previews=previews)


def _prepare_text(text: str, limit: int) -> PreparedSubmission:
    if len(text.encode("utf-8")) > limit:
        raise SubmissionError(MESSAGES["paste_large"].format(limit=_size_label(limit)), 413, "too_large")
    normalised, legacy = prepare_text(text)
    if count_letters(normalised) < MIN_LETTERS:
        raise SubmissionError(MESSAGES["paste_short"], 422, "no_text")
    body = normalised.encode("utf-8")
    # The pasted text is kept as a UTF-8 file too, so every version has a file, a size and a hash.
    return PreparedSubmission(data=body, kind="paste", file_name=None, text=normalised,
                              warnings=(WARNINGS[legacy],) if legacy in WARNINGS else (),
                              sha256=storage.sha256_of(body), size=len(body))


def check_submission(trainee: User, topic: Topic, *, uploaded_by: User,
                     now: dt.datetime) -> tuple[Enrollment, Deadlines, Lateness]:
    """May `uploaded_by` hand in for `trainee` on `topic` at `now`? Raise SubmissionError if not."""
    enrollment = enrollment_of(trainee, topic.course_id)
    if not can_submit_for(uploaded_by, trainee, enrollment.unit_id if enrollment else None):
        raise SubmissionError(MESSAGES["not_found"], 404, "not_found")
    if enrollment is None:
        raise SubmissionError(MESSAGES["not_enrolled"], 404, "not_enrolled")
    deadlines = deadlines_for(topic.course, topic_id=topic.id, trainee_id=trainee.id, unit_id=enrollment.unit_id)
    lateness = deadlines.judge(now)
    if not lateness.accepted:
        raise SubmissionError(MESSAGES["closed"].format(cutoff=fmt_datetime(deadlines.cutoff_at)), 409, "closed")
    return enrollment, deadlines, lateness


def submit_essay(trainee: User, topic: Topic, *, data: bytes | None, filename: str | None, text: str | None,
                 uploaded_by: User, now: dt.datetime | None = None,
                 prepared: PreparedSubmission | None = None) -> EssayVersion:
    """Hand in a new version of the trainee's essay on the topic; flushes, the caller commits.

    `now` is the time of receipt (default: the server clock). Views pass `prepared` (from
    `prepare_submission`, run outside any write transaction) so SQLite's write lock is not held
    while a file is being read; the checks that need the database run again here.
    """
    now = now or utcnow()
    if prepared is None:
        # Refuse a closed or foreign submission before spending a subprocess on it.
        check_submission(trainee, topic, uploaded_by=uploaded_by, now=now)
        prepared = prepare_submission(data=data, filename=filename, text=text)
    if prepared.needs_reading and uploaded_by.id == trainee.id:
        raise SubmissionError(MESSAGES["handwritten_self"], 403, "forbidden")
    session = db.session
    # The files are written (and fsynced) before the first statement of the writing transaction,
    # so SQLite's write lock is not held meanwhile; a refusal below still removes them (_forget_orphans).
    data_dir = Path(current_app.config["DATA_DIR"])
    _store_all(session, data_dir, prepared)
    enrollment, _deadlines, lateness = check_submission(trainee, topic, uploaded_by=uploaded_by, now=now)
    # Now that the transaction holds SQLite's write lock: a refused upload of the same bytes may
    # have removed a shared file meanwhile (its clean-up takes the lock too). A stat if present.
    _store_all(session, data_dir, prepared)

    essay, number = _essay_with_next_number(trainee.id, topic, enrollment.unit_id, now)
    version = EssayVersion(
        essay_id=essay.id, number=number, text=prepared.text, chars=len(prepared.text), sha256=prepared.sha256,
        size=prepared.size, kind=prepared.kind, file_name=prepared.file_name, submitted_at=now,
        is_late=lateness.is_late, under_extension=lateness.under_extension, uploaded_by_id=uploaded_by.id,
        warnings="\n".join(prepared.warnings) or None, ocr=prepared.ocr, ocr_confidence=prepared.ocr_confidence,
        needs_reading=prepared.needs_reading,
    )
    session.add(version)
    session.flush()  # the version's id becomes the essay's current version
    session.add_all(EssayVersionFile(version_id=version.id, role=role, position=position, sha256=f.sha256,
                                     kind=f.kind, file_name=f.file_name, size=len(f.data))
                    for role, position, f in prepared.extra_files())
    set_committed_value(version, "essay", essay)
    essay.current_version_id = version.id
    set_committed_value(essay, "current_version", version)
    queue_upload(session, essay.id, now)
    audit("essay.submitted", target=f"essay:{essay.id}", user=uploaded_by,
          detail=f"version={number} sha256={prepared.sha256} late={int(lateness.is_late)}"
                 + (f" ocr={prepared.ocr_confidence}" if prepared.ocr else "")
                 + (" needs_reading=1" if prepared.needs_reading else "")
                 + (f" on_behalf_of={trainee.username}" if uploaded_by.id != trainee.id else ""))
    session.flush()
    # Listeners (the LTI score return) add their rows to this transaction.
    essay_version_stored.send(app_object(), session=session, essay_id=essay.id,
                              trainee_id=trainee.id, topic_id=topic.id, version_number=number)
    logger.info("essay %s version %s handed in (%s, %s bytes)", essay.id, number, prepared.kind, prepared.size)
    return version


def begin_hand_in(trainee: User, topic: Topic, *, uploaded_by: User, now: dt.datetime) -> None:
    """The upload sequence of the page and the API, steps 1-2 (raises SubmissionError).

    1. Who may hand in, and whether the window is open at `now` (the time of receipt), is checked
       in the read transaction, before the body is read. 2. The read transaction ends, so the
       file is read, checked and its text extracted without holding one (`finish_hand_in`).
    """
    check_submission(trainee, topic, uploaded_by=uploaded_by, now=now)
    db.session.commit()


def finish_hand_in(trainee: User, topic: Topic, *, uploaded_by: User, now: dt.datetime,
                   files: list[tuple[str, bytes]] | None, text: str | None,
                   handwritten: bool = False) -> EssayVersion:
    """Steps 3-4: check and extract the upload outside any transaction, then one short write
    transaction checks again, stores the version (`submit_essay`) and commits."""
    prepared = prepare_submission(data=None, filename=None, text=text, files=files or None, handwritten=handwritten)
    with write_transaction():
        version = submit_essay(trainee, topic, data=None, filename=None, text=text,
                               uploaded_by=uploaded_by, now=now, prepared=prepared)
        db.session.commit()
    return version


def _store_all(session: Session, data_dir: Path, prepared: PreparedSubmission) -> None:
    """Store the version's file and its originals/previews; remember the ones this call created."""
    blobs = [(prepared.data, prepared.sha256)] + [(f.data, f.sha256) for _r, _p, f in prepared.extra_files()]
    for data, sha256 in blobs:
        stored = storage.store_bytes(data_dir, data, sha256)
        if stored.created:
            session.info.setdefault(_NEW_FILES_KEY, []).append((str(data_dir), stored.sha256))


# Same text on SQLite and PostgreSQL. Written as SQL because SQLAlchemy does not cache the
# compiled ON CONFLICT DO UPDATE construct: compiling it took ~1 ms per upload under the write lock.
_NEXT_VERSION = text(
    "INSERT INTO essay (course_id, topic_id, trainee_id, unit_id, version_count, created_at)"
    " VALUES (:course_id, :topic_id, :trainee_id, :unit_id, 1, :created_at)"
    " ON CONFLICT (trainee_id, topic_id) DO UPDATE SET version_count = essay.version_count + 1"
    " RETURNING id, version_count"
).bindparams(bindparam("created_at", type_=UTCDateTime()))


def _essay_with_next_number(trainee_id: int, topic: Topic, unit_id: int, now: dt.datetime) -> tuple[Essay, int]:
    """The trainee's essay on the topic (created if missing) and the number of the version to write.

    One statement creates the essay or bumps its counter and returns the number, so racing
    uploads cannot get the same number, and the write lock is held for one statement fewer.
    """
    session = db.session
    essay_id, number = session.execute(_NEXT_VERSION, {
        "course_id": topic.course_id, "topic_id": topic.id, "trainee_id": trainee_id, "unit_id": unit_id,
        "created_at": now}).one()
    # populate_existing: an Essay already in the session must show the counter as it is now.
    essay = session.get(Essay, essay_id, populate_existing=True)
    assert essay is not None
    return essay, number


@event.listens_for(Session, "after_commit")
def _keep_new_files(session: Session) -> None:
    session.info.pop(_NEW_FILES_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_orphans(session: Session, transaction) -> None:
    """Delete files created by a transaction that did not commit, unless committed rows use them.

    Why not keep them: a refused-after-storage upload must leave nothing behind. Why the check:
    identical content is shared, and another transaction may have committed a row for it since.
    On SQLite the check and the removal hold the write lock, and `submit_essay` re-stores the
    file under that lock, so an upload of the same bytes cannot commit a row without its file;
    on PostgreSQL two byte-identical uploads racing with a rollback could in principle lose the
    file of the other: the window is one statement long, and `flask essays check-files`-style
    verification (hash vs rows) would report it.
    """
    if transaction.parent is not None or transaction.nested:
        return
    pending = session.info.pop(_NEW_FILES_KEY, None)
    if not pending:
        return
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001 - no engine, nothing we can check
        return
    for data_dir, sha256 in pending:
        try:
            with write_transaction(), cast(Engine, bind).connect() as conn:
                used = conn.execute(select(EssayVersion.id).where(EssayVersion.sha256 == sha256).limit(1)).first()
                used = used or conn.execute(select(EssayVersionFile.id).where(
                    EssayVersionFile.sha256 == sha256).limit(1)).first()
                if used is None:
                    storage.remove_file(data_dir, sha256)
        except Exception:  # noqa: BLE001 - clean-up must never hide the original error
            logger.exception("could not check orphan file %s", sha256)


def grant_extension(granted_by: User, course: Course, *, trainee: User | None = None, unit: Unit | None = None,
                    topic: Topic | None = None, until_at: dt.datetime, reason: str) -> Extension:
    """Give a trainee or a whole unit more time (one topic or all); flushes, the caller commits."""
    reason = " ".join((reason or "").split())
    if (trainee is None) == (unit is None):
        raise ExtensionError("Vui lòng chọn một học viên hoặc một đơn vị được gia hạn.", 400, "bad_request")
    if not can_grant_extension(granted_by, trainee=trainee, unit_id=unit.id if unit else None):
        if granted_by.role == Role.officer and trainee is not None:
            raise ExtensionError("Không tìm thấy học viên này trong đơn vị của bạn.", 404, "not_found")
        raise ExtensionError("Bạn không có quyền gia hạn nộp bài cho học viên hoặc đơn vị này.", 403, "forbidden")
    if not reason:
        raise ExtensionError("Vui lòng ghi lý do gia hạn.", 422, "reason_required")
    if topic is not None and topic.course_id != course.id:
        raise ExtensionError("Chủ đề không thuộc lớp này.", 404, "not_found")
    if trainee is not None and enrollment_of(trainee, course.id) is None:
        raise ExtensionError(MESSAGES["not_enrolled"], 404, "not_enrolled")
    if until_at.tzinfo is None:
        raise ValueError("until_at must be aware")
    if until_at <= course.essay_due_at:
        raise ExtensionError(
            f"Thời hạn mới phải sau hạn nộp bài của lớp ({fmt_datetime(course.essay_due_at)}).", 422, "too_early")
    extension = Extension(course_id=course.id, trainee_id=trainee.id if trainee else None,
                          unit_id=unit.id if unit else None, topic_id=topic.id if topic else None,
                          until_at=until_at, reason=reason, granted_by_id=granted_by.id, granted_at=utcnow())
    db.session.add(extension)
    db.session.flush()
    who = f"user:{trainee.username}" if trainee else f"unit:{unit.code}"  # type: ignore[union-attr]
    audit("extension.granted", target=who, user=granted_by,
          detail=f"course={course.id} topic={topic.id if topic else 'all'} until={until_at.isoformat()} "
                 f"reason={reason[:200]}")
    return extension
