"""LTI tables: registered platforms, used launch nonces, (issuer, subject) → account links, contexts
(an LMS course linked to a thuhoach course) and resource links (a placed "essay for topic X")."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, UTCDateTime, utcnow
from lms.models import Course, Topic, Unit, User


class LtiPlatform(Base):
    """An LMS registered by the admin: who signs launches, where its keys and services are."""

    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    # Moodle gives one deployment id per tool registration; several are kept space-separated.
    deployment_ids: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(500))
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    # The connection point of the people this LMS sends: accounts it creates live there, and an
    # existing account is matched only inside it.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit | None] = relationship(lazy="joined")

    @property
    def deployments(self) -> list[str]:
        """The deployment ids accepted from this platform."""
        return self.deployment_ids.split()


class LtiNonce(Base):
    """A launch nonce already used: inserting a second time fails, so an id_token is accepted once."""

    __tablename__ = "lti_nonce"
    __table_args__ = (UniqueConstraint("issuer", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LtiUserLink(Base):
    """The account of an LMS person, by (issuer, subject), never by e-mail; how it was found is kept."""

    __tablename__ = "lti_user_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"))
    # "created" (new account), "username" or "email" (existing account in the platform's unit)
    matched_by: Mapped[str] = mapped_column(String(20))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class LtiContext(Base):
    """An LMS course linked to a thuhoach course, with the service URLs its launches announced."""

    __tablename__ = "lti_context"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(500))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    memberships_url: Mapped[str | None] = mapped_column(String(500))
    lineitems_url: Mapped[str | None] = mapped_column(String(500))
    # AGS scopes the platform granted, space-separated
    ags_scopes: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    platform: Mapped[LtiPlatform] = relationship(lazy="joined")
    course: Mapped[Course] = relationship()


class LtiResourceLink(Base):
    """One placement of "essay for topic X" in an LMS course, and the grade column it reports to."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), index=True)
    resource_link_id: Mapped[str] = mapped_column(String(255))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), index=True)
    lineitem_url: Mapped[str | None] = mapped_column(String(500))

    context: Mapped[LtiContext] = relationship(lazy="joined")
    topic: Mapped[Topic] = relationship()


class LtiScore(Base):
    """The score last decided for one person in one grade column, and whether the LMS has it.

    A row is the outbox of the Assignment and Grade Service: `changed_at` is the score's AGS
    timestamp (when it changed, strictly increasing per row, so one (line item, user, timestamp)
    is never sent twice with different content); `sent_changed_at` equals it once the LMS accepted
    that state. Failed sends wait until `next_attempt_at` (exponential back-off)."""

    __tablename__ = "lti_score"
    __table_args__ = (UniqueConstraint("resource_link_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_link.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    score_given: Mapped[float | None]
    activity_progress: Mapped[str] = mapped_column(String(20))
    grading_progress: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))

    resource_link: Mapped[LtiResourceLink] = relationship()

    @property
    def is_pending(self) -> bool:
        """The LMS has not yet accepted the current state."""
        return self.sent_changed_at != self.changed_at
