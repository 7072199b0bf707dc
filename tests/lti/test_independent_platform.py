"""The main LTI flows against an independent platform implementation (`lti1p3platform`, see
independent_platform.py): deep linking, resource launch and hand-in, Names and Roles, scores with
the LMS briefly down, and an LMS clock running fast."""
from __future__ import annotations

import datetime as dt

import pytest
import requests
from sqlalchemy import select

from lms.db import db, utcnow
from lms.jobs import run_one_job
from lms.lti.models import LtiContext, LtiUserLink
from lms.lti.operations import register_platform, send_scores
from lms.models import Role, User
from tests.conftest import csrf_token_from
from tests.lti.fake_platform import parse_form
from tests.lti.independent_platform import INSTRUCTOR, IndependentPlatform

TEACHER = {"sub": "u-2", "name": "Trần Thị Giảng", "email": "giang@tct.vn", "roles": [INSTRUCTOR]}
LEARNER = {"sub": "u-31", "name": "Nguyễn Văn An", "email": "an@tct.vn"}
TEXT = "Tôi nhận thức sâu sắc hơn trách nhiệm của cán bộ cơ sở trong việc gần dân, hiểu dân, phục vụ nhân dân. " * 6


@pytest.fixture
def lms(app, client, lti_unit):
    platform = IndependentPlatform().start("http://localhost")
    register_platform(name="LMS độc lập", unit_code=lti_unit.code, **platform.registration_fields())
    db.session.commit()
    # The platform fetches the tool's keys from its JWKS URL; the tool runs in the test client here.
    platform._registration = lambda base=platform._registration: base().set_tool_key_set(  # type: ignore
        client.get("/lti/jwks.json").get_json())
    yield platform
    platform.stop()


def launch(client, platform: IndependentPlatform, user: dict, **message):
    """Browser's part: tool login → platform's authorisation → the auto-posted launch."""
    start = client.get(platform.login_url(user, **message).removeprefix("http://localhost"))
    assert start.status_code == 302, start.get_data(as_text=True)
    answer = requests.get(start.headers["Location"], timeout=10)
    assert answer.status_code == 200, answer.text
    return client.post("/lti/launch", data=parse_form(answer.text))


def test_deep_linking_then_a_learner_hands_in_and_the_score_survives_an_outage(
        app, client, lms, make_course, make_user, lti_unit):
    make_user(Role.officer, unit=lti_unit, email="giang@tct.vn")
    course = make_course()
    topic = course.topics[2]
    picker = launch(client, lms, TEACHER, deep_linking=True)
    assert picker.status_code == 200, picker.get_data(as_text=True)
    state = parse_form(picker.get_data(as_text=True))["state"]
    chosen = app.test_client().post("/lti/deep-link", data={"topic_id": str(topic.id), "state": state})
    assert chosen.status_code == 200
    back = requests.post(lms.url + "/deep_link_return", data=parse_form(chosen.get_data(as_text=True)), timeout=10)
    assert back.status_code == 200, back.text
    (item,) = lms.deep_link_items
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"topic_id": str(topic.id)}

    landed = launch(client, lms, LEARNER, custom=item["custom"])
    assert landed.headers["Location"] == f"/courses/{course.id}/topics/{topic.id}/submit"
    page = client.get(landed.headers["Location"]).get_data(as_text=True)
    lms.down = True
    assert client.post(landed.headers["Location"], data={"text": TEXT, "csrf_token": csrf_token_from(page)}
                       ).status_code == 302
    assert run_one_job(app) == 1 and lms.scores == []
    lms.down = False
    sent = send_scores(now=utcnow() + dt.timedelta(minutes=1))
    db.session.commit()
    assert sent.sent == 1
    (score,) = lms.scores
    assert (score["userId"], score["scoreGiven"], score["gradingProgress"]) == ("u-31", 1.0, "FullyGraded")
    assert lms.lineitems[0]["resourceId"] == f"thuhoach-topic-{topic.id}"


def test_names_and_roles_fill_the_roster(runner, client, lms, make_course, lti_unit):
    course = make_course()
    launch(client, lms, LEARNER, custom={"topic_id": str(course.topics[0].id)})
    lms.members = [{"user_id": "u-31", "name": "Nguyễn Văn An", "email": "an@tct.vn", "roles": ["Learner"],
                    "status": "Active"},
                   {"user_id": "u-32", "name": "Lê Thị Bình", "email": "binh@tct.vn", "roles": ["Learner"],
                    "status": "Active"}]
    context = db.session.scalar(select(LtiContext))
    result = runner.invoke(args=["lti", "sync", str(context.id)])
    assert result.exit_code == 0, result.output
    assert "tạo mới 1 tài khoản" in result.output
    subjects = set(db.session.scalars(select(LtiUserLink.subject)))
    assert subjects == {"u-31", "u-32"}
    assert db.session.scalar(select(User.unit_id).join(LtiUserLink).where(LtiUserLink.subject == "u-32")) == lti_unit.id


@pytest.mark.parametrize("offset, accepted", [(30, True), (-30, True), (120, False)])
def test_an_lms_clock_off_by_seconds_is_allowed_beyond_a_minute_refused(client, lms, make_course, offset, accepted):
    course = make_course()
    lms.clock_offset = offset
    response = launch(client, lms, LEARNER, custom={"topic_id": str(course.topics[0].id)})
    assert (response.status_code == 302) is accepted, response.get_data(as_text=True)
