"""The transaction protocol of views, API and CLI (docs/ARCHITECTURE.md, "Transactions").

Operations (`*/operations.py`) flush and log; they never commit. The caller ends the transaction
once, through one of these:

- `committed(TaggingError, success=…)` (pages): commit on success and flash `success`; on one of the
  error types named (ours: `TaggingError`, `ReportError`, `SubmissionError`, … whose message is for
  the user) roll back and flash the message; anything else rolls back and propagates.
- `api_committed()` (API): the same, but the refusal becomes `ApiError` (JSON, status from the
  error's `.status`, default 422).
- `transaction()`: commit on success, roll back on anything raised and let it propagate, for a
  caller that answers our errors itself (a page that answers JSON or a flash, a CLI command).
- `write_after_reads()`: a GET (or a `reads_first` view) that must write: end the read
  transaction, then write in a transaction that starts with SQLite's write lock, and commit.

The SQLite side of it lives in lms/db.py: GETs and `reads_first` views read in deferred
transactions (`read_only`), every other transaction starts with BEGIN IMMEDIATE behind the write
gate, `write_transaction()` asks for the write lock inside a GET.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

from flask import flash

from lms.db import db, write_transaction
from lms.errors import ApiError


def message_of(exc: BaseException) -> str:
    """The user-facing text of one of our errors (`.message` when it has one)."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)


@dataclass
class Outcome:
    """What a `committed` block did: `ok` after the commit; `success` may be set inside the block."""

    success: str | None = None
    ok: bool = False
    error: str | None = None


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Commit on success; on any exception roll back and let it propagate."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


@contextlib.contextmanager
def committed(*errors: type[BaseException], success: str | None = None,
              message: Callable[[BaseException], str] = message_of) -> Iterator[Outcome]:
    """Page actions: commit and flash `success`, or roll back and flash the refusal (see module doc)."""
    outcome = Outcome(success)
    try:
        with transaction():
            yield outcome
    except errors as exc:
        outcome.error = message(exc)
        flash(outcome.error, "danger")
        return
    outcome.ok = True
    if outcome.success:
        flash(outcome.success, "success")


@contextlib.contextmanager
def api_committed(*errors: type[BaseException], status: int = 422) -> Iterator[None]:
    """API actions: commit, or roll back and answer the refusal as JSON (`ApiError`)."""
    try:
        with transaction():
            yield
    except errors as exc:
        raise ApiError(getattr(exc, "status", status), message_of(exc), getattr(exc, "code", None)) from None


@contextlib.contextmanager
def write_after_reads() -> Iterator[None]:
    """End the read transaction, write with SQLite's write lock from the first statement, commit.

    A deferred transaction that read first can be refused the write lock instead of waiting for it.
    """
    db.session.commit()
    with write_transaction():
        yield
        db.session.commit()
