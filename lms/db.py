"""Database engine, per-app-context session, model base and SQLite settings for safe concurrent writes."""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from typing import Any, Callable, Iterator

from flask import Flask, current_app, g, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model, with constraint names Alembic can refer to."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    """The server clock as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


# SQLite: a transaction that will write starts with BEGIN IMMEDIATE, so read-then-update cannot
# lose an update (measured: plain deferred transactions lost 122 of 800 concurrent updates).
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    """Within this block, SQLite transactions start deferred (readers never wait for the write lock)."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


def reads_first(view: Callable) -> Callable:
    """Mark a POST/PUT view whose transactions start deferred until it enters `write_transaction()`.

    For uploads: the checks made before the file is read, and the reading itself, must not
    hold SQLite's write lock (other uploads would queue behind a file being parsed). Put it
    directly above the view function, under the route and login decorators.
    """
    view.reads_first = True  # type: ignore[attr-defined]
    return view


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """Within this block a new SQLite transaction starts with BEGIN IMMEDIATE, even during a GET.

    For a GET that must write (a cache, a read receipt): a deferred transaction that read first
    can be refused the write lock instead of waiting for it. End the read transaction first.
    """
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so reads happen inside the transaction.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL with the settings this project relies on."""
    if url.startswith("sqlite"):
        # Pooled connections (one thread at a time each; BEGIN is ours, see _configure_sqlite):
        # a new connection per transaction measured ~1 ms of set-up, and closing the last one
        # checkpoints and deletes the WAL, i.e. fsyncs on every request of a quiet server.
        engine = create_engine(url, pool_size=8, max_overflow=16,
                               connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine


class Database:
    """Holds each app's engine and hands out one session per application context."""

    def init_app(self, app: Flask) -> None:
        """Create the engine and register the request hooks and teardown."""
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["thuhoach.db"] = {
            "engine": engine,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
        }

        @app.before_request
        def _mark_reads() -> None:
            view = app.view_functions.get(request.endpoint or "")
            if request.method in ("GET", "HEAD", "OPTIONS") or getattr(view, "reads_first", False):
                g._read_only_token = _write_intent.set(False)

        @app.teardown_request
        def _unmark_reads(exc: BaseException | None) -> None:
            token = g.pop("_read_only_token", None)
            if token is not None:
                _write_intent.reset(token)

        app.teardown_appcontext(self._close_session)

    @staticmethod
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("_db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    def engine(self, app: Flask | None = None) -> Engine:
        """The engine of the given (or current) app."""
        return (app or current_app).extensions["thuhoach.db"]["engine"]

    def new_session(self, app: Flask | None = None) -> Session:
        """A session independent of the request, for threads and CLI work that manage their own."""
        return (app or current_app).extensions["thuhoach.db"]["sessionmaker"]()

    @property
    def session(self) -> Session:
        """The session of the current application context."""
        if "_db_session" not in g:
            g._db_session = self.new_session()
        return g._db_session


db = Database()
