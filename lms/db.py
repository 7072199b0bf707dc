"""Database engine, per-app-context session, model base and SQLite settings for safe concurrent writes."""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fcntl
import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable, Iterator

from flask import Flask, current_app, g, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
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


class _WriteGate:
    """Queue for SQLite's write lock among this machine's processes, one per database file.

    Why: SQLite's busy handler polls with sleeps that grow to 100 ms, so under a stream of
    uploads a writer could lose the race again and again (measured, 3 gunicorn workers × 4
    threads: waits for BEGIN IMMEDIATE p50 0.1 ms but p99 1.2 s, for a lock held ~7 ms). Here
    threads of a process queue on a lock and processes on an flock of `<db>-writegate`
    (one thread per process polls it, every 0.5–2 ms), and BEGIN IMMEDIATE then meets no
    other writer of ours. Programs that do not use this module still work: SQLite's own
    lock is what protects the data; the gate only decides who asks for it next.
    """

    def __init__(self, db_path: str) -> None:
        self.path = db_path + "-writegate"
        self.pid = os.getpid()
        self.thread_lock = threading.Lock()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for our turn; False when it did not come."""
        deadline = time.monotonic() + timeout
        if not self.thread_lock.acquire(timeout=timeout):
            return False
        delay = 0.0005
        try:
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 0.002)
        except BaseException:
            self.thread_lock.release()
            raise
        self.thread_lock.release()
        return False

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    def __del__(self) -> None:
        if self.pid == os.getpid():
            os.close(self.fd)


# Weak: a gate (and its file descriptor) lives as long as a connection to its database does.
_GATES: weakref.WeakValueDictionary[str, _WriteGate] = weakref.WeakValueDictionary()
_GATES_LOCK = threading.Lock()


def _gate_for(database: str) -> _WriteGate | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = os.path.abspath(database)
    with _GATES_LOCK:
        gate = _GATES.get(path)
        if gate is None or gate.pid != os.getpid():  # after a fork: our own lock file handle
            gate = _GATES[path] = _WriteGate(path)
        return gate


class _GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that holds the write gate from BEGIN IMMEDIATE to COMMIT/ROLLBACK."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._gate = _gate_for(os.fsdecode(database)) if isinstance(database, (str, bytes, os.PathLike)) else None
        self._gate_held = False

    def begin_write(self, timeout: float) -> None:
        """Wait for the gate (this connection then issues BEGIN IMMEDIATE)."""
        if self._gate is None or self._gate_held:
            return
        if not self._gate.acquire(timeout):
            raise sqlite3.OperationalError("database is locked")
        self._gate_held = True

    def end_write(self) -> None:
        if self._gate_held:
            self._gate_held = False
            self._gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_write()


SQLITE_BUSY_TIMEOUT = 30  # seconds, for the gate and for SQLite's own busy handler


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so reads happen inside the transaction.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not _write_intent.get():
            conn.exec_driver_sql("BEGIN")
            return
        dbapi_conn = conn.connection.dbapi_connection
        if isinstance(dbapi_conn, _GatedConnection):
            try:
                dbapi_conn.begin_write(SQLITE_BUSY_TIMEOUT)
            except sqlite3.OperationalError as exc:  # as SQLAlchemy reports SQLite's own "locked"
                raise sa_exc.OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if isinstance(dbapi_conn, _GatedConnection):
                dbapi_conn.end_write()
            raise


def make_engine(url: str) -> Engine:
    """Create the engine for a database URL with the settings this project relies on."""
    if url.startswith("sqlite"):
        # Pooled connections (one thread at a time each; BEGIN is ours, see _configure_sqlite):
        # a new connection per transaction measured ~1 ms of set-up, and closing the last one
        # checkpoints and deletes the WAL, i.e. fsyncs on every request of a quiet server.
        engine = create_engine(url, pool_size=8, max_overflow=16,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False,
                                             "factory": _GatedConnection})
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

    @staticmethod
    def discard_session() -> None:
        """Roll back and drop the context's session whatever state it is in; the next use opens a new one."""
        session = g.pop("_db_session", None)
        if session is None:
            return
        try:
            # Detached first, objects keep what they loaded (the current user shown on the error page).
            session.expunge_all()
            session.rollback()
        except Exception:  # noqa: BLE001 - a broken connection: closing below returns it to the pool
            pass
        try:
            session.close()
        except Exception:  # noqa: BLE001
            pass

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
