"""Themes of the Board's codebook, tagged passages, suggestions, near-duplicate groups, review state."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from essays.models import Essay, EssayVersion
from lms.db import Base, UTCDateTime, utcnow
from lms.models import Role, Unit, User

TAG_KINDS = ("recommendation", "proposal")
KIND_LABELS = {"recommendation": "Kiến nghị", "proposal": "Đề xuất"}
REVIEW_STATES = ("new", "in_progress", "done")
REVIEW_STATE_LABELS = {"new": "Chưa xem", "in_progress": "Đang xem", "done": "Đã xem"}


def can_tag(user: User) -> bool:
    """Only the Board (reviewers, administrators) tags passages and keeps the codebook."""
    return user.is_authenticated and user.is_board


def can_tag_essay(user: User, essay: Essay) -> bool:
    """The Board tags every essay; a ward officer those of their own unit (the ward's own compilation)."""
    if can_tag(user):
        return True
    return (user.is_authenticated and user.role == Role.officer and essay.unit_id is not None
            and essay.unit_id == user.unit_id)


def can_edit_tag(user: User, tag: "Tag") -> bool:
    """The Board edits every tag; a ward officer only the ward's own tags in their unit."""
    if can_tag(user):
        return True
    return (user.is_authenticated and user.role == Role.officer and tag.by_ward
            and tag.unit_id == user.unit_id)


def can_read_compilation(user: User, unit_id: int | None) -> bool:
    """The Board reads every unit's tags; an officer only their own unit's; trainees none."""
    if user.is_board:
        return True
    return user.role == Role.officer and unit_id is not None and unit_id == user.unit_id


class Theme(Base):
    """A theme of the Board's codebook; retired themes stay on old tags but cannot be chosen."""

    __tablename__ = "theme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id"), index=True)
    is_retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the theme was merged into another: its tags moved there, the row stays for history.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped["Theme | None"] = relationship(remote_side=[id], foreign_keys=[parent_id])

    def __repr__(self) -> str:
        return f"<Theme {self.id} {self.name}>"


class TagTheme(Base):
    """One theme of a tag."""

    __tablename__ = "tag_theme"

    tag_id: Mapped[int] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), primary_key=True, index=True)


class PassageGroup(Base):
    """Near-duplicate passages a reviewer confirmed as one: the compilation counts them once."""

    __tablename__ = "passage_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    """A reviewer's tag on a passage of one exact essay version; offsets count NFC code points."""

    __tablename__ = "tag"
    __table_args__ = (
        CheckConstraint("start_offset >= 0 AND end_offset > start_offset", name="offsets"),
        CheckConstraint("kind IN ('recommendation', 'proposal')", name="kind"),
        Index("ix_tag_course_unit", "course_id", "unit_id"),
        # A span of a version is tagged once; a second tag there is refused (409).
        Index("uq_tag_version_span", "version_id", "start_offset", "end_offset", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("essay_version.id"), index=True)
    # Copied from the essay so the compilation filters by course and unit without joining essays.
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    start_offset: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(Integer)
    # text[start:end] of the version, kept so lists and exports need not load essay bodies.
    text: Mapped[str] = mapped_column(Text)
    # lms.text.fold(text): the compilation's search and the near-duplicate grouping compare this.
    folded: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("passage_group.id", ondelete="SET NULL"),
                                                 index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tag.id", ondelete="SET NULL"))
    # Accepted by the ward's officer for the ward's own compilation (maybe without a theme yet):
    # the Board's queue starts from these.
    by_ward: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    essay: Mapped[Essay] = relationship()
    version: Mapped[EssayVersion] = relationship()
    unit: Mapped[Unit] = relationship()
    created_by: Mapped[User] = relationship()
    themes: Mapped[list[Theme]] = relationship(secondary="tag_theme", order_by="Theme.name")


class Suggestion(Base):
    """A passage the detector thinks is a recommendation or proposal, awaiting the reviewer."""

    __tablename__ = "suggestion"
    __table_args__ = (UniqueConstraint("version_id", "start_offset", "end_offset"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("essay_version.id"), index=True)
    start_offset: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # "open", "accepted" (tag_id set) or "dismissed"
    status: Mapped[str] = mapped_column(String(20), default="open")
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tag.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SuggestionScan(Base):
    """Marks a version whose suggestions were computed (possibly none), with the detector's revision."""

    __tablename__ = "suggestion_scan"

    version_id: Mapped[int] = mapped_column(ForeignKey("essay_version.id"), primary_key=True)
    detector: Mapped[str] = mapped_column(String(20))
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EssayReview(Base):
    """Where the Board's reading of an essay stands and who read it."""

    __tablename__ = "essay_review"

    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id"), primary_key=True)
    # "new" (chưa xem), "in_progress" (đang xem), "done" (đã xem)
    state: Mapped[str] = mapped_column(String(20), default="new")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    reviewer: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        return REVIEW_STATE_LABELS[self.state]


class ReviewAssignment(Base):
    """A unit whose essays the Board gave to one reviewer."""

    __tablename__ = "review_assignment"
    __table_args__ = (UniqueConstraint("unit_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    unit: Mapped[Unit] = relationship()


class ThemeModelRow(Base):
    """A course's theme model (review.tagging.learning), trained by the worker from confirmed tags."""

    __tablename__ = "theme_model"

    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    # What the model was trained from (tag count, last tag change, codebook): a change retrains.
    source: Mapped[str] = mapped_column(String(100))
    n_tags: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    model: Mapped[bytes] = mapped_column(LargeBinary)


class EssayCopy(Base):
    """Two essays of different trainees with the same text (identical or at least 90 % the same)."""

    __tablename__ = "essay_copy"

    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id", ondelete="CASCADE"), primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("essay.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    ratio: Mapped[float] = mapped_column(Float)
    found_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CopyScan(Base):
    """The version of an essay last compared for copies."""

    __tablename__ = "copy_scan"

    essay_id: Mapped[int] = mapped_column(ForeignKey("essay.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("essay_version.id", ondelete="CASCADE"))
