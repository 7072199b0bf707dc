"""Background work: a job table in the database and one worker loop that also runs features' tasks.

Why a table and not RQ/Redis: the embedded default must run with nothing but Python and SQLite,
and a job row written in the same transaction as the request that asks for it can never be lost.
Features register job handlers (`register_handler`) and periodic worker tasks (`register_task`,
e.g. draining the search outbox). In the embedded default the app process runs the loop in a
thread; in production `flask --app lms worker` (or `search worker`) is the one worker process.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from flask import Flask
from sqlalchemy import select, update

from lms.db import app_object, db, read_only, rows_changed, utcnow
from lms.models import Job, Role, User

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0
# A running job whose worker has not beaten for this long is taken to be dead and queued again.
STALE_AFTER = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3

Progress = Callable[[int, str | None], None]
# handler(app, params, progress) -> (path of the result file, name to download it under) or None
Handler = Callable[[Flask, dict[str, Any], Progress], "tuple[Path, str] | None"]


def register_handler(app: Flask, kind: str, handler: Handler) -> None:
    """Let the worker run jobs of this kind."""
    app.extensions.setdefault("thuhoach.job_handlers", {})[kind] = handler


def register_task(app: Flask, task: Callable[[Flask], int]) -> None:
    """A task the worker loop calls repeatedly; it returns how much it did (0 = idle)."""
    app.extensions.setdefault("thuhoach.worker_tasks", []).append(task)


def register_hourly(app: Flask, name: str, purge: Callable[[], int]) -> None:
    """A worker task that runs `purge` (in an app context, committed when it changed rows) once an hour.

    For housekeeping (spent login counters, dead sessions): it returns 0 to the loop, so it never
    counts as the loop's main work.
    """
    key = f"thuhoach.hourly.{name}"

    def task(app: Flask) -> int:
        if time.monotonic() - app.extensions.get(key, -3600.0) < 3600:
            return 0
        app.extensions[key] = time.monotonic()
        with app.app_context():
            if purge():
                db.session.commit()
        return 0

    register_task(app, task)


def enqueue_job(kind: str, params: dict[str, Any], user: User | None) -> Job:
    """Queue a job in the caller's transaction (it exists exactly when the request commits)."""
    job = Job(kind=kind, params=json.dumps(params, ensure_ascii=False), created_by_id=user.id if user else None)
    db.session.add(job)
    db.session.flush()
    return job


def jobs_dir(app: Flask) -> Path:
    """Where finished jobs leave their files."""
    folder = Path(app.config["DATA_DIR"]) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _claim(app: Flask) -> int | None:
    """Atomically move the oldest queued job to running; None when there is none."""
    session = db.new_session(app)
    try:
        now = utcnow()
        stale = (Job.status == "running") & (Job.heartbeat_at < now - STALE_AFTER)
        # The worker polls every second: look without SQLite's write lock, take it only for work.
        with read_only():
            has_queued = session.scalar(select(Job.id).where(Job.status == "queued").limit(1)) is not None
            has_stale = session.scalar(select(Job.id).where(stale).limit(1)) is not None
        session.rollback()
        if not (has_queued or has_stale):
            return None
        if has_stale:
            # Jobs of a dead worker go back to the queue (or fail after too many attempts).
            session.execute(update(Job).where(stale, Job.attempts < MAX_ATTEMPTS).values(status="queued"))
            session.execute(update(Job).where(stale).values(
                status="failed", message="Tiến trình xử lý bị dừng nhiều lần.", finished_at=now))
        candidate = session.scalar(select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1))
        if candidate is None:
            session.commit()
            return None
        # The WHERE on status makes the claim conditional: of two workers, one updates a row.
        claimed = session.execute(update(Job).where(Job.id == candidate, Job.status == "queued").values(
            status="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1))
        session.commit()
        return candidate if rows_changed(claimed) == 1 else None
    finally:
        session.close()


def _set(app: Flask, job_id: int, **values: Any) -> None:
    session = db.new_session(app)
    try:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        session.commit()
    finally:
        session.close()


def run_one_job(app: Flask) -> int:
    """Claim and run one job; returns 1 if a job ran, 0 if the queue was empty."""
    job_id = _claim(app)
    if job_id is None:
        return 0
    session = db.new_session(app)
    job = session.get(Job, job_id)
    assert job is not None  # just claimed by this worker
    kind, params = job.kind, json.loads(job.params or "{}")
    session.close()
    handler = app.extensions.get("thuhoach.job_handlers", {}).get(kind)
    if handler is None:
        _set(app, job_id, status="failed", message=f"Không có bộ xử lý cho loại việc {kind}.", finished_at=utcnow())
        return 1

    def progress(percent: int, message: str | None = None) -> None:
        values: dict[str, Any] = {"progress": max(0, min(100, int(percent))), "heartbeat_at": utcnow()}
        if message:
            values["message"] = message
        _set(app, job_id, **values)

    try:
        with app.app_context():
            result = handler(app, params, progress)
    except Exception as exc:  # the job fails with a message; the worker goes on
        logger.exception("job %s (%s) failed", job_id, kind)
        _set(app, job_id, status="failed", message=f"Lỗi khi xử lý: {exc}", finished_at=utcnow())
        return 1
    path, name = result if result else (None, None)
    _set(app, job_id, status="done", progress=100, result_path=str(path) if path else None, result_name=name,
         finished_at=utcnow(), heartbeat_at=utcnow())
    return 1


def run_worker(app: Flask, stop: threading.Event | None = None, poll: float = POLL_SECONDS) -> None:
    """Run jobs and the features' tasks until `stop` is set; errors are logged and retried."""
    stop = stop or threading.Event()
    tasks = [run_one_job, *app.extensions.get("thuhoach.worker_tasks", [])]
    logger.info("worker started with %d tasks", len(tasks))
    while not stop.is_set():
        busy = 0
        for task in tasks:
            try:
                busy += task(app)
            except Exception:  # keep the worker alive; the work stays queued and is retried
                logger.exception("worker task %s failed; retrying", getattr(task, "__name__", task))
                stop.wait(min(30.0, poll * 5))
        if not busy:
            stop.wait(poll)


def start_background_worker(app: Flask) -> None:
    """In the embedded default, the app process runs the worker loop as a daemon thread, once."""
    with _START_LOCK:
        if app.extensions.get("thuhoach.worker_thread"):
            return
        stop = threading.Event()
        thread = threading.Thread(target=run_worker, args=(app, stop), name="thuhoach-worker", daemon=True)
        app.extensions["thuhoach.worker_thread"] = (thread, stop)
        thread.start()


_START_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Register the `worker` command and, in the embedded default, the in-process worker thread."""
    import click

    @app.cli.command("worker")
    def worker_command() -> None:
        """Run the one worker process: jobs and search indexing (production)."""

        click.echo("Đang chạy tiến trình xử lý nền (Ctrl+C để dừng).")
        run_worker(app_object())

    if app.config.get("INDEXER_IN_PROCESS") and not app.config.get("TESTING"):
        @app.before_request
        def _start_worker() -> None:
            # Started by the first request, so CLI commands never spawn a worker thread.
            start_background_worker(app)


def job_or_404(job_id: int, user: User) -> Job:
    """A job its creator or an admin may follow; 404 for anyone else."""
    from flask import abort


    job = db.session.get(Job, job_id)
    if job is None or (job.created_by_id != user.id and user.role != Role.admin):
        abort(404)
    return job


def job_json(job: Job) -> dict[str, Any]:
    """A job's state as the API and the progress page's script read it."""
    from flask import url_for

    return {"id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress,
            "message": job.message,
            "download_url": url_for("pages.job_download", job_id=job.id) if job.status == "done" and job.result_path
            else None}
