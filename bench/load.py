"""Load test as on the night before the deadline: gunicorn (4 workers) + the worker process on loopback,
N trainees log in and upload a ~100 KB .docx each, twice, while a reviewer searches and the Board and a
ward officer download the report (.xlsx, .docx) and the ward's essays .zip again and again.

Prints uploads/s, p50/p95/p99 latency, errors, then checks that every essay and every version is in
the database and in the search index. Run for SQLite (default) and PostgreSQL:

    .venv/bin/python bench/load.py
    .venv/bin/python bench/load.py --db postgres      # starts a throw-away server with .ci/start-postgres
    .venv/bin/python bench/load.py --db postgres --servers 2 --indexing upload   # the country

With --servers N (PostgreSQL) N gunicorn app servers run behind Debian's nginx (tests/cluster.py)
with two worker processes, and a prober hands in a text essay through one server every second and
times how long until the other server's search finds it (upload to searchable), for the indexing
mode given (worker: the outbox; upload: in the upload's own transaction).
"""
from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster import Cluster  # noqa: E402
PASSWORD = "matkhau-tai-thu"
SENTENCES = [
    "Đẩy mạnh chuyển đổi số trong cải cách hành chính ở phường, xã.",
    "Xây dựng chính quyền địa phương hai cấp tinh gọn, hiệu lực, hiệu quả.",
    "Nâng cao chất lượng đội ngũ cán bộ, công chức cấp xã đáp ứng yêu cầu nhiệm vụ mới.",
    "Phát triển kinh tế – xã hội gắn với bảo đảm quốc phòng – an ninh ở địa bàn cơ sở.",
    "Kiến nghị: tăng cường bồi dưỡng kỹ năng số cho cán bộ và người dân.",
]


def make_docx(marker: str, picture: bytes) -> bytes:
    """A realistic ~100 KB essay: ~2,800 words of Vietnamese and one pasted photo (as bench/submit.py)."""
    import random

    from docx import Document
    from docx.shared import Cm

    rng = random.Random(marker)
    doc = Document()
    doc.add_heading(f"BÀI THU HOẠCH {marker}", level=1)
    for _ in range(40):
        doc.add_paragraph(" ".join(rng.choice(SENTENCES) for _ in range(5)) + f" Mã {rng.randrange(10**9)}.")
    doc.add_picture(io.BytesIO(picture), width=Cm(8))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def make_picture(size_kb: int = 70) -> bytes:
    """An incompressible PNG, as a photo pasted into an essay would be."""
    from PIL import Image

    side = int((size_kb * 1024 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def multipart(field: str, filename: str, data: bytes, mimetype: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {mimetype}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def setup_database(env: dict[str, str], trainees: int) -> dict:
    """Migrate, then create a unit, a course, the trainees and a reviewer token in bulk."""
    os.environ.update(env)
    from sqlalchemy import insert

    from lms import create_app
    from lms.db import db, utcnow
    from lms.migrate import upgrade
    from lms.models import Enrollment, Role, User
    from lms.security import create_api_token, hash_password
    from lms.units import load_province

    app = create_app({})
    upgrade(app)
    with app.app_context():
        load_province("92")
        db.session.commit()
        from lms.courses import create_course
        import datetime as dt

        now = utcnow()
        course = create_course("Lớp tải thử", starts_on=now.date(), ends_on=now.date(),
                               essay_due_at=now + dt.timedelta(days=1), cutoff_at=now + dt.timedelta(days=2),
                               topics=["Chủ đề 1", "Chủ đề 2", "Chủ đề 3"])
        from lms.models import Unit
        from sqlalchemy import select

        units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
        pw = hash_password(PASSWORD)
        rows = [{"username": f"tai{i:05d}", "password_hash": pw, "role": Role.trainee, "full_name": f"Học viên {i}",
                 "unit_id": units[i % len(units)].id, "created_at": now} for i in range(trainees)]
        db.session.execute(insert(User), rows)
        users = db.session.execute(select(User.id, User.unit_id).where(User.username.like("tai%"))).all()
        db.session.execute(insert(Enrollment), [{"course_id": course.id, "user_id": u.id, "unit_id": u.unit_id,
                                                 "created_at": now} for u in users])
        prober = User(username="thamdo", password_hash=pw, role=Role.trainee, full_name="Người thăm dò",
                      unit_id=units[0].id)
        db.session.add(prober)
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, user_id=prober.id, unit_id=units[0].id, created_at=now))
        reviewer = User(username="bantochuc", password_hash=pw, role=Role.reviewer, full_name="Ban Tổ chức")
        officer = User(username="canbo", password_hash=pw, role=Role.officer, full_name="Cán bộ đơn vị",
                       unit_id=units[0].id)
        db.session.add_all([reviewer, officer])
        db.session.flush()
        token = create_api_token(reviewer)
        db.session.commit()
        info = {"course_id": course.id, "topic_id": course.topics[0].id, "token": token, "unit_code": units[0].code}
    db.engine(app).dispose()
    return info


class Trainee:
    """One browser-like session: log in through the form, then use the API with the CSRF header."""

    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def login(self) -> None:
        page = self.opener.open(f"{self.base}/login", timeout=60).read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": self.username, "password": PASSWORD, "csrf_token": token}).encode()
        self.opener.open(urllib.request.Request(f"{self.base}/login", data=body), timeout=60).read()
        page = self.opener.open(f"{self.base}/password", timeout=60).read().decode()
        self.csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def upload(self, course_id: int, topic_id: int, data: bytes, name: str) -> tuple[float, int, dict]:
        body, ctype = multipart("file", name, data,
                                "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        req = urllib.request.Request(f"{self.base}/api/v1/courses/{course_id}/topics/{topic_id}/essay", data=body,
                                     method="PUT", headers={"Content-Type": ctype, "X-CSRFToken": self.csrf})
        start = time.perf_counter()
        try:
            with self.opener.open(req, timeout=120) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, {"error": exc.read().decode(errors="replace")[:300]}
        return time.perf_counter() - start, status, payload


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000 if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--trainees", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--servers", type=int, default=1,
                        help="app servers; 2 or more run behind nginx with two workers (PostgreSQL only)")
    parser.add_argument("--indexing", choices=["worker", "upload"], default="worker",
                        help="PostgreSQL search: index in the worker (outbox) or in the upload's transaction")
    parser.add_argument("--pg-url", help="an existing PostgreSQL server's URL; its database "
                        "<name>_load is dropped and created (default: .ci/start-postgres, thuhoach_load)")
    args = parser.parse_args()
    if args.servers > 1 and args.db != "postgres":
        parser.error("--servers 2 or more needs --db postgres")

    tmp = Path(tempfile.mkdtemp(prefix="thuhoach-load-"))
    if args.db == "postgres":
        base_url = args.pg_url or subprocess.run([str(ROOT / ".ci/start-postgres")], check=True, capture_output=True,
                                                 text=True).stdout.strip().splitlines()[-1]
        admin_url = base_url.rsplit("/", 1)[0] + "/postgres"
        name = (base_url.rsplit("/", 1)[1] if args.pg_url else "thuhoach") + "_load"
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        database_url = base_url.rsplit("/", 1)[0] + "/" + name
    else:
        database_url = f"sqlite:///{tmp / 'load.db'}"
    env = dict(os.environ, DATABASE_URL=database_url, THUHOACH_DATA_DIR=str(tmp / "data"),
               SECRET_KEY="load-test-secret", THUHOACH_INDEXER_IN_PROCESS="0",
               THUHOACH_SEARCH_RATE="100000/1",  # the reviewer here searches 5 times a second on purpose
               THUHOACH_SEARCH_INDEXING=args.indexing)
    print(f"database: {args.db}; data: {tmp}; {args.servers} app server(s); indexing: {args.indexing}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    info = setup_database(env, args.trainees)
    print(f"set-up: {args.trainees} trainees in {time.perf_counter() - t0:.1f} s")

    gunicorn_args = ["-w", str(args.workers), "--timeout", "120"]
    cluster = Cluster(env, tmp, servers=args.servers, workers=2 if args.servers > 1 else 1,
                      server_args=gunicorn_args)
    try:
        cluster.__enter__()
        base = cluster.base if args.servers > 1 else f"http://127.0.0.1:{cluster.ports[0]}"
        servers = [f"http://127.0.0.1:{p}" for p in cluster.ports]
        photo = make_picture()
        docs = [make_docx(f"HV{i:05d}", photo) for i in range(min(args.trainees, 20))]
        print(f".docx size: {len(docs[0]) / 1024:.0f} KB")
        latencies: list[float] = []
        errors: list[str] = []
        search_latencies: list[float] = []
        stop = threading.Event()

        def reviewer() -> None:
            queries = ["chuyen doi so", "cải cách hành chính", "can bo", "\"quốc phòng\"", "kinh te OR an ninh"]
            i = 0
            while not stop.is_set():
                req = urllib.request.Request(f"{base}/api/v1/search?q={urllib.parse.quote(queries[i % 5])}",
                                             headers={"Authorization": f"Bearer {info['token']}"})
                start = time.perf_counter()
                try:
                    urllib.request.urlopen(req, timeout=60).read()
                    search_latencies.append(time.perf_counter() - start)
                except urllib.error.HTTPError as exc:
                    errors.append(f"search: {exc.code} ")
                except OSError as exc:  # a timeout is an error to report, not a reason to stop searching
                    errors.append(f"search: {exc}")
                i += 1
                time.sleep(0.2)

        def trainee(i: int) -> None:
            t = Trainee(base, f"tai{i:05d}")
            try:
                t.login()
            except Exception as exc:  # counted, the run goes on
                errors.append(f"login {t.username}: {exc}")
                return
            for attempt in (1, 2):
                data = docs[i % len(docs)] + b""
                elapsed, status, payload = t.upload(info["course_id"], info["topic_id"], data,
                                                    f"Bài thu hoạch {t.username} lần {attempt}.docx")
                if status == 200 and payload.get("version") == attempt:
                    latencies.append(elapsed)
                else:
                    errors.append(f"upload {t.username}#{attempt}: {status} {payload}")

        download_latencies: dict[str, list[float]] = {"report.xlsx": [], "report.docx": [], "essays.zip": []}

        def downloader() -> None:
            # Reads that write an audit row: they must never fail because uploads are writing.
            officer = Trainee(base, "canbo")
            officer.login()
            urls = {"report.xlsx": f"{base}/api/v1/courses/{info['course_id']}/report.xlsx",
                    "report.docx": f"{base}/api/v1/courses/{info['course_id']}/report.docx",
                    "essays.zip": f"{base}/completeness/{info['course_id']}/units/{info['unit_code']}/essays.zip"}
            i = 0
            while not stop.is_set():
                name = list(urls)[i % 3]
                start = time.perf_counter()
                try:
                    if name == "essays.zip":
                        officer.opener.open(urls[name], timeout=120).read()
                    else:
                        urllib.request.urlopen(urllib.request.Request(
                            urls[name], headers={"Authorization": f"Bearer {info['token']}"}), timeout=120).read()
                    download_latencies[name].append(time.perf_counter() - start)
                except urllib.error.HTTPError as exc:
                    errors.append(f"download {name}: {exc.code} ")
                except OSError as exc:
                    errors.append(f"download {name}: {exc}")
                i += 1

        probes: list[tuple[float, float]] = []  # (upload seconds, upload to searchable on another server)

        def prober() -> None:
            # Hands in through the first server, searches through the last (the same one if alone).
            me = Trainee(servers[0], "thamdo")
            me.login()
            path = f"{servers[0]}/api/v1/courses/{info['course_id']}/topics/{info['topic_id']}/essay"
            k = 0
            while not stop.is_set():
                marker = f"thamdo{k}x{uuid.uuid4().hex[:6]}"
                body = json.dumps({"text": f"Bài thăm dò {marker}. " + " ".join(SENTENCES) * 6}).encode()
                req = urllib.request.Request(path, data=body, method="PUT", headers={
                    "Content-Type": "application/json", "X-CSRFToken": me.csrf})
                start = time.perf_counter()
                try:
                    with me.opener.open(req, timeout=120) as response:
                        essay_id = json.loads(response.read())["essay_id"]
                except (urllib.error.HTTPError, OSError) as exc:
                    errors.append(f"probe upload: {getattr(exc, 'code', exc)} ")
                    return
                stored = time.perf_counter()
                search = urllib.request.Request(f"{servers[-1]}/api/v1/search?q={marker}",
                                                headers={"Authorization": f"Bearer {info['token']}"})
                while time.perf_counter() - stored < 60:
                    hits = json.loads(urllib.request.urlopen(search, timeout=60).read())["hits"]
                    if [h["essay_id"] for h in hits] == [essay_id]:
                        probes.append((stored - start, time.perf_counter() - stored))
                        break
                    time.sleep(0.02)
                else:
                    errors.append(f"probe {marker}: not searchable after 60 s")
                k += 1
                stop.wait(1.0)

        probe_thread = threading.Thread(target=prober, daemon=True)
        probe_thread.start()
        search_thread = threading.Thread(target=reviewer, daemon=True)
        search_thread.start()
        download_thread = threading.Thread(target=downloader, daemon=True)
        download_thread.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(trainee, range(args.trainees)))
        wall = time.perf_counter() - start
        stop.set()
        search_thread.join(10)
        probe_thread.join(70)
        download_thread.join(120)

        n = len(latencies)
        five_xx = sum(1 for e in errors if re.search(r": 5\d\d ", e))
        print(f"uploads: {n} ok in {wall:.1f} s = {n / wall:.1f} uploads/s (logins included in the wall time)")
        print(f"upload latency ms: p50 {pct(latencies, 50):.0f}  p95 {pct(latencies, 95):.0f}  p99 {pct(latencies, 99):.0f}")
        print(f"search latency ms during load: p50 {pct(search_latencies, 50):.0f}  p95 {pct(search_latencies, 95):.0f}"
              f" ({len(search_latencies)} queries)")
        for name, values in download_latencies.items():
            print(f"{name} during the burst: {len(values)} downloads, p50 {pct(values, 50):.0f} ms, "
                  f"p95 {pct(values, 95):.0f} ms")
        if probes:
            fresh = [p[1] for p in probes]
            print(f"upload to searchable on {'another' if len(servers) > 1 else 'the same'} server "
                  f"({args.indexing}): {len(probes)} probes, p50 {pct(fresh, 50):.0f} ms, p95 {pct(fresh, 95):.0f} ms, "
                  f"max {max(fresh) * 1000:.0f} ms; the probes' own upload p50 {pct([p[0] for p in probes], 50):.0f} ms")
        print(f"errors: {len(errors)} (5xx: {five_xx}); load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for e in errors[:10]:
            print("  ", e)

        # Everything committed must be in the database and, once the worker catches up, in the index.
        os.environ.update(env)
        from sqlalchemy import func, select

        from essays.indexing import get_index
        from essays.models import Essay, EssayVersion, IndexOutbox
        from lms import create_app
        from lms.db import db

        app = create_app({})
        with app.app_context():
            deadline = time.monotonic() + 120
            while db.session.scalar(select(func.count()).select_from(IndexOutbox)) and time.monotonic() < deadline:
                db.session.rollback()
                time.sleep(0.5)
            essays = db.session.scalar(select(func.count()).select_from(Essay))
            versions = db.session.execute(select(EssayVersion.essay_id, EssayVersion.number)).all()
            by_essay: dict[int, set[int]] = {}
            for essay_id, number in versions:
                by_essay.setdefault(essay_id, set()).add(number)
            complete = sum(1 for numbers in by_essay.values() if numbers == {1, 2})
            indexed = get_index(app).all_ids()
            ids = {str(i) for i in db.session.scalars(select(Essay.id))}
            print(f"database: {essays} essays, {len(versions)} versions, {complete} with versions 1 and 2; "
                  f"index: {len(indexed)} essays, missing {len(ids - indexed)}")
            lost = args.trainees - complete
            print(f"RESULT lost={lost} errors={len(errors)} 5xx={five_xx}")
            return 0 if lost == 0 and five_xx == 0 else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    import urllib.parse

    sys.exit(main())
