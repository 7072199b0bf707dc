"""Scores go back to the LMS by themselves: a new essay version on a placed topic queues a job that
sends that trainee's "submitted" score (1/0) through the Assignment and Grade Service.

The essays feature is not imported: a flushed row of the `essay_version` table (by name) is the
signal, and the job is written in the same transaction, so it exists exactly when the essay does.
HTTP to the LMS runs in the worker, never inside the trainee's request.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import column, event, select, table
from sqlalchemy.orm import Session

from lms.db import db
from lms.jobs import Progress, register_handler, register_task
from lms.lti.operations import refresh_after_cutoff, send_scores
from lms.lti.models import LtiContext, LtiResourceLink
from lms.models import Job

logger = logging.getLogger(__name__)
JOB_KIND = "lti.push_scores"
RETRY_POLL = 15.0
_essay = table("essay", column("id"), column("trainee_id"), column("topic_id"))
_listening = False


def init_app(app: Flask) -> None:
    """Register the job handler and, once per process, the flush listener."""
    global _listening
    register_handler(app, JOB_KIND, _handle)
    register_task(app, _forget_nonces)
    register_task(app, _send_waiting_scores)
    app.extensions["thuhoach.lti_grades"] = True
    if not _listening:
        event.listen(Session, "after_flush", _collect)
        event.listen(Session, "after_flush_postexec", _enqueue)
        _listening = True


def _collect(session: Session, flush_context: Any) -> None:
    essay_ids = {obj.essay_id for obj in session.new
                 if getattr(getattr(obj, "__table__", None), "name", None) == "essay_version"}
    if essay_ids:
        session.info.setdefault("lti_new_versions", set()).update(essay_ids)


def _enqueue(session: Session, flush_context: Any) -> None:
    essay_ids = session.info.pop("lti_new_versions", None)
    if not essay_ids or not has_app_context() or not current_app.extensions.get("thuhoach.lti_grades"):
        return
    rows = session.execute(
        select(_essay.c.trainee_id, LtiContext.id)
        .join(LtiResourceLink, LtiResourceLink.topic_id == _essay.c.topic_id)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .where(_essay.c.id.in_(essay_ids))).all()
    by_context: dict[int, set[int]] = {}
    for trainee_id, context_id in rows:
        by_context.setdefault(context_id, set()).add(trainee_id)
    for context_id, user_ids in by_context.items():
        # Added here, flushed by the next turn of the same flush loop.
        session.add(Job(kind=JOB_KIND, params=json.dumps({"context_id": context_id, "user_ids": sorted(user_ids)})))


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
