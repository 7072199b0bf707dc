"""Print upload throughput and latency of essay submission as in production (gunicorn, SQLite WAL).

Creates 1,000 trainees (direct inserts, one precomputed password hash, API tokens written to the DB),
starts gunicorn on loopback, then each trainee PUTs a ~100 KB .docx from a pool of client threads.
Also prints extraction time per MB for .docx and .pdf (the PDF needs LibreOffice to be made).

Run: .venv/bin/python bench/submit.py [--trainees 1000] [--workers 3] [--threads 4] [--clients 16]
                                     [--new-connections]
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = (
    "học tập nghị quyết Đảng nhận thức sâu sắc vai trò lãnh đạo bản thân rèn luyện đạo đức "
    "lối sống trách nhiệm đảng viên nhân dân phát triển kinh tế xã hội hoà bình hợp tác "
    "đổi mới công tác cán bộ thực hiện nhiệm vụ chính trị địa phương chuyển đổi số cải cách"
).split()


def picture(size_kb: int = 70) -> bytes:
    """An incompressible PNG, as a photo pasted into an essay would be."""
    from PIL import Image

    side = int((size_kb * 1024 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def essay_docx(seed: int, image: bytes, paragraphs: int = 40) -> bytes:
    """About 100 KB: ~6 pages of Vietnamese text and one picture; different text for every seed."""
    import docx
    from docx.shared import Cm

    rng = random.Random(seed)
    document = docx.Document()
    document.add_heading(f"BÀI THU HOẠCH – học viên số {seed}", level=1)
    for _ in range(paragraphs):
        document.add_paragraph(" ".join(rng.choice(WORDS) for _ in range(70)) + ".")
    document.add_picture(io.BytesIO(image), width=Cm(8))
    document.add_paragraph("Kiến nghị, đề xuất: 1. Tăng cường tập huấn chuyển đổi số cho cán bộ cơ sở.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(workdir: Path, trainees: int) -> tuple[dict, int, int, list[str]]:
    """Migrate, then insert a unit, a course and the trainees with enrolments and API tokens."""
    import datetime as dt

    from sqlalchemy import insert, select

    from lms import create_app
    from lms.db import db
    from lms.migrate import upgrade
    from lms.models import ApiToken, Course, Enrollment, Role, Topic, Unit, User
    from lms.security import hash_password, token_digest

    env = {"DATABASE_URL": f"sqlite:///{workdir / 'thuhoach.db'}", "DATA_DIR": str(workdir / "data"),
           "SECRET_KEY": "bench-secret", "INDEXER_IN_PROCESS": False}
    app = create_app(dict(env))
    upgrade(app)
    tokens: list[str] = []
    with app.app_context():
        unit = Unit(code="31135", name="Phường Ninh Kiều", kind="phường", match_name="ninh kieu")
        now = dt.datetime.now(dt.timezone.utc)
        course = Course(name="Lớp bồi dưỡng (bench)", starts_on=now.date(), ends_on=now.date(),
                        essay_due_at=now + dt.timedelta(days=2), cutoff_at=now + dt.timedelta(days=4))
        course.topics = [Topic(position=1, title="Chuyên đề 1")]
        db.session.add_all([unit, course])
        db.session.flush()
        password_hash = hash_password("bench-password")  # one hash for all: argon2 is slow on purpose
        db.session.execute(insert(User), [
            {"username": f"bench.{i:05d}", "password_hash": password_hash, "role": Role.trainee,
             "full_name": f"Học viên {i}", "unit_id": unit.id, "is_active_account": True, "created_at": now}
            for i in range(trainees)])
        ids = db.session.scalars(select(User.id).where(User.username.like("bench.%")).order_by(User.id)).all()
        db.session.execute(insert(Enrollment), [
            {"course_id": course.id, "user_id": uid, "unit_id": unit.id, "created_at": now} for uid in ids])
        tokens = [secrets.token_urlsafe(32) for _ in ids]
        db.session.execute(insert(ApiToken), [
            {"user_id": uid, "token_sha256": token_digest(tok), "created_at": now} for uid, tok in zip(ids, tokens)])
        db.session.commit()
        course_id, topic_id = course.id, course.topics[0].id
    return env, course_id, topic_id, tokens


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    process_env = dict(os.environ, DATABASE_URL=env["DATABASE_URL"], THUHOACH_DATA_DIR=env["DATA_DIR"],
                       SECRET_KEY=env["SECRET_KEY"], THUHOACH_INDEXER_IN_PROCESS="0", PYTHONPATH=str(ROOT))
    # The production settings (lms/gunicorn_conf.py), with this run's workers and threads.
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:lms.gunicorn_conf",
           "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
           "--log-level", "warning", "lms:create_app()"]
    log = open(Path(env["DATA_DIR"]).parent / "gunicorn.log", "wb")  # noqa: SIM115 - lives with the server
    proc = subprocess.Popen(cmd, env=process_env, cwd=str(ROOT), stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\n\r\n")
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def run_uploads(port: int, path: str, tokens: list[str], files: list[bytes], clients: int,
                keep_alive: bool = True) -> tuple[list[float], float, int]:
    """Every trainee uploads once; `clients` uploads are in flight at any time.

    keep_alive=True is how gunicorn sees production behind nginx with upstream keep-alive (README):
    a few long-lived connections. False opens a connection per upload, as phones talking to
    gunicorn directly would; a gthread worker then accepts connections while its threads are
    busy, so the work spreads less evenly over the workers (measured: fewer uploads/s, longer tail).
    """
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    jobs = iter(range(len(tokens)))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(jobs, None)
            if i is None:
                break
            body, ctype = multipart(files[i], f"Bài thu hoạch {i}.docx")
            start = time.perf_counter()
            if not keep_alive:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("PUT", path, body=body, headers={"Authorization": f"Bearer {tokens[i]}",
                                                              "Content-Type": ctype})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            elapsed = time.perf_counter() - start
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, failures[0]


def extraction_per_mb(docx_bytes: bytes, workdir: Path) -> dict[str, float]:
    """Seconds per MB of input for .docx and .pdf (best of 5), through extract_text as the server calls it."""
    from essays.extraction import check_upload, extract_text

    def best(data: bytes, name: str) -> float:
        kind = check_upload(name, data, 20 * 1024 * 1024)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            extract_text(data, kind)
            times.append(time.perf_counter() - start)
        return min(times)

    figures = {"docx_s": best(docx_bytes, "bai.docx"), "docx_mb": len(docx_bytes) / 1e6}
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        source = workdir / "essay.docx"
        source.write_bytes(docx_bytes)
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{workdir}/profile",
                        "--convert-to", "pdf", "--outdir", str(workdir), str(source)],
                       check=True, capture_output=True, timeout=180)
        pdf = (workdir / "essay.pdf").read_bytes()
        figures.update(pdf_s=best(pdf, "bai.pdf"), pdf_mb=len(pdf) / 1e6)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--new-connections", action="store_true",
                        help="a new connection per upload instead of one kept-alive connection per client "
                             "(what gunicorn sees without nginx in front)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="thuhoach-bench-"))
    try:
        t0 = time.perf_counter()
        env, course_id, topic_id, tokens = prepare_database(workdir, args.trainees)
        image = picture()
        files = [essay_docx(i, image) for i in range(args.trainees)]
        print(f"set-up: {args.trainees} trainees and files in {time.perf_counter() - t0:.1f} s; "
              f"file size {statistics.mean(map(len, files)) / 1024:.0f} KB on average")
        port = free_port()
        server = start_gunicorn(env, port, args.workers, args.threads)
        try:
            latencies, wall, failures = run_uploads(
                port, f"/api/v1/courses/{course_id}/topics/{topic_id}/essay", tokens, files, args.clients,
                not args.new_connections)
        finally:
            server.terminate()
            server.wait(timeout=30)
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(f"gunicorn {args.workers} workers × {args.threads} threads, {args.clients} clients "
              f"({'a new connection per upload' if args.new_connections else 'keep-alive'}), {os.cpu_count()} CPUs")
        print(f"uploads: {len(latencies)} ok, {failures} failed in {wall:.1f} s → {len(latencies) / wall:.1f} uploads/s")
        print(f"latency: p50 {p(0.50):.0f} ms, p95 {p(0.95):.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        figures = extraction_per_mb(files[0], workdir)
        print(f"extraction .docx: {figures['docx_s'] * 1000:.0f} ms for {figures['docx_mb']:.2f} MB "
              f"→ {figures['docx_s'] / figures['docx_mb']:.2f} s/MB")
        if "pdf_s" in figures:
            print(f"extraction .pdf:  {figures['pdf_s'] * 1000:.0f} ms for {figures['pdf_mb']:.2f} MB "
                  f"→ {figures['pdf_s'] / figures['pdf_mb']:.2f} s/MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
