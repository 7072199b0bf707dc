"""Scores go back to the LMS by themselves: a new essay version on a placed topic queues a job that
sends that trainee's "submitted" score (1/0) through the Assignment and Grade Service.

The essays feature is not imported: it sends the `lms.hooks.essay_version_stored` signal, and the
job is written in the same transaction, so it exists exactly when the essay version does.
HTTP to the LMS runs in the worker, never inside the trainee's request.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.hooks import essay_version_stored
from lms.db import db
from lms.jobs import Progress, register_handler, register_task
from lms.lti.operations import refresh_after_cutoff, send_scores
from lms.lti.models import LtiContext, LtiResourceLink
from lms.models import Job

logger = logging.getLogger(__name__)
JOB_KIND = "lti.push_scores"
RETRY_POLL = 15.0


def init_app(app: Flask) -> None:
    """Register the job handler and listen for new essay versions (the signal is process-wide)."""
    register_handler(app, JOB_KIND, _handle)
    register_task(app, _forget_nonces)
    register_task(app, _send_waiting_scores)
    app.extensions["thuhoach.lti_grades"] = True
    essay_version_stored.connect(_enqueue, weak=False)  # connecting the same function twice is a no-op


def _enqueue(app: Flask, *, session: Session, trainee_id: int, topic_id: int, **_: Any) -> None:
    """A new version on a placed topic: queue the score return, in the transaction that writes the version."""
    if not app.extensions.get("thuhoach.lti_grades"):
        return
    context_ids = session.scalars(
        select(LtiContext.id).join(LtiResourceLink, LtiResourceLink.context_id == LtiContext.id)
        .where(LtiResourceLink.topic_id == topic_id).distinct()).all()
    for context_id in sorted(context_ids):
        session.add(Job(kind=JOB_KIND, params=json.dumps({"context_id": context_id, "user_ids": [trainee_id]})))


def _handle(app: Flask, params: dict[str, Any], progress: Progress) -> None:
    from lms.db import db, read_only
    from lms.lti.operations import push_scores

    with read_only():
        context = db.session.get(LtiContext, params["context_id"])
    if context is None:
        return None
    user_ids = set(params["user_ids"]) if params.get("user_ids") else None
    result = push_scores(context, only_user_ids=user_ids)
    db.session.commit()
    # A score the LMS did not take stays queued and is retried by _send_waiting_scores: the job
    # itself is done, and says so.
    progress(100, result.summary())
    return None


def _send_waiting_scores(app: Flask) -> int:
    """Every RETRY_POLL seconds: send the scores whose retry time has come; once a minute, turn
    "not ready" into 0 where a course's cut-off has passed."""
    now = time.monotonic()
    if now - app.extensions.get("thuhoach.lti_score_sweep", -RETRY_POLL) < RETRY_POLL:
        return 0
    app.extensions["thuhoach.lti_score_sweep"] = now
    with app.app_context():
        if now - app.extensions.get("thuhoach.lti_cutoff_sweep", -60.0) >= 60:
            app.extensions["thuhoach.lti_cutoff_sweep"] = now
            if refresh_after_cutoff():
                db.session.commit()
        result = send_scores()
        db.session.commit()
    return result.sent + result.failed


def _forget_nonces(app: Flask) -> int:
    """Once an hour, drop used nonces older than any id_token can be (they are refused by `iat` anyway)."""
    from lms.db import db
    from lms.lti.operations import forget_old_nonces

    if time.monotonic() - app.extensions.get("thuhoach.lti_nonce_sweep", -3600.0) < 3600:
        return 0
    app.extensions["thuhoach.lti_nonce_sweep"] = time.monotonic()
    with app.app_context():
        if forget_old_nonces():
            db.session.commit()
    return 0
