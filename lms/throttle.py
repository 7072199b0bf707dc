"""Login throttling that holds across all workers (counters live in the database) and that nobody
can use to lock someone else out.

Measured before: Flask-Limiter with `memory://` let 24 of 40 attempts through a 5-per-minute
limit under 5 workers, because each worker counted alone.

Three counters, each a row of `login_throttle`:
- the account from one address (`pair:`): after 5 failures each further attempt waits twice as
  long as the one before (1 s, 2 s, 4 s … up to 15 minutes): a guesser slows down exponentially;
- the account from anywhere (`user:`): after 10 failures a cool-down of a few seconds between
  attempts, never a lock, so the owner can still log in from a new place the night before the
  deadline (and guessing stays at most one try per COOLDOWN per account);
- the address across accounts (`addr:`): 30 failures in 15 minutes block that address. Behind a
  proxy this is the real client address (ProxyFix, THUHOACH_PROXIES), never the proxy's.

The same table holds rate counters of costly reads (`rate:`, hit_rate: a user's searches).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

from flask import Flask
from sqlalchemy import Table, case, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from lms.db import db, rows_changed, utcnow
from lms.jobs import register_hourly
from lms.models import LoginThrottle

WINDOW = dt.timedelta(minutes=15)
PAIR_FREE_FAILURES = 5
PAIR_MAX_DELAY = dt.timedelta(minutes=15)
ACCOUNT_FREE_FAILURES = 10
ACCOUNT_COOLDOWN = dt.timedelta(seconds=5)
MAX_PER_ADDRESS = 30


@dataclass(frozen=True)
class Blocked:
    """A counter that currently refuses attempts, for the administrator's page."""

    key: str
    kind: str  # "pair", "user" or "addr"
    subject: str
    failures: int
    until: dt.datetime


def _name(username: str) -> str:
    return username.strip().lower()[:80]


def _keys(username: str, address: str | None) -> list[str]:
    keys = [f"user:{_name(username)}"]
    if address:
        keys += [f"pair:{_name(username)}|{address}", f"addr:{address}"]
    return keys


def _until(row: LoginThrottle) -> dt.datetime | None:
    """When this counter lets the next attempt through (None: it does not hold anything back)."""
    kind = row.key.split(":", 1)[0]
    last = row.last_failure_at or row.window_start
    if kind == "pair" and row.failures >= PAIR_FREE_FAILURES:
        delay = dt.timedelta(seconds=2 ** min(row.failures - PAIR_FREE_FAILURES, 20))
        return last + min(delay, PAIR_MAX_DELAY)
    if kind == "user" and row.failures >= ACCOUNT_FREE_FAILURES:
        return last + ACCOUNT_COOLDOWN
    if kind == "addr" and row.failures >= MAX_PER_ADDRESS:
        return row.window_start + WINDOW
    return None


def blocked_for(username: str, address: str | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """How long this username/address must still wait, or None when it may try."""
    now = now or utcnow()
    wait: dt.timedelta | None = None
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(_keys(username, address)))).all()
    for row in rows:
        if row.window_start + WINDOW <= now and row.key.startswith("addr:"):
            continue
        until = _until(row)
        if until is not None and until > now:
            wait = max(wait or until - now, until - now)
    return wait


def record_failure(username: str, address: str | None, now: dt.datetime | None = None) -> None:
    """Count a failed attempt with one atomic upsert per key (no read-then-write)."""
    now = now or utcnow()
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = cast(Table, LoginThrottle.__table__)
    for key in _keys(username, address):
        stmt = insert(table).values(key=key, window_start=now, last_failure_at=now, failures=1)
        # An address counts failures in fixed 15-minute windows; an account's counters start
        # again after 15 quiet minutes.
        since = table.c.window_start if key.startswith("addr:") else table.c.last_failure_at
        expired = since < now - WINDOW
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((expired, 1), else_=table.c.failures + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
                "last_failure_at": now,
            },
        )
        db.session.execute(stmt)


def clear_account(username: str, address: str | None = None) -> None:
    """A successful login clears the account's counters (not the address's)."""
    keys = [f"user:{_name(username)}"] + ([f"pair:{_name(username)}|{address}"] if address else [])
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


def blocked_now(now: dt.datetime | None = None) -> list[Blocked]:
    """Every counter holding attempts back right now, longest wait first."""
    now = now or utcnow()
    # Rate rows (`rate:`, busy searchers) count events, not failures: they must not fill the 500.
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.last_failure_at > now - WINDOW - PAIR_MAX_DELAY,
                                                          ~LoginThrottle.key.startswith("rate:"))
                              .order_by(LoginThrottle.failures.desc()).limit(500)).all()
    found = []
    for row in rows:
        until = _until(row)
        if until is not None and until > now:
            kind, subject = row.key.split(":", 1)
            found.append(Blocked(row.key, kind, subject, row.failures, until))
    return sorted(found, key=lambda b: b.until, reverse=True)


def release(key: str) -> bool:
    """Drop one counter (an administrator lets the account or address try again)."""
    return bool(rows_changed(db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))))


def purge_expired(now: dt.datetime | None = None) -> int:
    """Drop counters that no longer hold anything back."""
    now = now or utcnow()
    old = now - WINDOW - PAIR_MAX_DELAY
    result = db.session.execute(delete(LoginThrottle).where(
        or_(LoginThrottle.last_failure_at < old, LoginThrottle.last_failure_at.is_(None) & (LoginThrottle.window_start < old))))
    return rows_changed(result)


def init_app(app: Flask) -> None:
    """Clear spent counters from the worker loop, so `login_throttle` does not only grow."""
    register_hourly(app, "throttle", purge_expired)


def hit_rate(key: str, count: int, per: float, now: dt.datetime | None = None) -> float | None:
    """Count one event of `key` (e.g. a user's search) against `count` per `per` seconds; None when
    allowed, else the seconds to wait.

    A fixed window in a `login_throttle` row (`rate:<key>`), one atomic upsert: the count holds
    across every worker process and app server (before: in memory, per process, so 3 workers gave
    3× the limit). The caller runs it in its own short write transaction (it queues for SQLite's
    write gate like an upload); purge_expired drops the row once idle.
    """
    now = now or utcnow()
    window = dt.timedelta(seconds=per)
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = cast(Table, LoginThrottle.__table__)
    expired = table.c.window_start <= now - window
    upsert = insert(table).values(key=f"rate:{key}"[:200], window_start=now, last_failure_at=now, failures=1)
    stmt = upsert.on_conflict_do_update(index_elements=[table.c.key], set_={
        "failures": case((expired, 1), else_=table.c.failures + 1),
        "window_start": case((expired, now), else_=table.c.window_start),
        "last_failure_at": now,
    }).returning(table.c.failures, table.c.window_start)
    events, start = db.session.execute(stmt).one()
    if events <= count:
        return None
    return max(0.001, (start + window - now).total_seconds())
