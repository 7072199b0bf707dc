"""Essays: one per trainee and topic, every handed-in version kept, extensions, and the index outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.models import Course, Topic, Unit, User


class Essay(Base):
    """A trainee's essay on one topic; its text lives in the versions."""

    __tablename__ = "essay"
    __table_args__ = (UniqueConstraint("trainee_id", "topic_id"),
                      Index("ix_essay_course_unit", "course_id", "unit_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # The unit of the enrolment when first handed in: completeness is counted per connection point.
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    # Incremented by a single UPDATE … RETURNING, so two racing uploads cannot get the same number.
    version_count: Mapped[int] = mapped_column(Integer, default=0)
    # No database foreign key: essay and essay_version refer to each other, and a cycle of
    # constraints cannot be created in one step on both SQLite and PostgreSQL.
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship()
    topic: Mapped[Topic] = relationship()
    trainee: Mapped[User] = relationship(foreign_keys=[trainee_id])
    unit: Mapped[Unit] = relationship()
    current_version: Mapped["EssayVersion | None"] = relationship(
        primaryjoin="foreign(Essay.current_version_id) == EssayVersion.id", viewonly=True)
    versions: Mapped[list["EssayVersion"]] = relationship(
        foreign_keys="EssayVersion.essay_id", order_by="EssayVersion.number", back_populates="essay")


class EssayVersion(Base):
    """One handed-in version: the stored file (by content hash) and its extracted, normalised text."""

    __tablename__ = "essay_version"
    __table_args__ = (UniqueConstraint("essay_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # NFC text as extracted; tag offsets count code points of exactly this string.
    text: Mapped[str] = deferred(mapped_column(Text))
    chars: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    # "docx", "doc", "odt", "pdf", "txt", or "paste" for text typed into the form
    kind: Mapped[str] = mapped_column(String(10))
    file_name: Mapped[str | None] = mapped_column(String(255))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)
    under_extension: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    warnings: Mapped[str | None] = mapped_column(Text)

    essay: Mapped[Essay] = relationship(foreign_keys=[essay_id], back_populates="versions")
    uploaded_by: Mapped[User] = relationship()


class Extension(Base):
    """More time for one trainee or a whole unit, for one topic or all topics of a course."""

    __tablename__ = "extension"
    __table_args__ = (Index("ix_extension_course_trainee", "course_id", "trainee_id"),
                      Index("ix_extension_course_unit", "course_id", "unit_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    trainee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id"))
    # Submissions up to this time are accepted and count as on time under the extension.
    until_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    granted_by: Mapped[User] = relationship(foreign_keys=[granted_by_id])


class IndexOutbox(Base):
    """Essays whose search entry must be (re)written; rows are deleted only after Whoosh commits."""

    __tablename__ = "index_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(Integer, index=True)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
