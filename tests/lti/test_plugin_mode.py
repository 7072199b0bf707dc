"""thuhoach mounted inside another Flask application: the trainee flow under the prefix."""
from __future__ import annotations

import datetime as dt

from flask import Flask, session

import lms
from lms.db import db
from lms.models import Role
from tests.conftest import PASSWORD, csrf_token_from
from tests.factories import enroll, make_course, make_unit, make_user

LONG_TEXT = ("Bài thu hoạch: qua lớp học, tôi hiểu rõ hơn trách nhiệm nêu gương của cán bộ, đảng viên và "
             "phương pháp vận động quần chúng ở cơ sở. ") * 6


def test_the_trainee_flow_runs_inside_a_bare_host_app(app_config):
    host = Flask("host")
    host.config["SECRET_KEY"] = "host-secret"

    @host.route("/")
    def home():
        session["host"] = "kept"
        return "Trang của ứng dụng chủ"

    thuhoach = lms.init_app(host, url_prefix="/thuhoach", config=app_config)
    assert host.extensions["thuhoach"] is thuhoach
    with thuhoach.app_context():
        unit = make_unit(code="U1", name="Phường Một")
        user = make_user(Role.trainee, unit=unit, username="hv1", full_name="Học Viên Một")
        course = make_course(name="Lớp thử", topics=("Chủ đề một",), due_in=dt.timedelta(days=1),
                             cutoff_in=dt.timedelta(days=2))
        enroll(user, course)
        submit_url = f"/thuhoach/courses/{course.id}/topics/{course.topics[0].id}/submit"

    browser = host.test_client()
    assert browser.get("/").get_data(as_text=True) == "Trang của ứng dụng chủ"

    # Not logged in: sent to thuhoach's login page, under the prefix, and back afterwards.
    bounce = browser.get(submit_url)
    assert bounce.status_code == 302 and bounce.headers["Location"].startswith("/thuhoach/login?next=")
    login_page = browser.get(bounce.headers["Location"])
    assert 'href="/thuhoach/static/' in login_page.get_data(as_text=True)
    logged_in = browser.post(bounce.headers["Location"], data={
        "username": "hv1", "password": PASSWORD, "csrf_token": csrf_token_from(login_page.get_data(as_text=True))})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == submit_url

    page = browser.get(submit_url)
    assert page.status_code == 200
    handed = browser.post(submit_url, data={"text": LONG_TEXT,
                                            "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert handed.status_code == 302 and handed.headers["Location"].startswith("/thuhoach/essays/")
    receipt = browser.get(handed.headers["Location"])
    assert receipt.status_code == 200 and "Đã nhận bài thu hoạch" in receipt.get_data(as_text=True)

    # Each app keeps its own session cookie: the host's is untouched by thuhoach's login.
    assert browser.get_cookie("thuhoach_session", path="/thuhoach") is not None
    assert browser.get_cookie("session") is not None
    with thuhoach.app_context():
        db.session.rollback()
    db.engine(thuhoach).dispose()
