"""Essays that copy another trainee's essay (identical, or at least 90 % the same text), found by the worker.

The worker keeps one MinHash LSH index of every current essay text in memory (built from the
database the first time it runs) and looks up each newly handed-in version; candidates are
confirmed on the texts (review.tagging.similar.copy_index). Pairs are kept in `essay_copy`, both
ways; a new version replaces its essay's pairs.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy import delete, or_, select

from essays.models import Essay, EssayVersion
from lms.db import db
from lms.models import Role, User
from review.tagging.models import CopyScan, EssayCopy
from review.tagging.similar import SimilarityIndex, copy_index, copy_ratio

logger = logging.getLogger(__name__)
BATCH = 500
_state: dict[Flask, SimilarityIndex] = {}
_lock = threading.Lock()


def _text_of(essay_id: object) -> str:
    text = db.session.scalar(select(EssayVersion.text).join(Essay, Essay.current_version_id == EssayVersion.id)
                             .where(Essay.id == essay_id))
    return text or ""


def _index(app: Flask) -> SimilarityIndex:
    """This worker's index, filled with the essays already compared (their pairs are stored)."""
    index = _state.get(app)
    if index is None:
        index = copy_index(_text_of)
        rows = db.session.execute(select(Essay.id, EssayVersion.text)
                                  .join(CopyScan, CopyScan.essay_id == Essay.id)
                                  .join(EssayVersion, EssayVersion.id == CopyScan.version_id)).all()
        verify, index.verify = index.verify, None  # these pairs are known: no need to confirm again
        index.add_many((essay_id, text) for essay_id, text in rows)
        index.verify = verify
        _state[app] = index
    return index


def find_copies(app: Flask) -> int:
    """Worker task: compare essays whose current version was not compared yet; returns how many."""
    with _lock, app.app_context():
        index = _index(app)
        pending = db.session.execute(
            select(Essay.id, Essay.trainee_id, Essay.current_version_id, EssayVersion.text)
            .join(EssayVersion, EssayVersion.id == Essay.current_version_id)
            .outerjoin(CopyScan, CopyScan.essay_id == Essay.id)
            .where(or_(CopyScan.version_id.is_(None), CopyScan.version_id != Essay.current_version_id))
            .order_by(Essay.id).limit(BATCH)).all()
        if not pending:
            db.session.rollback()
            return 0
        ids = [row.id for row in pending]
        for essay_id in ids:
            index.remove(essay_id)
        db.session.execute(delete(EssayCopy).where(or_(EssayCopy.essay_id.in_(ids), EssayCopy.other_id.in_(ids))))
        links = index.add_many((row.id, row.text) for row in pending)
        _store(links, {row.id: row.text for row in pending})
        for row in pending:
            scan = db.session.get(CopyScan, row.id)
            if scan is None:
                db.session.add(CopyScan(essay_id=row.id, version_id=row.current_version_id))
            else:
                scan.version_id = row.current_version_id
        db.session.commit()
        return len(pending)


def _store(links: list, texts: dict) -> None:
    """Keep the pairs of different trainees, both ways."""
    owners = dict(db.session.execute(select(Essay.id, Essay.trainee_id).where(
        Essay.id.in_({k for pair in links for k in pair}))).all())
    seen = set()
    for a, b in links:
        if owners.get(a) == owners.get(b) or (a, b) in seen:
            continue
        ratio = copy_ratio(texts.get(a) or _text_of(a), texts.get(b) or _text_of(b))
        for x, y in ((a, b), (b, a)):
            seen.add((x, y))
            db.session.merge(EssayCopy(essay_id=x, other_id=y, ratio=ratio))
        logger.info("essays %s and %s are %.0f %% the same", a, b, ratio)


def can_see_copies(user: User, essay: Essay) -> bool:
    """Reviewers, administrators and the officer of the essay's unit; never a trainee."""
    if user.role in (Role.admin, Role.reviewer):
        return True
    return user.role == Role.officer and essay.unit_id is not None and essay.unit_id == user.unit_id


def same_content_as(essay_id: int) -> list[int]:
    """Ids of the essays found to copy this one or be copied by it."""
    return list(db.session.scalars(select(EssayCopy.other_id).where(EssayCopy.essay_id == essay_id)
                                   .order_by(EssayCopy.other_id)))
