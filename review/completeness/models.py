"""Attendance on each class day, exemptions from the essay, in-app notices, and the figures' revision."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.models import Enrollment, User


class Attendance(Base):
    """Whether an enrolled trainee followed the class at their connection point on one day."""

    __tablename__ = "attendance"
    # ix_attendance_present covers the completeness count (present per day, per unit): without it
    # every attendance row is read from the table for its is_present flag.
    __table_args__ = (UniqueConstraint("enrollment_id", "day"),
                      Index("ix_attendance_present", "enrollment_id", "is_present", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)
    is_present: Mapped[bool] = mapped_column(Boolean, default=True)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    marked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    enrollment: Mapped[Enrollment] = relationship()


class Exemption(Base):
    """A trainee excused from the essays (did not attend, with a reason); not counted as missing."""

    __tablename__ = "exemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship()
    granted_by: Mapped[User | None] = relationship()


class Notice(Base):
    """A message shown in the app to one person (reminders); read when they dismiss it."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CompletenessRevision(Base):
    """A counter per course, raised in the same transaction by every change the completeness figures
    count (hand-ins, extensions, attendance, exemptions, enrolments, topics and dates, unit names).

    Database triggers keep it (review/migrations/0006_completeness_revision.py), whoever writes:
    pages, API, CLI, roster sync or a restore. It is the key of the cached figures
    (review/completeness_cache.py). No foreign key: a course being deleted still gets its last bump,
    and a restore (lms/backup.py, tables in dependency order) fills this table before the tables whose
    triggers raise it (tests/lms/test_backup.py would fail otherwise).
    """

    __tablename__ = "completeness_revision"

    course_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
