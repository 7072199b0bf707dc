"""The only bridge between essays and search/: the outbox, the indexer, and the index per process.

An upload's transaction adds an IndexOutbox row. One worker (lms.jobs) drains the outbox in batches and
deletes the rows only after Whoosh's commit has returned, so a crash anywhere loses nothing (the
batch is simply indexed again). Measured before: a Whoosh writer per request raised LockError 75%
of the time with 4 processes, AsyncWriter lost 75 of 100 acknowledged writes on a kill, and
BufferedWriter kept the lock for good — hence one writer, fed from the database.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from flask import Flask, current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from essays.models import Essay, EssayVersion, IndexOutbox
from lms.db import db, read_only
from lms.hooks import INDEX_EXTRAS
from lms.jobs import register_task
from lms.models import Unit, User
from search import EssayIndex

# The search page's helpers, so that this module stays the only bridge to search/.
from search.analysis import has_marks as has_marks
from search.highlight import highlight_all as highlight_all, match_spans as match_spans
from search.pg import PgEssayIndex
from search.query import SearchTimeout as SearchTimeout, parse_query, query_notes, unmarked_query as unmarked_query

logger = logging.getLogger(__name__)
BATCH_SIZE = 200
# Features add fields to the index (review: themes) with callables essay_ids -> {id: {field: value}}.


def index_path(app: Flask | None = None) -> Path:
    """Where this app keeps its search index."""
    return Path((app or current_app).config["DATA_DIR"]) / "search"


def _open_index(app: Flask) -> EssayIndex | PgEssayIndex:
    if app.config["SEARCH_BACKEND"] == "postgres":
        engine = db.engine(app)
        # Pooled connections: each search or write borrows one and gives it back.
        return PgEssayIndex(engine.raw_connection, index_kind=app.config["SEARCH_PG_INDEX"],
                            time_budget=app.config["SEARCH_TIME_BUDGET"])
    return EssayIndex(index_path(app), time_budget=app.config["SEARCH_TIME_BUDGET"])


def notes_for(q: str) -> list[str]:
    """What the search will not read as typed (short prefixes, an over-long query), in Vietnamese."""
    return query_notes(parse_query(q))


def get_index(app: Flask | None = None) -> EssayIndex | PgEssayIndex:
    """The process's one index: Whoosh (one cached searcher) or the PostgreSQL table every server shares."""
    app = app or current_app
    index = app.extensions.get("thuhoach.search_index")
    if index is None:
        with _INDEX_LOCK:
            index = app.extensions.get("thuhoach.search_index")
            if index is None:
                index = app.extensions["thuhoach.search_index"] = _open_index(app)
    return index


_INDEX_LOCK = threading.Lock()


def essay_docs(session: Session, essay_ids: Iterable[int], app: Flask | None = None) -> dict[int, dict[str, Any]]:
    """Index documents for these essays' current versions, built with one query."""
    ids = sorted(set(essay_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Essay.id, Essay.course_id, Essay.topic_id, Unit.code, User.full_name, EssayVersion.text,
               EssayVersion.submitted_at, EssayVersion.is_late, EssayVersion.under_extension)
        .join(EssayVersion, EssayVersion.id == Essay.current_version_id)
        .join(Unit, Unit.id == Essay.unit_id)
        .join(User, User.id == Essay.trainee_id)
        # A handwritten essay (needs_reading) has no text to search: left out, so its entry is deleted.
        .where(Essay.id.in_(ids), EssayVersion.needs_reading.is_(False))
    ).all()
    docs = {}
    for row in rows:
        # The submission state the index filters on.
        state = "extension" if row.under_extension else ("late" if row.is_late else "on_time")
        docs[row.id] = {"essay_id": row.id, "course_id": row.course_id, "topic_id": row.topic_id,
                        "unit_code": row.code, "trainee": row.full_name, "text": row.text,
                        "submitted_at": row.submitted_at, "state": state}
    for extra in INDEX_EXTRAS.providers(app):
        for essay_id, fields in extra(session, list(docs)).items():
            if essay_id in docs:
                docs[essay_id].update(fields)
    return docs


def enqueue(session: Session, essay_ids: Iterable[int]) -> None:
    """Ask the indexer to rewrite these essays' entries (in the caller's transaction)."""
    session.add_all(IndexOutbox(essay_id=i) for i in set(essay_ids))


def queue_upload(session: Session, essay_id: int, now: Any) -> None:
    """An upload's essay for the index: an outbox row the worker drains, or, with PostgreSQL search
    and THUHOACH_SEARCH_INDEXING=upload, its search row written in the upload's own transaction
    (searchable on every server at the commit; the upload pays for the analysis)."""
    app = current_app
    if app.config["SEARCH_BACKEND"] != "postgres" or app.config["SEARCH_INDEXING"] != "upload":
        session.add(IndexOutbox(essay_id=essay_id, queued_at=now))
        return
    session.flush()
    docs = essay_docs(session, [essay_id], app)
    index = get_index(app)
    assert isinstance(index, PgEssayIndex)
    cursor = session.connection().connection.cursor()
    index.write_many(cursor, docs.values())
    index.delete_with(cursor, {essay_id} - set(docs))


def pending_count(session: Session) -> int:
    """Rows waiting in the outbox (the search page says when search is behind)."""
    return session.scalar(select(func.count()).select_from(IndexOutbox)) or 0


def _drain_postgres(app: Flask, batch_size: int) -> int:
    """One transaction claims a batch (SKIP LOCKED: several workers never take the same rows),
    writes the search table and deletes the rows: the essays become searchable on every server
    at the commit, and a crash anywhere leaves both as they were."""
    session = db.new_session(app)
    try:
        rows = session.execute(select(IndexOutbox.id, IndexOutbox.essay_id).order_by(IndexOutbox.id)
                               .limit(batch_size).with_for_update(skip_locked=True)).all()
        if not rows:
            session.rollback()
            return 0
        essay_ids = {r.essay_id for r in rows}
        docs = essay_docs(session, essay_ids, app)
        index = get_index(app)
        assert isinstance(index, PgEssayIndex)
        cursor = session.connection().connection.cursor()
        index.write_many(cursor, (docs[i] for i in sorted(docs)))  # one order: no deadlock between workers
        index.delete_with(cursor, essay_ids - set(docs))
        session.execute(delete(IndexOutbox).where(IndexOutbox.id.in_([r.id for r in rows])))
        session.commit()
        logger.info("indexed outbox rows %s", ",".join(str(r.id) for r in rows))
        return len(rows)
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def drain_once(app: Flask, batch_size: int = BATCH_SIZE) -> int:
    """Index one batch from the outbox; returns how many outbox rows were done."""
    if app.config["SEARCH_BACKEND"] == "postgres":
        return _drain_postgres(app, batch_size)
    session = db.new_session(app)
    try:
        # Polled every second: read without SQLite's write lock, release the snapshot while Whoosh works.
        with read_only():
            rows = session.execute(
                select(IndexOutbox.id, IndexOutbox.essay_id).order_by(IndexOutbox.id).limit(batch_size)).all()
            session.rollback()
            if not rows:
                return 0
            essay_ids = {r.essay_id for r in rows}
            docs = essay_docs(session, essay_ids, app)
            session.rollback()
        index = get_index(app)
        if docs:
            index.upsert_many(docs.values())
        gone = essay_ids - set(docs)
        if gone:
            index.delete_many(gone)
        # Only now, with Whoosh's commit on disk, may the outbox forget these rows.
        session.execute(delete(IndexOutbox).where(IndexOutbox.id.in_([r.id for r in rows])))
        session.commit()
        return len(rows)
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def drain_all(app: Flask, batch_size: int = BATCH_SIZE) -> int:
    """Drain the outbox until it is empty; returns the rows done."""
    total = 0
    while True:
        done = drain_once(app, batch_size)
        total += done
        if done == 0:
            return total


def all_current_docs(app: Flask, chunk: int = 500) -> Iterator[dict[str, Any]]:
    """Every essay with a current version, as index documents, read in chunks."""
    session = db.new_session(app)
    try:
        ids = list(session.scalars(select(Essay.id).where(Essay.current_version_id.is_not(None)).order_by(Essay.id)))
        for start in range(0, len(ids), chunk):
            yield from essay_docs(session, ids[start:start + chunk], app).values()
            session.expunge_all()
    finally:
        session.close()


def reindex(app: Flask, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the database into a new generation, then switch to it."""
    session = db.new_session(app)
    try:
        # Rows queued before the rebuild started are covered by it.
        high_water = session.scalar(select(func.max(IndexOutbox.id)))
    finally:
        session.close()
    n = get_index(app).rebuild(all_current_docs(app), progress=progress)
    if high_water is not None:
        session = db.new_session(app)
        try:
            session.execute(delete(IndexOutbox).where(IndexOutbox.id <= high_water))
            session.commit()
        finally:
            session.close()
    return n


def check(app: Flask, repair: bool = True) -> dict[str, int]:
    """Compare database and index; with repair, queue what is missing and delete what is extra."""
    session = db.new_session(app)
    try:
        in_db = {str(i) for i in session.scalars(select(Essay.id).where(Essay.current_version_id.is_not(None)))}
        in_index = get_index(app).all_ids()
        missing, extra = in_db - in_index, in_index - in_db
        if repair and missing:
            enqueue(session, (int(i) for i in missing))
            session.commit()
        if repair and extra:
            get_index(app).delete_many(extra)
        return {"database": len(in_db), "index": len(in_index), "missing": len(missing), "extra": len(extra)}
    finally:
        session.close()


def init_app(app: Flask) -> None:
    """Register the outbox drain as a periodic task of the worker loop (the `search` CLI is essays.cli)."""
    # The worker loop (a thread of the app in the embedded default) drains the outbox.
    register_task(app, drain_once)
