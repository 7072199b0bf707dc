"""Print how long the Board's completeness overview takes: the function, the page, the .xlsx, the API.

Two sizes: Cần Thơ (103 units, 5,000 trainees, 15,000 essays) and the whole country (3,300 units,
150,000 trainees, ~360,000 essays). Rows go in with Core executemany into a temporary SQLite
database made by the real migrations.

The whole course's figures are cached until the course's completeness_revision changes, so each is
timed twice: "cold", the first request after a change (the revision is raised before each call, as
any hand-in would, outside the timing), and "warm", the same request again with nothing changed.
One unit's table is always counted afresh.

Run: .venv/bin/python bench/completeness.py [--only small|large]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, update  # noqa: E402

from lms import create_app  # noqa: E402
from lms.db import db, read_only  # noqa: E402
from lms.migrate import upgrade  # noqa: E402
from lms.models import Course, Enrollment, Role, Topic, Unit, User  # noqa: E402
from lms.security import hash_password  # noqa: E402
from essays.models import Essay, EssayVersion  # noqa: E402
from review.completeness.figures import completeness  # noqa: E402
from review.completeness.models import Attendance, CompletenessRevision  # noqa: E402

UTC = dt.timezone.utc
GIVEN = ["An", "Bình", "Cường", "Dung", "Đức", "Giang", "Hà", "Hải", "Khoa", "Lan", "Long", "My", "Nam", "Oanh"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ"]


def chunks(rows: list[dict], size: int = 20_000):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def populate(app, n_units: int, n_trainees: int, share: float) -> tuple[int, int]:
    """Insert units, trainees, one course with 3 topics, enrolments, essays, versions, attendance."""
    rng = random.Random(7)
    password = hash_password("bench-password")
    due = dt.datetime(2026, 5, 26, 10, 0, tzinfo=UTC)
    with db.engine(app).begin() as conn:
        conn.execute(insert(Unit), [{"id": i + 1, "code": f"U{i + 1:05d}", "name": f"Phường {rng.choice(GIVEN)} {i + 1}",
                                     "kind": "phường", "match_name": f"u{i + 1}"} for i in range(n_units)])
        conn.execute(insert(User), [{"id": 1, "username": "bantochuc", "password_hash": password, "role": Role.reviewer,
                                     "full_name": "Ban Tổ chức", "is_active_account": True}])
        conn.execute(insert(Course), [{"id": 1, "name": "Lớp bồi dưỡng", "starts_on": dt.date(2026, 5, 23),
                                       "ends_on": dt.date(2026, 5, 24), "essay_due_at": due,
                                       "cutoff_at": due + dt.timedelta(days=2)}])
        conn.execute(insert(Topic), [{"id": t, "course_id": 1, "position": t, "title": f"Chủ đề {t}"} for t in (1, 2, 3)])
        users, enrollments, attendance, essays, versions = [], [], [], [], []
        for i in range(n_trainees):
            uid, unit = i + 2, i % n_units + 1
            users.append({"id": uid, "username": f"hv{uid}", "password_hash": password, "role": Role.trainee,
                          "full_name": f"{rng.choice(FAMILY)} Văn {rng.choice(GIVEN)}", "unit_id": unit,
                          "is_active_account": True})
            enrollments.append({"id": i + 1, "course_id": 1, "user_id": uid, "unit_id": unit})
            for d, day in enumerate((dt.date(2026, 5, 23), dt.date(2026, 5, 24))):
                if rng.random() < 0.9:
                    attendance.append({"enrollment_id": i + 1, "day": day, "is_present": True,
                                       "marked_at": due})
            for topic in (1, 2, 3):
                if rng.random() < share:
                    essay_id = len(essays) + 1
                    at = due + dt.timedelta(hours=rng.uniform(-40, 6))
                    essays.append({"id": essay_id, "course_id": 1, "topic_id": topic, "trainee_id": uid,
                                   "unit_id": unit, "version_count": 1, "current_version_id": essay_id,
                                   "created_at": at})
                    versions.append({"id": essay_id, "essay_id": essay_id, "number": 1, "text": "Bài thu hoạch.",
                                     "chars": 14, "sha256": "0" * 64, "size": 14, "kind": "paste",
                                     "submitted_at": at, "is_late": at > due, "under_extension": False,
                                     "uploaded_by_id": uid})
        for model, rows in ((User, users), (Enrollment, enrollments), (Attendance, attendance), (Essay, essays),
                            (EssayVersion, versions)):
            for part in chunks(rows):
                conn.execute(insert(model), part)
    return n_trainees, len(essays)


def timed(fn, repeat: int = 5, before=None) -> tuple[float, float]:
    """Median and best wall time of `repeat` calls, in seconds; `before` runs untimed before each."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def changed(app) -> None:
    """What any change does to the cached figures: the course's revision goes up (figures unchanged here)."""
    with db.engine(app).begin() as conn:
        conn.execute(update(CompletenessRevision).where(CompletenessRevision.course_id == 1)
                     .values(revision=CompletenessRevision.revision + 1))


def run(label: str, n_units: int, n_trainees: int, share: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.db", "SECRET_KEY": "bench",
                          "DATA_DIR": f"{folder}/data", "INDEXER_IN_PROCESS": False, "WTF_CSRF_ENABLED": False})
        upgrade(app)
        start = time.perf_counter()
        with app.app_context():
            trainees, essays = populate(app, n_units, n_trainees, share)
        load = time.perf_counter() - start
        client = app.test_client()
        client.post("/login", data={"username": "bantochuc", "password": "bench-password"})
        print(f"{label}: {n_units} units, {trainees} trainees, {essays} essays (loaded in {load:.1f} s); "
              f"load average {os.getloadavg()[0]:.1f}")

        def show(what: str, fn, repeat: int = 5, cached: bool = True) -> None:
            cold = timed(fn, repeat, before=lambda: changed(app))
            line = f"  {what:24s} {'cold' if cached else 'each'} median {cold[0] * 1000:6.0f} ms  best {cold[1] * 1000:6.0f} ms"
            if cached:
                fn()
                warm = timed(fn, repeat)
                line += f" | warm median {warm[0] * 1000:5.0f} ms  best {warm[1] * 1000:5.0f} ms"
            print(line, flush=True)

        with app.app_context(), read_only():  # as in a GET request: no write lock
            course = db.session.get(Course, 1)

            def function() -> None:
                db.session.rollback()  # a new transaction, as a new request would have
                completeness(course)

            show("completeness()", function)
            db.session.rollback()
        show("overview page (GET)", lambda: _ok(client.get("/completeness/1")))
        show("overview .xlsx (GET)", lambda: _ok(client.get("/completeness/1/overview.xlsx")), repeat=3)
        show("API (GET)", lambda: _ok(client.get("/api/v1/courses/1/completeness")))
        show("one unit's table (GET)", lambda: _ok(client.get("/completeness/1/units/U00001")), cached=False)
        print(f"  load average at the end {os.getloadavg()[0]:.1f}")


def _ok(response) -> None:
    assert response.status_code == 200, response.status_code


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("small", "large"))
    args = parser.parse_args()
    if args.only in (None, "small"):
        run("Cần Thơ", 103, 5_000, 1.0)
    if args.only in (None, "large"):
        run("Cả nước", 3_300, 150_000, 0.8)
