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
from typing import Callable

from flask import current_app
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lms.courses import enrollment_of
from lms.db import UTCDateTime, db, utcnow, write_transaction
from lms.hooks import essay_version_stored
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.security import audit
from lms.timefmt import fmt_datetime
from essays import storage
from essays.deadlines import Deadlines, Lateness, deadlines_for
from essays.extraction import MESSAGES as EXTRACTION_MESSAGES
from essays.extraction import (MIN_LETTERS, WARNINGS, ExtractionError, check_upload, clean_filename,
                               extract_text)
from essays.models import (Essay, EssayVersion, Extension, IndexOutbox, can_grant_extension,
                           can_submit_for)
from essays.vntext import count_letters, prepare_text

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
class PreparedSubmission:
    """An upload that passed the checks: its bytes, kind, clean name and normalised text."""

    data: bytes
    kind: str
    file_name: str | None
    text: str
    warnings: tuple[str, ...]
    sha256: str
    size: int


def _size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def max_upload_bytes() -> int:
    """The largest file accepted, from the app's settings."""
    return int(current_app.config["MAX_UPLOAD_BYTES"])


def too_large_message(limit: int | None = None) -> str:
    """The Vietnamese refusal for a file over the limit."""
    return EXTRACTION_MESSAGES["too_large"].format(limit=_size_label(limit or max_upload_bytes()))


def prepare_submission(*, data: bytes | None, filename: str | None, text: str | None,
                       max_bytes: int | None = None) -> PreparedSubmission:
    """Check an upload and extract its text, or normalise pasted text; touches neither DB nor disk."""
    limit = max_bytes or max_upload_bytes()
    has_text = text is not None and text.strip() != ""
    if data is not None and has_text:
        raise SubmissionError(MESSAGES["both"], 400, "bad_request")
    if data is None and not has_text:
        raise SubmissionError(MESSAGES["nothing"], 400, "bad_request")
    if data is not None:
        try:
            kind = check_upload(filename or "", data, limit)
            extracted = extract_text(data, kind)
        except ExtractionError as exc:
            raise SubmissionError(exc.message, 413 if exc.code == "too_large" else 422, exc.code) from None
        return PreparedSubmission(data=data, kind=kind, file_name=clean_filename(filename or ""),
                                  text=extracted.text, warnings=tuple(extracted.warnings),
                                  sha256=storage.sha256_of(data), size=len(data))
    assert text is not None
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
    session = db.session
    # The file is written (and fsynced) before the first statement of the writing transaction,
    # so SQLite's write lock is not held meanwhile; a refusal below still removes it (_forget_orphans).
    data_dir = Path(current_app.config["DATA_DIR"])
    stored = storage.store_bytes(data_dir, prepared.data, prepared.sha256)
    if stored.created:
        session.info.setdefault(_NEW_FILES_KEY, []).append((str(data_dir), stored.sha256))
    enrollment, _deadlines, lateness = check_submission(trainee, topic, uploaded_by=uploaded_by, now=now)
    # Now that the transaction holds SQLite's write lock: a refused upload of the same bytes may
    # have removed the shared file meanwhile (its clean-up takes the lock too). A stat if present.
    again = storage.store_bytes(data_dir, prepared.data, prepared.sha256)
    if again.created:
        session.info.setdefault(_NEW_FILES_KEY, []).append((str(data_dir), again.sha256))

    essay, number = _essay_with_next_number(trainee.id, topic, enrollment.unit_id, now)
    version = EssayVersion(
        essay_id=essay.id, number=number, text=prepared.text, chars=len(prepared.text), sha256=prepared.sha256,
        size=prepared.size, kind=prepared.kind, file_name=prepared.file_name, submitted_at=now,
        is_late=lateness.is_late, under_extension=lateness.under_extension, uploaded_by_id=uploaded_by.id,
        warnings="\n".join(prepared.warnings) or None,
    )
    session.add(version)
    session.flush()  # the version's id becomes the essay's current version
    set_committed_value(version, "essay", essay)
    essay.current_version_id = version.id
    set_committed_value(essay, "current_version", version)
    session.add(IndexOutbox(essay_id=essay.id, queued_at=now))
    audit("essay.submitted", target=f"essay:{essay.id}", user=uploaded_by,
          detail=f"version={number} sha256={prepared.sha256} late={int(lateness.is_late)}"
                 + (f" on_behalf_of={trainee.username}" if uploaded_by.id != trainee.id else ""))
    session.flush()
    # Listeners (the LTI score return) add their rows to this transaction.
    essay_version_stored.send(current_app._get_current_object(), session=session, essay_id=essay.id,
                              trainee_id=trainee.id, topic_id=topic.id, version_number=number)
    logger.info("essay %s version %s handed in (%s, %s bytes)", essay.id, number, prepared.kind, prepared.size)
    return version


def hand_in(trainee: User, topic: Topic, *, uploaded_by: User, now: dt.datetime,
            read_upload: Callable[[], tuple[bytes | None, str | None, str | None]]) -> EssayVersion:
    """The upload sequence of the page and the API; commits. Raises SubmissionError (nothing stored).

    1. Who may hand in, and whether the window is open at `now` (the time of receipt), is checked
       in the read transaction, before the body is read. 2. `read_upload()` returns (file bytes,
       file name, pasted text). 3. The read transaction ends: the file is checked and its text
       extracted without holding one. 4. One short write transaction checks again, stores the
       version (`submit_essay`) and commits.
    """
    check_submission(trainee, topic, uploaded_by=uploaded_by, now=now)
    data, filename, text = read_upload()
    db.session.commit()  # end the read transaction: the file is read without holding one
    prepared = prepare_submission(data=data, filename=filename, text=text)
    with write_transaction():
        version = submit_essay(trainee, topic, data=data, filename=filename, text=text,
                               uploaded_by=uploaded_by, now=now, prepared=prepared)
        db.session.commit()
    return version


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
            with write_transaction(), bind.connect() as conn:
                used = conn.execute(select(EssayVersion.id).where(EssayVersion.sha256 == sha256).limit(1)).first()
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
