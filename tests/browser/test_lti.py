"""Moodle-like launches in Chromium: the auto-posting forms, the state cookie, our CSP and the
deep-linking answer posted back to the LMS, with the fake LMS of tests/lti on loopback."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lti"))
from fake_platform import INSTRUCTOR, FakePlatform, Person, new_key  # noqa: E402

from lms.db import db
from lms.lti.operations import register_platform
from lms.models import Role, Unit

pytestmark = pytest.mark.browser

LONG_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc gần dân, hiểu dân "
             "và phục vụ nhân dân; tôi sẽ vận dụng vào công tác ở đơn vị. ") * 5


@pytest.fixture
def moodle(live_server, client, make_unit):
    fake = FakePlatform(new_key()).start()
    unit = make_unit(code="TCT", name="Trường Chính trị thành phố", kind="khác")
    reg = fake.registration()
    register_platform(name="Moodle thử", issuer=reg["issuer"], client_id=reg["client_id"],
                      deployment_ids=[reg["deployment_id"]], key_set_url=reg["key_set_url"],
                      auth_login_url=reg["auth_login_url"], auth_token_url=reg["access_token_url"], unit_code=unit.code)
    db.session.commit()
    fake.tool_jwks = client.get("/lti/jwks.json").get_json()
    yield fake
    fake.stop()


def start_url(moodle: FakePlatform, live_server, person: Person, **spec) -> str:
    query = {"tool_login": f"{live_server.url}/lti/login", "person": json.dumps(person.__dict__),
             "spec": json.dumps(spec)}
    return f"{moodle.url}/start?{urlencode(query)}"


TEACHER = Person(sub="2", name="Trần Thị Giảng", email="giang@tct.vn", roles=[INSTRUCTOR])


def test_teacher_places_a_topic_and_a_learner_hands_in_from_moodle(page, live_server, moodle, make_course,
                                                                  make_user, make_unit):
    make_user(Role.officer, unit=_unit("TCT"), email="giang@tct.vn")
    course = make_course(topics=("Chuyên đề 1: Xây dựng Đảng", "Chuyên đề 2: Chuyển đổi số"))
    teacher = TEACHER
    page.goto(start_url(moodle, live_server, teacher, message_type="LtiDeepLinkingRequest"))
    expect(page.get_by_role("heading", name="Thêm bài thu hoạch vào khoá học")).to_be_visible()
    page.get_by_label("Chủ đề 2: Chuyên đề 2: Chuyển đổi số").check()
    page.get_by_role("button", name="Thêm vào khoá học").click()
    # Our page posts the signed answer to Moodle by itself (static script, CSP form-action allows it).
    expect(page.get_by_text("Đã nhận")).to_be_visible()
    (item,) = moodle.deep_link_items
    assert item["custom"] == {"topic_id": str(course.topics[1].id)}

    learner = Person(sub="31", name="Nguyễn Văn An", email="an@tct.vn")
    page.goto(start_url(moodle, live_server, learner, custom=item["custom"]))
    expect(page.get_by_text("Chuyển đổi số").first).to_be_visible()
    assert page.url == f"{live_server.url}/courses/{course.id}/topics/{course.topics[1].id}/submit"
    page.get_by_label("Hoặc dán nội dung bài thu hoạch vào đây").fill(LONG_TEXT)
    page.get_by_role("button", name="Nộp bài").click()
    expect(page.get_by_role("heading", name="Biên nhận bài thu hoạch")).to_be_visible()


def _unit(code: str) -> Unit:
    return db.session.query(Unit).filter_by(code=code).one()


@pytest.fixture
def https_tool(app):
    """The same app over HTTPS (a throw-away certificate) on localhost: Moodle needs the tool on HTTPS."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def browser_context_args() -> dict:
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh", "ignore_https_errors": True}


def test_content_selection_works_inside_moodles_cross_site_frame(app, page, live_server, https_tool, moodle,
                                                                  make_course, make_user):
    # The LMS page is on 127.0.0.1, the tool on localhost: another site, as Moodle and thuhoach are.
    app.config["SESSION_COOKIE_SECURE"] = True  # THUHOACH_HTTPS=1
    make_user(Role.officer, unit=_unit("TCT"), email="giang@tct.vn")
    course = make_course(topics=("Xây dựng Đảng", "Chuyển đổi số"))
    tool = https_tool
    query = {"tool_login": f"{tool}/lti/login", "person": json.dumps(TEACHER.__dict__),
             "spec": json.dumps({"message_type": "LtiDeepLinkingRequest"})}
    page.goto(f"{moodle.url}/frame?{urlencode(query)}")
    frame = page.frame_locator("iframe[name=contentitem-page-iframe]")
    expect(frame.get_by_role("heading", name="Thêm bài thu hoạch vào khoá học")).to_be_visible()
    frame.get_by_label("Chuyển đổi số").check()
    frame.get_by_role("button", name="Thêm vào khoá học").click()
    expect(frame.get_by_text("Đã nhận")).to_be_visible()
    (item,) = moodle.deep_link_items
    assert item["custom"] == {"topic_id": str(course.topics[1].id)}


def test_content_selection_in_a_frame_of_an_independent_platform(app, client, page, live_server, https_tool,
                                                                  make_course, make_user, make_unit):
    from tests.lti.independent_platform import INSTRUCTOR as TEACHER_ROLE, IndependentPlatform

    app.config["SESSION_COOKIE_SECURE"] = True
    unit = make_unit(code="LMS2", name="Điểm cầu LMS độc lập", kind="khác")
    make_user(Role.officer, unit=unit, email="giang@tct.vn")
    course = make_course(topics=("Xây dựng Đảng", "Chuyển đổi số"))
    lms = IndependentPlatform().start(https_tool)
    try:
        register_platform(name="LMS độc lập", unit_code=unit.code, **lms.registration_fields())
        db.session.commit()
        jwks = client.get("/lti/jwks.json").get_json()
        lms._registration = lambda base=lms._registration: base().set_tool_key_set(jwks)  # type: ignore
        teacher = {"sub": "u-2", "name": "Trần Thị Giảng", "email": "giang@tct.vn", "roles": [TEACHER_ROLE]}
        page.goto(lms.frame_url(teacher, deep_linking=True))
        frame = page.frame_locator("iframe[name=contentitem-page-iframe]")
        frame.get_by_label("Xây dựng Đảng").check()
        frame.get_by_role("button", name="Thêm vào khoá học").click()
        expect(frame.get_by_text("Đã nhận nội dung")).to_be_visible()
        (item,) = lms.deep_link_items
        assert item["custom"] == {"topic_id": str(course.topics[0].id)}
    finally:
        lms.stop()
