"""Whole-course completeness figures kept in memory until something they count changes.

The key is the course's `completeness_revision`, which database triggers raise in the same
transaction as every change the figures count (review/migrations/0006_completeness_revision.py).
Figures are therefore never stale:
- an entry is used, or stored, only by a transaction that has written nothing: one that changed a
  counted table would see (SQLite) or make (PostgreSQL, at commit) a revision that another
  transaction may never commit;
- the revision is read before the figures, so an entry never holds older figures than its key
  (PostgreSQL reads each statement at its own time);
- "now" is kept only when nothing in the database is dated after the time it was computed: every
  later hand-in or extension then comes with a new revision, so the same figures hold for any later
  "now" under this revision, and the entry is served with the time of the request;
- entries live in one app (`app.extensions`), so two databases never share them; the course's
  creation time is part of the key, in case a database is swapped under a running app.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any, Hashable

from flask import current_app
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from lms.db import db
from lms.models import Course
from essays.models import EssayVersion, Extension
from review.completeness.models import CompletenessRevision

# A country course keeps ≈ 1.5 MB of figures per entry; the Board looks at now and a few past times.
MAX_ENTRIES = 8
_SQLITE_CHANGES = "thuhoach.sqlite_changes_at_begin"


class FiguresCache:
    """A small thread-safe LRU map from keys to figures."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def figures_cache() -> FiguresCache:
    """This app's cache."""
    return current_app.extensions.setdefault("thuhoach.completeness_cache", FiguresCache())


def revision_key(course: Course) -> tuple | None:
    """(course, its creation time, its revision) when the cache may be used now, else None."""
    if _has_written():
        return None
    revision = db.session.scalar(select(CompletenessRevision.revision)
                                 .where(CompletenessRevision.course_id == course.id))
    return None if revision is None else (course.id, course.created_at, revision)


def nothing_dated_after(moment: dt.datetime) -> bool:
    """No hand-in and no extension in the database is dated after `moment` (see the module's notes)."""
    latest = db.session.execute(select(select(func.max(EssayVersion.submitted_at)).scalar_subquery(),
                                       select(func.max(Extension.granted_at)).scalar_subquery())).one()
    return all(t is None or t <= moment for t in latest)


def _has_written() -> bool:
    """Whether the session's transaction has changed anything in the database yet."""
    session = db.session
    if not session.in_transaction():
        return False
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")).scalar_one()
    if connection.dialect.name == "sqlite":
        at_begin = connection.info.get(_SQLITE_CHANGES)
        return at_begin is None or connection.connection.dbapi_connection.total_changes != at_begin
    return True


@event.listens_for(Session, "after_begin")
def _remember_sqlite_changes(session: Session, transaction, connection) -> None:
    # SQLite counts the rows each connection has changed: the count at BEGIN tells later whether
    # this transaction wrote (through the ORM, Core or plain SQL alike).
    if connection.dialect.name == "sqlite":
        connection.info[_SQLITE_CHANGES] = connection.connection.dbapi_connection.total_changes
