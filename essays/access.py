"""Fetch helpers for essays: 404 for what the user may not know exists."""
from __future__ import annotations

from flask import abort
from sqlalchemy import select

from lms.db import db
from lms.models import Topic, User
from essays.models import Essay, EssayVersion


def essay_or_404(essay_id: int, user: User) -> Essay:
    """The essay if the user may see it; 404 otherwise (never 403: its existence is private too)."""
    essay = db.session.get(Essay, essay_id)
    if essay is None or not essay.can_view(user):
        abort(404)
    return essay


def version_or_404(essay: Essay, number: int) -> EssayVersion:
    """One version of an essay the caller already may see."""
    version = db.session.scalar(select(EssayVersion).where(
        EssayVersion.essay_id == essay.id, EssayVersion.number == number))
    if version is None:
        abort(404)
    return version


def topic_or_404(course_id: int, topic_id: int) -> Topic:
    """A topic of the given course."""
    topic = db.session.get(Topic, topic_id)
    if topic is None or topic.course_id != course_id:
        abort(404)
    return topic


def essay_of(trainee_id: int, topic_id: int) -> Essay | None:
    """The trainee's essay on a topic, if anything was handed in."""
    return db.session.scalar(select(Essay).where(Essay.trainee_id == trainee_id, Essay.topic_id == topic_id))


def record_view(essay: Essay, user: User, action: str = "essay.viewed") -> None:
    """Audit that someone other than the owner read an essay (commits: reads are worth recording)."""
    from lms.security import audit_read

    if user.id == essay.trainee_id:
        return
    audit_read(action, target=f"essay:{essay.id}", user=user)
