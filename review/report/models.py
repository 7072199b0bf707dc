"""The prose of a report the Board (or a ward committee) edits before building it, per course and unit."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, UTCDateTime, utcnow


class ReportSettings(Base):
    """Header names, number, signatory and recipients of a course's report (unit_id None: the city's)."""

    __tablename__ = "report_settings"
    # NULL unit_id never collides in a unique index, so uniqueness is kept by `report_settings_for`.
    __table_args__ = (Index("ix_report_settings_course_unit", "course_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    parent_org: Mapped[str] = mapped_column(String(200))
    org_name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(String(100))
    signer_for: Mapped[str] = mapped_column(String(200))
    signer_title: Mapped[str] = mapped_column(String(200))
    signer_name: Mapped[str] = mapped_column(String(200), default="")
    recipients: Mapped[str] = mapped_column(Text, default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    # A ward's report may quote trainees by name; the city's never does.
    cite_names: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
