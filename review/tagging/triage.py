"""The triage queue: suggested passages of many essays one after another, decided by keyboard or touch.

`triage_items` picks open suggestions (never a tagged span) within a scope (a course, optionally some
units: a ward officer's own, or any), the given units first, each with its paragraph, ward, topic and
ranked themes. The page (`templates/review/triage.html` + `lms/static/triage.js`) reads them from
`GET /api/v1/triage` and acts through the JSON API: accept = `POST /api/v1/essays/<id>/tags`, undo
an accept = `DELETE /api/v1/tags/<id>`, dismiss / undo = `POST /api/v1/suggestions/<id>/dismiss|reopen`.
Another feature can serve the same page with its own scope (the `scope` dict passed to the template).
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, select

from essays.models import Essay, EssayVersion
from lms.db import db
from lms.models import Topic, Unit, User
from review.tagging.models import ReviewAssignment, Suggestion, Theme
from review.tagging.suggestions import open_suggestions_query
from review.tagging.theme_model import model_for

PAGE = 20
THEMES_OFFERED = 9  # digits 1-9


def paragraph_around(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The line (paragraph) holding [start, end), and the span's offsets inside it."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    last = len(text) if last < 0 else last
    return text[first:last], start - first, end - first


def assigned_unit_ids(user: User) -> list[int]:
    """Units the reviewer was given to read."""
    return list(db.session.scalars(select(ReviewAssignment.unit_id).where(ReviewAssignment.reviewer_id == user.id)))


def triage_items(course_id: int, *, unit_ids: Sequence[int] | None = None, first_units: Sequence[int] = (),
                 limit: int = PAGE) -> list[dict]:
    """Open suggestions of current versions in scope, first_units first, then by essay; JSON-ready.

    No cursor: a decided suggestion leaves the list, an undone one comes back in its place.
    """
    order_first = case((Essay.unit_id.in_(list(first_units)), 0), else_=1) if first_units else None
    query = (open_suggestions_query()
             .join(EssayVersion, EssayVersion.id == Suggestion.version_id)
             .join(Essay, Essay.current_version_id == EssayVersion.id)
             .where(Essay.course_id == course_id))
    if unit_ids is not None:
        query = query.where(Essay.unit_id.in_(list(unit_ids)))
    ordering = [Essay.unit_id, Essay.id, Suggestion.start_offset]
    query = query.order_by(*([order_first] if order_first is not None else []), *ordering).limit(limit)
    rows = db.session.scalars(query).all()
    if not rows:
        return []
    versions = {v.id: v for v in db.session.scalars(select(EssayVersion).where(
        EssayVersion.id.in_({s.version_id for s in rows})))}
    essays = {e.current_version_id: e for e in db.session.scalars(select(Essay).where(
        Essay.current_version_id.in_(list(versions))))}
    names = dict(db.session.execute(select(Theme.id, Theme.name)).all())
    units = dict(db.session.execute(select(Unit.id, Unit.name)).all())
    topics = dict(db.session.execute(select(Topic.id, Topic.title).where(Topic.course_id == course_id)).all())
    texts = [versions[s.version_id].text[s.start_offset:s.end_offset] for s in rows]
    ranked = model_for(course_id).rank(texts, top=THEMES_OFFERED)
    out = []
    for s, passage, themes in zip(rows, texts, ranked):
        essay, version = essays[s.version_id], versions[s.version_id]
        paragraph, at, to = paragraph_around(version.text, s.start_offset, s.end_offset)
        out.append({"suggestion_id": s.id, "essay_id": essay.id, "version": version.number, "start": s.start_offset,
                    "end": s.end_offset, "kind": s.kind, "text": passage, "before": paragraph[:at],
                    "after": paragraph[to:], "unit": units.get(essay.unit_id, ""),
                    "topic": topics.get(essay.topic_id, ""),
                    "themes": [{"id": t.theme_id, "name": names.get(t.theme_id, ""), "score": t.score}
                               for t in themes]})
    return out
