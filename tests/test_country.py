"""The country: two gunicorn app servers behind Debian's nginx (round-robin), one PostgreSQL, one
files folder, two worker processes. Everything goes through nginx as a browser or API client would.

PostgreSQL pass only (TEST_DATABASE_URL), and only where nginx is installed (the Makefile's
test-postgres installs it).
"""
from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from essays.models import IndexOutbox
from lms.db import db
from lms.models import Job, Role
from tests.cluster import NGINX, Cluster

PG_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL or not Path(NGINX).exists(),
                                reason="PostgreSQL pass with Debian's nginx only")
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "matkhau-123"
TOO_LARGE = "Dung lượng tối đa cho phép là 20 MB"


@pytest.fixture
def country(app, tmp_path, make_unit, make_user, make_course, enroll):
    """Two app servers, nginx, two workers; yields the nginx base URL and the people."""
    course = make_course()
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    trainees = [make_user(Role.trainee, unit=unit, username=f"hv{i}", full_name=f"Nguyễn Văn Học {i}")
                for i in range(6)]
    for trainee in trainees:
        enroll(trainee, course)
    reviewer = make_user(Role.reviewer, username="bantochuc")
    from review.tagging import operations as tagging

    theme = tagging.create_theme("Chuyển đổi số")
    # Jobs of a kind no handler knows: each is claimed, attempted once and failed, by one worker.
    db.session.add_all(Job(kind="khong-co-bo-xu-ly", params="{}", status="queued") for _ in range(12))
    db.session.commit()

    files = tmp_path / "files"
    env = dict(os.environ, DATABASE_URL=PG_URL, SECRET_KEY="khoa-chung-cua-cac-may", THUHOACH_DATA_DIR=str(files),
               THUHOACH_INDEXER_IN_PROCESS="0", THUHOACH_SEARCH="postgres", WEB_CONCURRENCY="1",
               THUHOACH_THREADS="4")
    with Cluster(env, tmp_path, servers=2, workers=2) as cluster:
        yield {"base": cluster.base, "ports": cluster.ports, "course": course, "trainees": trainees,
               "reviewer": reviewer, "logs": cluster.worker_logs, "files": files, "unit": unit, "theme": theme}


class Browser:
    """A cookie-keeping client that records which app server answered (nginx's X-Upstream)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.upstreams: Counter[str] = Counter()

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            response = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as err:
            response = err
        body = response.read().decode("utf-8", "replace")
        self.upstreams[response.headers.get("X-Upstream", "")] += 1
        return response.status, body

    def form(self, path: str, fields: dict, token_from: str | None = None):
        _, page = self.request("GET", token_from or path)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        return self.request("POST", path, data, {"Content-Type": "application/x-www-form-urlencoded"})

    def login(self, username: str, password: str = PASSWORD):
        return self.form("/login", {"username": username, "password": password})

    def csrf(self) -> str:
        _, page = self.request("GET", "/password")
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def api(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        status, text_ = self.request(method, path, data, {"Content-Type": "application/json",
                                                          "X-CSRFToken": self.csrf()})
        return status, json.loads(text_) if text_.startswith("{") else text_


def _upload_too_large(host_port: str, path: str, cookie: str, token: str) -> tuple[int, str]:
    """PUT a 21 MB multipart body in pieces, as a phone would; the answer must arrive, not a reset."""
    boundary = "ranh-gioi"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="lon.docx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = 21 * 1024 * 1024
    conn = http.client.HTTPConnection(host_port, timeout=60)
    conn.putrequest("PUT", path)
    for name, value in (("Content-Type", f"multipart/form-data; boundary={boundary}"), ("Cookie", cookie),
                        ("X-CSRFToken", token), ("Content-Length", str(len(head) + size + len(tail)))):
        conn.putheader(name, value)
    conn.endheaders()
    try:
        conn.send(head)
        chunk = b"\0" * (1024 * 1024)
        for _ in range(21):
            conn.send(chunk)
        conn.send(tail)
    except (BrokenPipeError, ConnectionResetError):
        pass  # nginx may answer before the body ends: what matters is that the answer can be read
    try:
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_two_app_servers_behind_nginx_share_everything(app, country):
    base, course = country["base"], country["course"]
    topic = course.topics[0]
    essay_path = f"/api/v1/courses/{course.id}/topics/{topic.id}/essay"

    # Every trainee logs in and hands in through nginx; requests land on both servers.
    essays = {}
    for i, trainee in enumerate(country["trainees"]):
        browser = Browser(base)
        status, _ = browser.login(trainee.username)
        assert status == 200
        status, body = browser.api("PUT", essay_path, {"text": f"Bài {i}: chuyển đổi số ở phường thứ {i}, "
                                                                 f"kiến nghị mã số cmx{i}. " * 20})
        assert status in (200, 201), body
        essays[f"cmx{i}"] = body["essay_id"]
        assert set(browser.upstreams) == {f"127.0.0.1:{p}" for p in country["ports"]}  # session held across

    # The Board searches through nginx until both workers have indexed everything, then every
    # essay is found from both servers.
    board = Browser(base)
    assert board.login("bantochuc")[0] == 200
    deadline = time.monotonic() + 30
    while True:
        db.session.commit()
        if db.session.scalar(select(func.count()).select_from(IndexOutbox)) == 0:
            break
        assert time.monotonic() < deadline, "the workers did not drain the outbox"
        time.sleep(0.1)
    for port in country["ports"]:
        direct = Browser(f"http://127.0.0.1:{port}")
        direct.jar = board.jar
        direct.opener = board.opener
        direct.base = f"http://127.0.0.1:{port}"
        for marker, essay_id in essays.items():
            status, body = direct.request("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": marker}))
            assert status == 200 and [h["essay_id"] for h in json.loads(body)["hits"]] == [essay_id], (port, marker)

    # Tag through nginx; the tag's theme reaches the index (through the outbox) and every server.
    theme_id = country["theme"].id
    status, body = board.api("POST", f"/api/v1/essays/{essays['cmx0']}/tags",
                             {"start": 0, "end": 5, "kind": "recommendation", "themes": [theme_id]})
    assert status == 201, body
    deadline = time.monotonic() + 30
    query = "/api/v1/search?" + urllib.parse.urlencode({"q": "chuyển đổi số", "theme": theme_id})
    while [h["essay_id"] for h in json.loads(board.request("GET", query)[1])["hits"]] != [essays["cmx0"]]:
        assert time.monotonic() < deadline, "the tag's theme did not reach the index"
        time.sleep(0.1)

    # CSRF holds on every server: a form without its token is refused.
    for _ in range(2):
        status, _ = board.request("POST", "/logout", b"", {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 400

    # Login throttling counts failures from both servers together.
    thief = Browser(base)
    for _ in range(6):
        thief.login("hv1", "sai-mat-khau")
    status, page = thief.login("hv1")
    assert status == 429 and "Đăng nhập sai quá nhiều lần" in page
    assert len(thief.upstreams) == 2

    # 21 MB: the Vietnamese 413 through gunicorn and through nginx, read in full.
    cookie = "; ".join(f"{c.name}={c.value}" for c in board.jar)
    token = board.csrf()
    for host_port in [f"127.0.0.1:{country['ports'][0]}", base.removeprefix("http://")]:
        status, body = _upload_too_large(host_port, essay_path, cookie, token)
        assert status == 413, (host_port, body[:300])
        error = json.loads(body)["error"]
        assert error["code"] == "too_large" and TOO_LARGE in error["message"], host_port

    # No job and no outbox row was done twice by the two workers.
    deadline = time.monotonic() + 30
    while True:
        db.session.commit()
        jobs = db.session.execute(select(Job.status, Job.attempts).where(Job.kind == "khong-co-bo-xu-ly")).all()
        outbox = db.session.scalar(select(func.count()).select_from(IndexOutbox))
        if all(s == "failed" for s, _ in jobs) and outbox == 0:
            break
        assert time.monotonic() < deadline, "the workers did not finish"
        time.sleep(0.1)
    assert [a for _, a in jobs] == [1] * 12
    done = [int(i) for log in country["logs"]
            for line in log.read_text().splitlines() if "indexed outbox rows" in line
            for i in line.rsplit(" ", 1)[1].split(",")]
    assert len(done) == len(set(done)) >= 7  # 6 uploads and the tag
    assert db.session.scalar(text("SELECT count(*) FROM search.essays")) == 6
