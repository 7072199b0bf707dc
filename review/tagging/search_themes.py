"""Themes as a search filter: the index carries each essay's tagged themes, kept current on tag changes."""
from __future__ import annotations

from typing import Iterable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from essays.indexing import enqueue
from lms.db import db
from lms.hooks import INDEX_EXTRAS, THEME_CHOICES
from review.tagging.models import Tag, TagTheme, Theme


def init_app(app: Flask) -> None:
    """Give the index each essay's themes, and the search page the themes to filter by."""
    INDEX_EXTRAS.register(app, essay_themes)
    THEME_CHOICES.register(app, theme_choices)


def essay_themes(session: Session, essay_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """{essay_id: {"themes": [theme ids]}} from the tags on any version of each essay (one query)."""
    result: dict[int, dict[str, list[str]]] = {i: {"themes": []} for i in essay_ids}
    if not essay_ids:
        return result
    rows = session.execute(select(Tag.essay_id, TagTheme.theme_id).distinct()
                           .join(TagTheme, TagTheme.tag_id == Tag.id).where(Tag.essay_id.in_(essay_ids)))
    for essay_id, theme_id in rows:
        result[essay_id]["themes"].append(str(theme_id))
    return result


def theme_choices() -> list[tuple[str, str]]:
    """(id, name) of the live themes, for the search page's filter."""
    rows = db.session.execute(select(Theme.id, Theme.name).where(Theme.is_retired.is_(False)).order_by(Theme.name))
    return [(str(i), name) for i, name in rows]


def reindex_essays(essay_ids: Iterable[int]) -> None:
    """Queue essays whose tags changed, in the caller's transaction."""
    enqueue(db.session, essay_ids)


def reindex_theme(*theme_ids: int) -> None:
    """Queue every essay carrying one of these themes (a merge moves their tags)."""
    ids = db.session.scalars(select(Tag.essay_id).distinct().join(TagTheme, TagTheme.tag_id == Tag.id)
                             .where(TagTheme.theme_id.in_(theme_ids))).all()
    enqueue(db.session, ids)
