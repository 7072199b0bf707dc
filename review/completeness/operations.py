"""Attendance and exemptions of a unit's trainees: marking, .xlsx import; flush, the caller commits."""
from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from lms.db import db, utcnow
from lms.models import Course, Enrollment, Unit, User
from lms.security import audit
from lms.text import fold
from review.completeness.models import Attendance, Exemption

logger = logging.getLogger(__name__)

PRESENT_MARKS = {"x", "co", "1", "v", "yes", "true", "có mặt", "co mat"}


class AttendanceError(ValueError):
    """An attendance request that cannot be done; the message is for the user."""


def unit_enrollments(course: Course, unit: Unit) -> list[Enrollment]:
    """Enrolments of the course at the unit (one query)."""
    return list(db.session.scalars(select(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)))


def attendance_map(course: Course, unit: Unit) -> dict[tuple[int, dt.date], bool]:
    """(enrollment id, day) -> present, for the unit's trainees."""
    rows = db.session.execute(
        select(Attendance.enrollment_id, Attendance.day, Attendance.is_present)
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .where(Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)).all()
    return {(r[0], r[1]): bool(r[2]) for r in rows}


def set_attendance(course: Course, unit: Unit, present: set[tuple[int, dt.date]], *, by: User) -> int:
    """Record the whole unit's attendance: the given (enrollment id, day) present, every other absent."""
    enrollments = {e.id for e in unit_enrollments(course, unit)}
    days = course.class_days
    unknown = {e for e, _ in present} - enrollments
    if unknown or any(d not in days for _, d in present):
        raise AttendanceError("Học viên hoặc ngày học không thuộc đơn vị, lớp này.")
    existing = {(a.enrollment_id, a.day): a for a in db.session.scalars(
        select(Attendance).where(Attendance.enrollment_id.in_(enrollments)))} if enrollments else {}
    now = utcnow()
    changed = 0
    for enrollment_id in enrollments:
        for day in days:
            is_present = (enrollment_id, day) in present
            row = existing.get((enrollment_id, day))
            if row is None:
                db.session.add(Attendance(enrollment_id=enrollment_id, day=day, is_present=is_present,
                                          marked_by_id=by.id, marked_at=now))
                changed += 1
            elif row.is_present != is_present:
                row.is_present, row.marked_by_id, row.marked_at = is_present, by.id, now
                changed += 1
    db.session.flush()
    audit("attendance.marked", target=f"course={course.id} unit={unit.code}", user=by,
          detail=f"present={len(present)} changed={changed}")
    return changed


@dataclass
class AttendanceImport:
    """What an attendance sheet said: marks found, and rows that matched nobody."""

    present: set[tuple[int, dt.date]] = field(default_factory=set)
    matched: int = 0
    unmatched: list[str] = field(default_factory=list)


def _day_of(header: object, days: list[dt.date]) -> dt.date | None:
    if isinstance(header, dt.datetime):
        header = header.date()
    if isinstance(header, dt.date):
        return header if header in days else None
    text = str(header or "").strip()
    match = re.search(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?", text)
    if match:
        day, month = int(match.group(1)), int(match.group(2))
        for d in days:
            if d.day == day and d.month == month:
                return d
    match = re.fullmatch(r"(?:ngay|buoi)\s*(\d+)", fold(text))
    if match and 1 <= int(match.group(1)) <= len(days):
        return days[int(match.group(1)) - 1]
    return None


def read_attendance_xlsx(data: bytes, course: Course, unit: Unit) -> AttendanceImport:
    """Read a sheet with "Họ và tên" or "Tên đăng nhập" and one column per class day (x / có / 1)."""
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same answer
        raise AttendanceError("Không đọc được tệp .xlsx. Vui lòng kiểm tra lại tệp.") from exc
    if not rows:
        raise AttendanceError("Tệp không có dữ liệu.")
    header = [fold(str(h or "")) for h in rows[0]]
    days = course.class_days
    name_col = next((i for i, h in enumerate(header) if h in ("ho va ten", "ho ten", "hoten")), None)
    user_col = next((i for i, h in enumerate(header) if h in ("ten dang nhap", "username")), None)
    day_cols = {i: _day_of(h, days) for i, h in enumerate(rows[0]) if i not in (name_col, user_col)}
    day_cols = {i: d for i, d in day_cols.items() if d is not None}
    if name_col is None and user_col is None:
        raise AttendanceError("Tệp cần có cột \"Họ và tên\" hoặc \"Tên đăng nhập\".")
    if not day_cols:
        raise AttendanceError("Tệp cần có một cột cho mỗi ngày học, ví dụ \"Ngày 1\" hoặc \"23/05\".")
    people = db.session.execute(
        select(Enrollment.id, User.username, User.full_name).join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)).all()
    by_username = {u.lower(): e for e, u, _ in people}
    by_name: dict[str, list[int]] = {}
    for e, _, n in people:
        by_name.setdefault(fold(n), []).append(e)
    result = AttendanceImport()
    for number, row in enumerate(rows[1:], start=2):
        if not any(v not in (None, "") for v in row):
            continue
        enrollment_id = None
        if user_col is not None and row[user_col]:
            enrollment_id = by_username.get(str(row[user_col]).strip().lower())
        if enrollment_id is None and name_col is not None and row[name_col]:
            candidates = by_name.get(fold(str(row[name_col])), [])
            enrollment_id = candidates[0] if len(candidates) == 1 else None
        if enrollment_id is None:
            label = str(row[user_col] if user_col is not None and row[user_col] else row[name_col] or "")
            result.unmatched.append(f"dòng {number}: {label}")
            continue
        result.matched += 1
        for col, day in day_cols.items():
            value = row[col] if col < len(row) else None
            if fold(str(value if value is not None else "")) in PRESENT_MARKS or value is True or value == 1:
                result.present.add((enrollment_id, day))
    return result


def _unit_enrollment(course: Course, unit: Unit, enrollment_id: int) -> Enrollment:
    """The enrolment if it belongs to the course at the unit, else an AttendanceError."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.course_id != course.id or enrollment.unit_id != unit.id:
        raise AttendanceError("Không tìm thấy học viên này trong đơn vị.")
    return enrollment


def exempt_trainee(course: Course, unit: Unit, enrollment_id: int, reason: str, *, by: User) -> Exemption:
    """Excuse a trainee of the unit from the essays, with a reason."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise AttendanceError("Vui lòng ghi lý do miễn nộp.")
    enrollment = _unit_enrollment(course, unit, enrollment_id)
    exemption = db.session.scalar(select(Exemption).where(Exemption.enrollment_id == enrollment_id))
    if exemption is None:
        exemption = Exemption(enrollment_id=enrollment_id, reason=reason, granted_by_id=by.id, granted_at=utcnow())
        db.session.add(exemption)
    else:
        exemption.reason, exemption.granted_by_id, exemption.granted_at = reason, by.id, utcnow()
    db.session.flush()
    audit("exemption.granted", target=f"user:{enrollment.user.username}", user=by,
          detail=f"course={course.id} reason={reason[:200]}")
    return exemption


def remove_exemption(course: Course, unit: Unit, enrollment_id: int, *, by: User) -> None:
    """Count the trainee again (the exemption is withdrawn)."""
    enrollment = _unit_enrollment(course, unit, enrollment_id)
    db.session.execute(delete(Exemption).where(Exemption.enrollment_id == enrollment_id))
    audit("exemption.removed", target=f"user:{enrollment.user.username}", user=by, detail=f"course={course.id}")
