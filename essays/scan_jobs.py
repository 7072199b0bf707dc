"""Many photographed pages are read by the worker, not in a web thread (issue 14).

Tesseract costs ~2.5 s of CPU per A4 page (docs/PERFORMANCE.md): a few pages are read in the
request, more are handed to the worker as a job. The request checks every file (names, sizes,
magic bytes) and who may hand in, keeps the files in a staging folder (never in the essay file
store) and queues the job; the trainee follows it on a page that says "đang nhận dạng" until the
essay is received or refused. The time of receipt is the request's. The staging folder is
removed whatever the outcome, so a refused upload leaves nothing behind.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from lms.db import db, write_transaction
from lms.jobs import Progress, enqueue_job
from lms.models import Job, Topic, User
from lms.timefmt import parse_iso
from essays.extraction import ExtractionError, check_upload
from essays.operations import SubmissionError, max_upload_bytes, prepare_submission, submit_essay

logger = logging.getLogger(__name__)

JOB_KIND = "essays.scan"
INLINE_PAGES = 3  # photographed pages read in the request; more go to the worker
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


class ScanJobRefused(Exception):
    """The worker could not accept the essay; the message is the Vietnamese refusal."""


def estimated_pages(files: list[tuple[str, bytes]]) -> int:
    """Pages of an upload, roughly (a PDF's page objects are counted, not parsed): only to choose where to read."""
    return sum(max(1, len(_PDF_PAGE.findall(data))) if b"%PDF-" in data[:1024] else 1 for _name, data in files)


def wants_worker(files: list[tuple[str, bytes]]) -> bool:
    """Whether this upload is photos/scans with more pages than a request should read."""
    if not files or any(name.lower().rsplit(".", 1)[-1] in ("docx", "doc", "odt", "txt") for name, _ in files):
        return False
    return estimated_pages(files) > int(current_app.config.get("SCAN_INLINE_PAGES", INLINE_PAGES))


def queue_scan(trainee: User, topic: Topic, *, uploaded_by: User, files: list[tuple[str, bytes]],
               handwritten: bool, now: dt.datetime) -> Job:
    """Check the files, stage them and queue their reading; flushes, the caller commits."""
    limit = max_upload_bytes()
    try:
        for name, data in files:
            check_upload(name or "", data, limit)
    except ExtractionError as exc:
        raise SubmissionError(exc.message, 413 if exc.code == "too_large" else 422, exc.code) from None
    staging = Path(current_app.config["DATA_DIR"]) / "scan-jobs" / secrets.token_hex(16)
    staging.mkdir(parents=True)
    entries = []
    for position, (name, data) in enumerate(files):
        path = staging / f"{position:03d}"
        path.write_bytes(data)
        entries.append({"path": str(path), "name": name})
    return enqueue_job(JOB_KIND, {
        "trainee_id": trainee.id, "topic_id": topic.id, "uploaded_by_id": uploaded_by.id,
        "now": now.isoformat(), "handwritten": handwritten, "files": entries, "staging": str(staging),
        "pages": estimated_pages(files)}, uploaded_by)


def run_scan_job(app: Flask, params: dict[str, Any], progress: Progress) -> None:
    """Job handler: read the staged pages and hand the essay in as of the request's time."""
    staging = Path(params["staging"])
    try:
        progress(5, f"Đang nhận dạng chữ trong ảnh ({params.get('pages', '?')} trang)…")
        files = [(entry["name"], Path(entry["path"]).read_bytes()) for entry in params["files"]]
        trainee = db.session.get(User, params["trainee_id"])
        topic = db.session.get(Topic, params["topic_id"])
        uploaded_by = db.session.get(User, params["uploaded_by_id"])
        db.session.rollback()  # no read transaction while Tesseract works
        if trainee is None or topic is None or uploaded_by is None:
            raise ScanJobRefused("Không tìm thấy học viên hoặc chủ đề này.")
        try:
            prepared = prepare_submission(data=None, filename=None, text=None, files=files,
                                          handwritten=bool(params.get("handwritten")))
            with write_transaction():
                version = submit_essay(trainee, topic, data=None, filename=None, text=None,
                                       uploaded_by=uploaded_by, now=parse_iso(params["now"]), prepared=prepared)
                db.session.commit()
        except SubmissionError as exc:
            db.session.rollback()
            raise ScanJobRefused(exc.message) from None
        progress(100, f"Đã nhận bài thu hoạch (lần nộp thứ {version.number}).")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def refusal_of(job: Job) -> str | None:
    """The Vietnamese refusal of a failed job, without the worker's generic prefix."""
    if job.status != "failed":
        return None
    return (job.message or "").removeprefix("Lỗi khi xử lý: ") or None
