"""SQLite writers queue at the write gate (lms.db) instead of polling SQLite's lock with sleeps."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from lms import db as lms_db
from lms.db import make_engine, read_only


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def gate_of(engine) -> lms_db._WriteGate:
    return lms_db._gate_for(engine.url.database)


def test_a_writer_waits_for_the_one_in_progress_then_writes(engine):
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append("first wrote")
            first_in.set()
            time.sleep(0.3)
            order.append("first commits")

    def second() -> None:
        first_in.wait(5)
        with engine.begin() as conn:
            order.append("second began")
            conn.execute(text("INSERT INTO t VALUES (2)"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["first wrote", "first commits", "second began"]
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2]
    assert not gate_of(engine).thread_lock.locked()


def test_the_gate_is_free_after_rollback_failure_and_close(engine):
    gate = gate_of(engine)
    with pytest.raises(OperationalError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO nowhere VALUES (1)"))
    assert not gate.thread_lock.locked()

    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (3)"))  # autobegin: BEGIN IMMEDIATE, gate held
    assert gate.thread_lock.locked()
    conn.close()  # returned to the pool: rolled back, gate released, nothing written
    assert not gate.thread_lock.locked()
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_readers_never_touch_the_gate(engine):
    gate = gate_of(engine)
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO t VALUES (4)"))
        with read_only(), engine.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0  # WAL: the committed state
        writer.commit()
    assert not gate.thread_lock.locked()


def test_a_writer_that_cannot_get_its_turn_gets_database_is_locked(engine, monkeypatch):
    monkeypatch.setattr(lms_db, "SQLITE_BUSY_TIMEOUT", 0.2)
    gate = gate_of(engine)
    holder = engine.connect()
    holder.execute(text("INSERT INTO t VALUES (5)"))
    try:
        start = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (6)"))
        assert time.monotonic() - start < 5
    finally:
        holder.commit()
        holder.close()
    assert not gate.thread_lock.locked()
    with engine.connect() as conn:
        assert list(conn.execute(text("SELECT n FROM t")).scalars()) == [5]


def test_another_process_holding_the_gate_is_waited_for(engine, tmp_path):
    """A second handle on the lock file stands for another process (flock is per open file)."""
    import fcntl
    import os

    fd = os.open(gate_of(engine).path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    released = []

    def let_go() -> None:
        time.sleep(0.3)
        released.append(time.monotonic())
        fcntl.flock(fd, fcntl.LOCK_UN)

    t = threading.Thread(target=let_go)
    t.start()
    with engine.begin() as conn:
        began = time.monotonic()
        conn.execute(text("INSERT INTO t VALUES (7)"))
    t.join()
    os.close(fd)
    assert released and began >= released[0]


def test_plain_sqlite3_programs_are_still_kept_out_by_sqlite_itself(engine, monkeypatch):
    """The gate only orders our writers; SQLite's lock still protects the file from anyone."""
    monkeypatch.setattr(lms_db, "SQLITE_BUSY_TIMEOUT", 0.2)  # busy_timeout of new connections
    impatient = make_engine(str(engine.url))
    other = sqlite3.connect(engine.url.database, timeout=0.1, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            with impatient.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (8)"))
    finally:
        other.execute("ROLLBACK")
        other.close()
        impatient.dispose()
    assert not gate_of(engine).thread_lock.locked()
