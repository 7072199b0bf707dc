"""kill -9 of a web worker in the middle of an upload: nothing half-written, what was committed stays.

Runs the app for real under gunicorn (one sync worker, so we know which process holds the
upload) against the test's database and data folder.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.essays.essay_files import build_docx
from essays.models import Essay, EssayVersion, IndexOutbox
from lms.db import db
from lms.models import Role

ROOT = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def server(app_config):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=app_config["DATABASE_URL"], THUHOACH_DATA_DIR=app_config["DATA_DIR"],
               SECRET_KEY=app_config["SECRET_KEY"], THUHOACH_INDEXER_IN_PROCESS="0")
    log = open(Path(app_config["DATA_DIR"]).parent / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                             "--timeout", "120", "lms:create_app()"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/login")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    yield proc, port
    proc.terminate()
    proc.wait(30)
    log.close()


def _put(port: int, path: str, token: str, data: bytes, filename: str) -> tuple[int, dict]:
    body, ctype = _multipart(data, filename)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("PUT", path, body=body, headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _stored_files(data_dir: str) -> list[Path]:
    root = Path(data_dir) / "files"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_kill_9_during_upload_leaves_nothing_half_written(server, app_config, make_unit, make_user, make_course,
                                                          enroll, api_token):
    proc, port = server
    unit, course = make_unit(), make_course()
    topic = course.topics[0]
    first, second = make_user(Role.trainee, unit=unit), make_user(Role.trainee, unit=unit)
    for trainee in (first, second):
        enroll(trainee, course)
    tokens = {t.id: api_token(t)["Authorization"][7:] for t in (first, second)}
    db.session.commit()
    path = f"/api/v1/courses/{course.id}/topics/{topic.id}/essay"

    # Committed before the crash: must still be there afterwards.
    small = build_docx(["Bài thu hoạch đã nộp trước sự cố: kiến nghị đẩy mạnh chuyển đổi số ở phường, xã."])
    status, receipt = _put(port, path, tokens[first.id], small, "bai-1.docx")
    assert status == 200, receipt

    # A large upload: kill the worker (a) while the body is still arriving, (b) while it is being read.
    big = build_docx([f"Đoạn {i}: cải cách hành chính, xây dựng chính quyền hai cấp, chuyển đổi số. " * 8
                      for i in range(12000)])  # long enough that the kill lands mid-extraction
    body, ctype = _multipart(big, "bai-lon.docx")
    for stage in ("receiving", "extracting"):
        worker_pid = _children(proc.pid)[0]
        sock = socket.create_connection(("127.0.0.1", port))
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tokens[second.id]}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        if stage == "receiving":
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(0.5)
        else:
            sock.sendall(head + body)
            time.sleep(1.0)  # the worker is reading the file in its extraction child
        os.kill(worker_pid, signal.SIGKILL)
        sock.close()
        # gunicorn starts a new worker
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not _children(proc.pid) or _children(proc.pid) == [worker_pid]):
            time.sleep(0.2)

    db.session.commit()
    essays = {e.trainee_id: e for e in db.session.scalars(select(Essay))}
    versions = db.session.scalars(select(EssayVersion)).all()
    # What was committed before the crash is there, intact.
    assert essays[first.id].version_count == 1
    assert any(v.essay_id == essays[first.id].id and v.sha256 == receipt["sha256"] for v in versions)
    # The cut-off uploads left nothing half-written: the second trainee has either nothing (the
    # normal case: the worker died before its transaction) or complete versions, never a row
    # without its file, a number without its version, or a file without a version.
    if second.id in essays:
        cut = essays[second.id]
        numbers = sorted(v.number for v in versions if v.essay_id == cut.id)
        assert numbers == list(range(1, cut.version_count + 1)) and cut.current_version_id is not None
    assert db.session.scalar(select(func.count()).select_from(IndexOutbox)) == len(versions)
    files = {p.name for p in _stored_files(app_config["DATA_DIR"])}
    assert files == {v.sha256 for v in versions}, files
    db.session.commit()  # end the test's transaction: it holds SQLite's write lock
    # The restarted worker serves the trainee whose upload was cut off.
    status, again = _put(port, path, tokens[second.id], small, "bai-2.docx")
    expected_version = essays[second.id].version_count + 1 if second.id in essays else 1
    log = (Path(app_config["DATA_DIR"]).parent / "gunicorn.log").read_text()
    assert status == 200 and again["version"] == expected_version, log[-3000:]
