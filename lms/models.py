"""Shared models: people, units (connection points), courses, topics, enrolments, API tokens, audit log."""
from __future__ import annotations

import datetime as dt
import enum
import re

from flask_login import UserMixin
from sqlalchemy import Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow


class Role(str, enum.Enum):
    """What a person may do; the Vietnamese label is what pages show."""

    admin = "admin"
    reviewer = "reviewer"
    officer = "officer"
    trainee = "trainee"

    @property
    def label(self) -> str:
        return {
            "admin": "Quản trị viên",
            "reviewer": "Cán bộ Ban Tổ chức",
            "officer": "Cán bộ đơn vị",
            "trainee": "Học viên",
        }[self.value]


# The Board ("Ban Tổ chức"): reviewers and administrators. Staff: the Board and unit officers.
# Every "who is the Board" question asks User.is_board or these tuples (role_required(*BOARD_ROLES)).
BOARD_ROLES = (Role.admin, Role.reviewer)
STAFF_ROLES = (Role.admin, Role.reviewer, Role.officer)


class Unit(Base):
    """A connection point: an official commune/ward, or another unit (school, agency) with its own code."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # "phường", "xã", "đặc khu" for official wards, "khác" for schools and agencies
    kind: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str | None] = mapped_column(String(5))
    province_name: Mapped[str | None] = mapped_column(String(100))
    # accent-folded, lower-case name without its prefix, for matching what offices type
    match_name: Mapped[str] = mapped_column(String(200), index=True)

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


class User(UserMixin, Base):
    """A person who logs in: trainee, unit officer, Board reviewer or administrator."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    full_name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30), index=True)
    email: Mapped[str | None] = mapped_column(String(200), index=True)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.is_active_account

    @property
    def unit_code(self) -> str | None:
        return self.unit.code if self.unit else None

    @property
    def is_board(self) -> bool:
        """Organisation Board reviewers and administrators see every unit."""
        return self.role in BOARD_ROLES

    def can_manage_unit(self, unit_id: int | None) -> bool:
        """Admins manage every unit; an officer only their own."""
        if self.role == Role.admin:
            return True
        return self.role == Role.officer and unit_id is not None and unit_id == self.unit_id

    def can_see_unit(self, unit_id: int | None) -> bool:
        """Board members see every unit; an officer their own."""
        return self.is_board or self.can_manage_unit(unit_id)


class Course(Base):
    """A training class: dates, essay due time and cut-off, and its topics."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    essay_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cutoff_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    topics: Mapped[list["Topic"]] = relationship(
        back_populates="course", order_by="Topic.position", cascade="all, delete-orphan"
    )

    @property
    def class_days(self) -> list[dt.date]:
        """Each day of the class, for attendance."""
        days = (self.ends_on - self.starts_on).days + 1
        return [self.starts_on + dt.timedelta(days=i) for i in range(max(days, 0))]


_TOPIC_PREFIX = re.compile(r"^\s*(chủ đề|chuyên đề|chu de|chuyen de)\s*[0-9IVXivx]*\s*[:.\-–—]\s*", re.IGNORECASE)


_TOPIC_ONLY = re.compile(r"^\s*(chủ đề|chuyên đề|chu de|chuyen de)\s*[0-9IVXivx]*\s*$", re.IGNORECASE)


def topic_title_bare(title: str) -> str:
    """A topic title without a leading "Chủ đề 1:" / "Chuyên đề 1:" (no doubled labels)."""
    bare = _TOPIC_PREFIX.sub("", title, count=1).strip()
    return bare or title


def topic_label(position: int, title: str) -> str:
    """"Chủ đề N: <title>" once: "Chủ đề 1" or "Chuyên đề 1" alone as a title gives "Chủ đề 1"."""
    if _TOPIC_ONLY.match(title):
        return f"Chủ đề {position}"
    return f"Chủ đề {position}: {topic_title_bare(title)}"


class Topic(Base):
    """One essay topic of a course; every trainee writes one essay per topic."""

    __tablename__ = "topic"
    __table_args__ = (UniqueConstraint("course_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))

    course: Mapped[Course] = relationship(back_populates="topics")

    @property
    def label(self) -> str:
        """How pages name a topic: "Chủ đề N: <title>", without a "Chủ đề/Chuyên đề N:" the title already has."""
        return topic_label(self.position, self.title)


class Enrollment(Base):
    """A trainee in a course, at the connection point where they follow it."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),
                      Index("ix_enrollment_course_unit", "course_id", "unit_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")
    course: Mapped[Course] = relationship()


class ApiToken(Base):
    """A bearer token for scripts and LMSs; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(Base):
    """A signed-in browser, held server-side so that logout, a password change or an admin can end it.

    The browser's cookie carries a random token, the remember-me cookie another; only their
    SHA-256 is stored. A remember-me token is used once: it opens a new session and is replaced.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    remember_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    remember_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class CredentialSheet(Base):
    """The initial passwords one import gave one unit's new accounts, waiting for their one download.

    Sealed (Fernet) with a key the server does not keep: it travels in the importer's session
    cookie only. The row is deleted when the sheet is downloaded, or by the worker once expired;
    backups leave the table out (without the key it is nothing but noise).
    """

    __tablename__ = "credential_sheet"
    __table_args__ = {"info": {"backup": False}}

    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)  # one import; names its key in the session
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """Append-only record of who did what, when, from where; written in the action's transaction."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    username: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed-login counters per account and per address, shared by every worker through the database."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """Slow work done off the request path (report building, exports); survives restarts.

    Claimed with one conditional UPDATE, so two workers never run the same job; a job whose
    worker died (no heartbeat) goes back to the queue.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    # queued, running, done, failed
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    message: Mapped[str | None] = mapped_column(Text)
    result_path: Mapped[str | None] = mapped_column(String(500))
    result_name: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
