"""Each course's theme model: trained by the worker from confirmed tags, read by the web processes.

The worker checks every few seconds whether a course's tags or the codebook changed (a cheap
aggregate) and retrains when they did, so a new tag changes the suggestions within 30 s. The
model is stored pickled in `theme_model` (every app server reads the same one); a web process
keeps the last one it loaded per course until the stored source changes.
"""
from __future__ import annotations

import logging
import pickle
import threading
import time

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from essays.models import Essay, EssayVersion
from lms.db import db, utcnow
from lms.models import Course
from review.tagging.learning import ThemeModel
from review.tagging.models import Tag, TagTheme, Theme, ThemeModelRow

logger = logging.getLogger(__name__)

CHECK_EVERY = 5.0  # seconds between the worker's looks for changed tags
_last_check: dict[int, float] = {}
_loaded: dict[int, tuple[str, ThemeModel]] = {}
_lock = threading.Lock()


def source_of(session: Session, course_id: int) -> str:
    """What a course's model is trained from, as a short string: it changes with any tag or theme change."""
    n, last_id, last_change = session.execute(
        select(func.count(Tag.id), func.max(Tag.id), func.max(Tag.updated_at)).where(Tag.course_id == course_id)
    ).one()
    themes, last_theme = session.execute(
        select(func.count(Theme.id), func.max(Theme.id)).where(Theme.is_retired.is_(False))).one()
    stamp = last_change.isoformat(timespec="seconds") if last_change else "-"
    return f"{n}:{last_id or 0}:{stamp}:{themes}:{last_theme or 0}"


def train(session: Session, course_id: int) -> ThemeModel:
    """A model from the course's tags (their themes, retired ones left out) and the live themes' names."""
    live = {t.id: " ".join(filter(None, [t.name, t.description]))
            for t in session.scalars(select(Theme).where(Theme.is_retired.is_(False)))}
    rows = session.execute(select(Tag.id, Tag.text, TagTheme.theme_id).join(TagTheme, TagTheme.tag_id == Tag.id)
                           .where(Tag.course_id == course_id).order_by(Tag.id)).all()
    examples: dict[int, tuple[str, list[int]]] = {}
    for tag_id, text, theme_id in rows:
        if theme_id in live:
            examples.setdefault(tag_id, (text, []))[1].append(theme_id)
    return ThemeModel(list(examples.values()), live)


def refresh_models(app: Flask, force: bool = False) -> int:
    """Worker task: retrain the models of courses whose tags changed; returns how many were retrained."""
    now = time.monotonic()
    if not force and now - _last_check.get(0, 0.0) < CHECK_EVERY:
        return 0
    _last_check[0] = now
    session = db.new_session(app)
    done = 0
    try:
        courses = session.scalars(select(Course.id).where(Course.id.in_(
            select(Essay.course_id).where(Essay.current_version_id.is_not(None))))).all()
        for course_id in courses:
            source = source_of(session, course_id)
            row = session.get(ThemeModelRow, course_id)
            if row is not None and row.source == source:
                continue
            model = train(session, course_id)
            data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            if row is None:
                session.add(ThemeModelRow(course_id=course_id, source=source, n_tags=model.n_examples, model=data))
            else:
                row.source, row.n_tags, row.model, row.trained_at = source, model.n_examples, data, utcnow()
            session.commit()
            logger.info("theme model of course %s trained on %s tags", course_id, model.n_examples)
            done += 1
        session.rollback()
        return done
    finally:
        session.close()


def model_for(course_id: int) -> ThemeModel:
    """The course's model as the worker last stored it (trained here if the worker has not yet)."""
    stored = db.session.execute(select(ThemeModelRow.source).where(ThemeModelRow.course_id == course_id)).scalar()
    with _lock:
        cached = _loaded.get(course_id)
        if cached is not None and stored is not None and cached[0] == stored:
            return cached[1]
    if stored is None:
        return train(db.session, course_id)
    data = db.session.scalar(select(ThemeModelRow.model).where(ThemeModelRow.course_id == course_id))
    # Our own worker wrote this row; nothing else writes the table.
    model = pickle.loads(data)  # noqa: S301
    with _lock:
        _loaded[course_id] = (stored, model)
    return model


def scan_new_versions(app: Flask, batch: int = 200) -> int:
    """Worker task: compute the suggestions of handed-in versions not yet scanned (the queue reads them)."""
    from review.tagging.models import SuggestionScan
    from review.tagging.suggestions import scan_version

    with app.app_context():
        unscanned = ~select(SuggestionScan.version_id).where(
            SuggestionScan.version_id == Essay.current_version_id).exists()
        ids = db.session.scalars(select(Essay.current_version_id).where(
            Essay.current_version_id.is_not(None), unscanned).limit(batch)).all()
        if not ids:
            db.session.rollback()
            return 0
        for version in db.session.scalars(select(EssayVersion).where(EssayVersion.id.in_(ids))):
            scan_version(version)
        db.session.commit()
        return len(ids)
