"""Reads never fail because something else writes: every export and every refused page, downloaded
while other processes upload essays, answers 200/403, never 500 (issue 18, item 1).

Before: the audit row of a GET was inserted after the GET's reads, in the same deferred SQLite
transaction, and SQLite refuses such a transaction the write lock at once when another process
has committed meanwhile ("database is locked", then a bare English 500).
"""
from __future__ import annotations

import io
import multiprocessing
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from lms.db import db
from lms.models import AuditEvent, Role

UPLOADERS = 3
UPLOADS_PER_PROCESS = 40
READERS = 3
TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc "
        "đưa nghị quyết vào cuộc sống, gần dân, sát dân và phục vụ nhân dân tốt hơn. ") * 20


def _upload_loop(config: dict, path: str, token: str, started, results) -> None:
    """One uploader process: hand in new versions, through the API, as fast as it can."""
    from lms import create_app

    app = create_app(config)
    client = app.test_client()
    statuses: Counter = Counter()
    started.set()
    for k in range(UPLOADS_PER_PROCESS):
        response = client.put(path, headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data",
                              data={"file": (io.BytesIO(f"{TEXT}\nLần {k}.".encode()), f"bai-{k}.txt")})
        statuses[response.status_code] += 1
    results.put(dict(statuses))


@pytest.fixture
def world(app, make_unit, make_user, make_course, enroll, api_token):
    from essays.operations import submit_essay

    unit = make_unit()
    course = make_course()
    trainees = [make_user(Role.trainee, unit=unit) for _ in range(UPLOADERS + 1)]
    for trainee in trainees:
        enroll(trainee, course)
    essay = None
    for trainee in trainees:
        essay = submit_essay(trainee, course.topics[0], data=None, filename=None, text=TEXT,
                             uploaded_by=trainee).essay
    db.session.commit()
    reviewer = make_user(Role.reviewer)
    officer = make_user(Role.officer, unit=unit)
    admin = make_user(Role.admin)
    uploads = [(f"/api/v1/courses/{course.id}/topics/{course.topics[1].id}/essay",
                api_token(t)["Authorization"][7:]) for t in trainees[:UPLOADERS]]
    c, u = course.id, unit.code
    reads = {
        # who: [(url, expected status)]
        reviewer: [(f"/api/v1/courses/{c}/report.xlsx", 200), (f"/api/v1/courses/{c}/report.docx", 200),
                   (f"/review/courses/{c}/compilation.xlsx", 200), (f"/essays/{essay.id}/versions/1", 200),
                   (f"/essays/{essay.id}/versions/1/file", 200)],
        # Credentials: no sheet waits in these sessions (410), but the route still takes and audits
        # in its own write transaction, which is what must not fail.
        officer: [(f"/completeness/{c}/units/{u}/essays.zip", 200), (f"/roster/credentials/{u}.xlsx", 410),
                  (f"/report/{c}", 403), (f"/admin/audit", 403)],
        admin: [(f"/roster/credentials/{u}.xlsx", 410), (f"/api/v1/essays/{essay.id}", 200)],
        trainees[-1]: [(f"/report/{c}", 403), ("/review/queue", 403), (f"/completeness/{c}/units/{u}/essays.zip", 403)],
    }
    tokens = {user.id: api_token(user) for user in reads}
    return uploads, reads, tokens


def _read_loop(app, user, urls, headers, stop: threading.Event, seen: list) -> None:
    from tests.conftest import Auth

    client = app.test_client()
    try:
        Auth(client).login(user)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        seen.append(("/login", 302, repr(exc), "", None, b""))
        return
    rounds = 0
    while not stop.is_set() or rounds == 0:
        for url, expected in urls:
            response = client.get(url, headers=headers if url.startswith("/api/") else {})
            body = response.get_data()
            response.close()
            seen.append((url, expected, response.status_code, response.headers.get("Content-Type", ""),
                         response.headers.get("X-Content-Type-Options"), body[:200]))
        rounds += 1


def test_exports_and_refusals_never_fail_while_others_upload(app, app_config, world):
    uploads, reads, tokens = world
    # Answer errors as production does (a 500 page), instead of raising them into the test.
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    ctx = multiprocessing.get_context("spawn")
    started, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_upload_loop, args=(app_config, path, token, started, results))
             for path, token in uploads]
    for proc in procs:
        proc.start()
    assert started.wait(60)
    stop = threading.Event()
    seen: list = []
    readers = [threading.Thread(target=_read_loop, args=(app, user, urls, tokens[user.id], stop, seen))
               for user, urls in reads.items()]
    for reader in readers:
        reader.start()
    upload_statuses: Counter = Counter()
    for _ in procs:
        upload_statuses.update(results.get(timeout=120))
    stop.set()
    for reader in readers:
        reader.join(120)
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert upload_statuses == {200: UPLOADERS * UPLOADS_PER_PROCESS}
    wrong = [(url, expected, status, body) for url, expected, status, _t, _h, body in seen if status != expected]
    assert sorted(Counter(w[:3] for w in wrong).items()) == []
    assert len(seen) >= sum(len(urls) for urls in reads.values())
    # Refusals are Vietnamese pages with our headers, and each read left its audit row.
    refused = [row for row in seen if row[2] == 403 and not row[0].startswith("/api/")]
    assert refused and all(row[4] == "nosniff" and "text/html" in row[3] for row in refused)
    db.session.expire_all()
    denied = db.session.scalar(select(func.count()).where(AuditEvent.action == "access.denied"))
    assert denied == len(refused)


def test_error_page_survives_a_failed_session(app, client, auth, make_user):
    """A view that leaves its session broken still gets our Vietnamese 500 page with our headers."""
    from sqlalchemy import text

    @app.get("/_broken")
    def _broken():
        try:
            db.session.execute(text("SELECT * FROM no_such_table"))
        except Exception:  # noqa: BLE001 - leave the session needing a rollback, as a lock error would
            db.session.connection().invalidate()
        db.session.execute(text("SELECT 1"))
        return "unreachable"

    app.testing = False  # let the error handler answer, as in production
    app.config["PROPAGATE_EXCEPTIONS"] = False
    auth.login(make_user(Role.reviewer))
    response = client.get("/_broken")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Lỗi 500" in page and "Lỗi máy chủ" in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
