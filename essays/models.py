"""Essays: one per trainee and topic, every handed-in version kept, extensions, and the index outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.models import Course, Role, Topic, Unit, User


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

    def can_view(self, user: User | None) -> bool:
        """Who may read this essay: `can_see_essay`."""
        return can_see_essay(user, self)

    def can_submit(self, user: User | None) -> bool:
        """Who may hand in a new version of this essay (see `can_submit_for`)."""
        return can_submit_for(user, self.trainee, self.unit_id)


class EssayVersion(Base):
    """One handed-in version: the stored file (by content hash) and its extracted, normalised text."""

    __tablename__ = "essay_version"
    # ix_essay_version_in_force covers "the last version handed in by T" (review.completeness):
    # the figures are counted from the index alone, never from rows carrying the text.
    __table_args__ = (UniqueConstraint("essay_id", "number"),
                      Index("ix_essay_version_in_force", "essay_id", "number", "submitted_at", "is_late",
                            "under_extension"))

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
    # The text was recognised by Tesseract from photos/scans: reviewers should look at the pages.
    ocr: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ocr_confidence: Mapped[float | None] = mapped_column(Float)  # mean word confidence, 0-100
    # A handwritten essay an officer handed in: counted as submitted, not searchable, read by a person.
    needs_reading: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    essay: Mapped[Essay] = relationship(foreign_keys=[essay_id], back_populates="versions")
    uploaded_by: Mapped[User] = relationship()
    files: Mapped[list["EssayVersionFile"]] = relationship(
        order_by="(EssayVersionFile.role, EssayVersionFile.position)", viewonly=True)

    def files_of(self, role: str) -> list["EssayVersionFile"]:
        """The version's originals ("original") or page previews ("page"), in order."""
        return [f for f in self.files if f.role == role]


class EssayVersionFile(Base):
    """A further stored file of a version: an original photo/scan as sent, or a page preview (JPEG).

    The version's own `sha256` is the file to download (for photos: the pages joined into one PDF).
    """

    __tablename__ = "essay_version_file"
    __table_args__ = (UniqueConstraint("version_id", "role", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("essay_version.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # "original" or "page"
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, … in the order sent / page order
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "png", "jpeg", "heic", "pdf" (originals); "jpeg" (pages)
    file_name: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)


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


def can_see_essay(user: User | None, essay: Essay) -> bool:
    """The owner, an officer of the essay's unit, Board reviewers and admins may read an essay."""
    if user is None or not user.is_authenticated:
        return False
    return user.id == essay.trainee_id or user.can_see_unit(essay.unit_id)


def can_submit_for(user: User | None, trainee: User, unit_id: int | None = None) -> bool:
    """The trainee themself, an officer of the trainee's unit (on behalf), or an admin.

    `unit_id` is the unit of the enrolment when known; an officer of either that unit or the
    trainee's own unit may hand in for them.
    """
    if user is None or not user.is_authenticated or trainee.role != Role.trainee:
        return False
    if user.id == trainee.id or user.role == Role.admin:
        return True
    return user.role == Role.officer and user.unit_id is not None and user.unit_id in (trainee.unit_id, unit_id)


def can_grant_extension(user: User | None, *, trainee: User | None = None, unit_id: int | None = None) -> bool:
    """A unit officer for a trainee of their own unit only; Board reviewers and admins for a trainee or a unit."""
    if user is None or not user.is_authenticated or (trainee is None) == (unit_id is None):
        return False
    if user.is_board:
        return True
    return (user.role == Role.officer and trainee is not None and trainee.role == Role.trainee
            and user.unit_id is not None and trainee.unit_id == user.unit_id)
