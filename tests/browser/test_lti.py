"""Moodle-like launches in Chromium: the auto-posting forms, the state cookie, our CSP and the
deep-linking answer posted back to the LMS, with the fake LMS of tests/lti on loopback."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lti"))
from fake_platform import INSTRUCTOR, FakePlatform, Person, new_key  # noqa: E402

from lms.db import db
from lms.lti.operations import register_platform

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


def test_teacher_places_a_topic_and_a_learner_hands_in_from_moodle(page, live_server, moodle, make_course):
    course = make_course(topics=("Chuyên đề 1: Xây dựng Đảng", "Chuyên đề 2: Chuyển đổi số"))
    teacher = Person(sub="2", name="Trần Thị Giảng", email="giang@tct.vn", roles=[INSTRUCTOR])
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
