"""What a ward sent to the Board: each sending is a new, frozen version with its files and passages."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.models import Unit, User


class WardReport(Base):
    """One sending of a ward's compilation: the .docx and .xlsx (stored by SHA-256) and its passages.

    Nothing here changes after the row is written: later tags, edits or new essay versions make the
    next sending, never a different version of this one.
    """

    __tablename__ = "ward_report"
    __table_args__ = (UniqueConstraint("course_id", "unit_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    version: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    docx_sha256: Mapped[str] = mapped_column(String(64))
    xlsx_sha256: Mapped[str] = mapped_column(String(64))
    cite_names: Mapped[bool] = mapped_column(Boolean)
    passage_count: Mapped[int] = mapped_column(Integer)

    unit: Mapped[Unit] = relationship()
    sent_by: Mapped[User | None] = relationship()
    passages: Mapped[list["WardReportPassage"]] = relationship(
        order_by="WardReportPassage.position", cascade="all, delete-orphan", passive_deletes=True)


class WardReportPassage(Base):
    """A passage as it was sent: essay, version number, offsets, text and class topic, frozen."""

    __tablename__ = "ward_report_passage"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("ward_report.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    start_offset: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    # Copies, not links: a topic renamed or a tag removed later must not change what was sent.
    topic_id: Mapped[int | None] = mapped_column(Integer)
    topic_position: Mapped[int] = mapped_column(Integer)
    topic_title: Mapped[str] = mapped_column(String(500))
    trainee: Mapped[str] = mapped_column(String(200))
    tag_id: Mapped[int | None] = mapped_column(Integer)
