"""End to end against the fake LMS: OIDC login, launch, deep linking, grades; and every refusal."""
from __future__ import annotations

import logging
import re
import time

import pytest
import requests
from sqlalchemy import select

from fake_platform import INSTRUCTOR, Person, login_params, parse_form, query_of
from lms.db import db
from lms.jobs import run_one_job
from lms.lti.models import LtiContext, LtiNonce, LtiResourceLink, LtiUserLink
from lms.models import AuditEvent, Enrollment, Role, User
from tests.conftest import csrf_token_from

LONG_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức sâu sắc hơn về vai trò của công tác xây dựng Đảng, "
             "về trách nhiệm của cán bộ cơ sở trong việc gần dân, hiểu dân và phục vụ nhân dân. ") * 6

TEACHER = Person(sub="moodle-2", name="Trần Thị Giảng", email="giang@tct.vn", username="giang.tct",
                 roles=[INSTRUCTOR])
LEARNER_AN = Person(sub="moodle-31", name="Nguyễn Văn An", email="an@tct.vn", username="an.moodle")


def test_the_tool_publishes_one_stable_key(client, app):
    first = client.get("/lti/jwks.json").get_json()
    assert [k["kty"] for k in first["keys"]] == ["RSA"] and first["keys"][0]["alg"] == "RS256"
    assert "d" not in first["keys"][0], "the private part must never be published"
    app.extensions.pop("thuhoach.lti_keys")  # as after a restart: read back from the data folder
    assert client.get("/lti/jwks.json").get_json() == first


def test_login_initiation_redirects_to_the_platform_with_state_and_a_signed_nonce(client, registered, platform):
    response = client.get("/lti/login", query_string=login_params(platform, LEARNER_AN))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(platform.url + "/auth?")
    query = query_of(response.headers["Location"])
    assert query["redirect_uri"] == "http://localhost/lti/launch"
    assert query["client_id"] == platform.client_id and query["login_hint"] == LEARNER_AN.sub
    assert query["nonce"].count(".") == 2
    assert any(c.startswith("lti1p3-" + query["state"]) for c in response.headers.getlist("Set-Cookie"))


def _picker_state(page: str) -> str:
    return re.search(r'name="state" value="([^"]+)"', page).group(1)


def test_a_teacher_places_a_topic_by_deep_linking(lms, client, app, platform, make_course, make_user, lti_unit):
    make_user(Role.officer, unit=lti_unit, username="giang.tct")
    course = make_course()
    picker = lms.launch(TEACHER, message_type="LtiDeepLinkingRequest")
    assert picker.status_code == 200, picker.get_data(as_text=True)
    page = picker.get_data(as_text=True)
    assert course.topics[1].title in page
    # Shown inside Moodle's "Select content" frame: the LMS may frame it, nobody else.
    assert f"frame-ancestors 'self' {platform.url}" in picker.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in picker.headers
    # Inside a cross-site frame our cookies are not sent: the choice works from another browser.
    frame = app.test_client()
    answer = frame.post("/lti/deep-link", data={"topic_id": str(course.topics[1].id), "state": _picker_state(page)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "form-action 'self' " + platform.url in answer.headers["Content-Security-Policy"]
    returned = requests.post(platform.url + "/deep_link_return", data=parse_form(answer.get_data(as_text=True)),
                             timeout=10)
    assert returned.status_code == 200, returned.text
    (item,) = platform.deep_link_items
    assert item["type"] == "ltiResourceLink" and item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"topic_id": str(course.topics[1].id)}
    assert item["lineItem"]["scoreMaximum"] == 1
    assert item["lineItem"]["label"] == f"Bài thu hoạch: {course.topics[1].title}", "as when a score makes it"
    assert platform.deep_link_data == "dl-data-1"
    context = db.session.scalar(select(LtiContext))
    assert context.course_id == course.id and context.memberships_url.endswith("/nrps/moodle-course-7")
    # Every other page still refuses frames.
    assert client.get("/login").headers["X-Frame-Options"] == "SAMEORIGIN"


def _pick(lms, app, platform, topic_ids, dl_settings=None, action=None):
    picker = lms.launch(TEACHER, message_type="LtiDeepLinkingRequest", dl_settings=dl_settings or {})
    data = {"topic_id": [str(i) for i in topic_ids], "state": _picker_state(picker.get_data(as_text=True))}
    if action:
        data["action"] = action
    answer = app.test_client().post("/lti/deep-link", data=data)
    if answer.status_code == 200:
        requests.post(platform.url + "/deep_link_return", data=parse_form(answer.get_data(as_text=True)), timeout=10)
    return answer


def test_deep_linking_follows_the_platforms_settings(lms, app, platform, make_course, make_user, lti_unit):
    make_user(Role.officer, unit=lti_unit, username="giang.tct")
    course = make_course()
    ids = [t.id for t in course.topics[:2]]
    single = _pick(lms, app, platform, ids, {"accept_multiple": False})
    assert single.status_code == 400 and "chỉ nhận một hoạt động" in single.get_data(as_text=True)
    assert _pick(lms, app, platform, ids[:1], {"accept_lineitem": False}).status_code == 200
    (item,) = platform.deep_link_items
    assert "lineItem" not in item
    assert _pick(lms, app, platform, [], action="cancel").status_code == 200
    assert platform.deep_link_items == []
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "lti.deep_link_cancelled"))


def test_deep_linking_refusals_say_why(lms, app, platform, make_course, make_user, lti_unit):
    make_course()
    no_account = lms.launch(TEACHER, message_type="LtiDeepLinkingRequest")
    assert no_account.status_code == 400 and "tài khoản cán bộ" in no_account.get_data(as_text=True)
    assert f"frame-ancestors 'self' {platform.url}" in no_account.headers["Content-Security-Policy"]
    make_user(Role.officer, unit=lti_unit, username="giang.tct")
    wrong_type = lms.launch(TEACHER, message_type="LtiDeepLinkingRequest", dl_settings={"accept_types": ["file"]})
    assert wrong_type.status_code == 400 and "ltiResourceLink" in wrong_type.get_data(as_text=True)
    forged = app.test_client().post("/lti/deep-link", data={"topic_id": "1", "state": "forged"})
    assert forged.status_code == 400 and "hết hạn" in forged.get_data(as_text=True)


def test_a_learner_lands_on_the_submission_page_hands_in_and_moodle_gets_1(lms, client, app, platform,
                                                                        make_course, lti_unit):
    course = make_course()
    topic = course.topics[0]
    response = lms.launch(LEARNER_AN, custom={"topic_id": str(topic.id)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/courses/{course.id}/topics/{topic.id}/submit"
    user = db.session.scalar(select(User).join(LtiUserLink, LtiUserLink.user_id == User.id)
                             .where(LtiUserLink.subject == LEARNER_AN.sub))
    assert user.role == Role.trainee and user.unit_id == lti_unit.id and user.full_name == "Nguyễn Văn An"
    assert db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id)).course_id == course.id

    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    handed = client.post(response.headers["Location"], data={"text": LONG_TEXT,
                                                             "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert handed.status_code == 302, handed.get_data(as_text=True)
    receipt = client.get(handed.headers["Location"])
    assert "Đã nhận bài thu hoạch" in receipt.get_data(as_text=True)

    # The new version queued a job; the worker sends the score through AGS (line item made on demand).
    assert run_one_job(app) == 1
    assert [s["scoreGiven"] for s in platform.scores] == [1.0]
    assert platform.scores[0]["userId"] == LEARNER_AN.sub and platform.scores[0]["scoreMaximum"] == 1
    assert platform.lineitems[0]["resourceId"] == f"thuhoach-topic-{topic.id}"
    db.session.expire_all()
    assert db.session.scalar(select(LtiResourceLink)).lineitem_url == platform.lineitems[0]["id"]


def test_scores_for_every_linked_trainee_from_the_cli(lms, runner, platform, make_course):
    course = make_course()
    lms.launch(LEARNER_AN, custom={"topic_id": str(course.topics[0].id)})
    lms.launch(Person(sub="moodle-32", name="Lê Thị Bình"), custom={"topic_id": str(course.topics[0].id)})
    context = db.session.scalar(select(LtiContext))
    result = runner.invoke(args=["lti", "scores", str(context.id)])
    assert result.exit_code == 0, result.output
    # Before the cut-off "not handed in yet" is not a final zero (AGS 2.0: NotReady, no scoreGiven).
    assert sorted((s["userId"], s["gradingProgress"], "scoreGiven" in s) for s in platform.scores) == [
        ("moodle-31", "NotReady", False), ("moodle-32", "NotReady", False)]
    assert "Đã gửi 2 điểm" in result.output


def test_an_instructor_with_a_staff_account_lands_on_the_completeness_page(lms, make_user, make_course, lti_unit):
    officer = make_user(Role.officer, unit=lti_unit, username="giang.tct")
    course = make_course()
    response = lms.launch(TEACHER, custom={"topic_id": str(course.topics[0].id)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/completeness/{course.id}/units/{lti_unit.code}"
    link = db.session.scalar(select(LtiUserLink))
    assert (link.user_id, link.matched_by) == (officer.id, "username")


def test_an_instructor_without_an_account_gets_none(lms, make_course):
    course = make_course()
    response = lms.launch(TEACHER, custom={"topic_id": str(course.topics[0].id)})
    assert response.status_code == 400
    assert "chưa được liên kết" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == TEACHER.email)) is None


# --- refusals ------------------------------------------------------------------------------------

def _tampered(lms, platform, stranger_key, case: str) -> dict[str, str]:
    """A launch form whose id_token is wrong in exactly one way."""
    import jwt

    form = lms.id_token_form(LEARNER_AN, custom={"topic_id": "1"})
    claims = jwt.decode(form["id_token"], options={"verify_signature": False})
    key = None
    now = int(time.time())
    if case == "bad_signature":
        key = stranger_key
    elif case == "wrong_audience":
        claims["aud"] = "another-tool"
    elif case == "expired":
        claims["iat"], claims["exp"] = now - 200, now - 100
    elif case == "stale_iat":
        claims["iat"], claims["exp"] = now - 3600, now + 3600
    elif case == "unknown_issuer":
        claims["iss"] = "https://moodle.invalid"
    elif case == "unknown_deployment":
        claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "dep-999"
    elif case == "forged_nonce":
        claims["nonce"] = "1700000000.abc.0123456789abcdef0123456789abcdef"
    form["id_token"] = platform.sign(claims, key=key)
    return form


@pytest.mark.parametrize("case, reason, words", [
    ("bad_signature", "bad_signature", "Chữ ký của yêu cầu không hợp lệ"),
    ("wrong_audience", "wrong_audience", "không dành cho công cụ này"),
    ("expired", "expired", "đã hết hạn"),
    ("stale_iat", "expired", "đã hết hạn"),
    ("unknown_issuer", "unknown_issuer", "chưa được đăng ký"),
    ("unknown_deployment", "unknown_deployment", "deployment"),
    ("forged_nonce", "bad_nonce", "không do thuhoach khởi tạo"),
])
def test_a_bad_launch_is_refused_with_a_reason(lms, client, platform, stranger_key, caplog, make_course,
                                               case, reason, words):
    make_course()
    form = _tampered(lms, platform, stranger_key, case)
    with caplog.at_level(logging.WARNING, logger="lms.lti.views"):
        response = client.post("/lti/launch", data=form)
    assert response.status_code == 400
    assert words in response.get_data(as_text=True)
    assert any(f"launch refused ({reason})" in r.getMessage() for r in caplog.records)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "lti.launch_refused")).one()
    assert event.target == reason
    assert db.session.scalar(select(LtiUserLink)) is None and db.session.scalar(select(LtiNonce)) is None


def test_a_replayed_launch_is_refused(lms, client, make_course, caplog):
    course = make_course()
    form = lms.id_token_form(LEARNER_AN, custom={"topic_id": str(course.topics[0].id)})
    assert client.post("/lti/launch", data=form).status_code == 302
    with caplog.at_level(logging.WARNING, logger="lms.lti.views"):
        again = client.post("/lti/launch", data=form)
    assert again.status_code == 400 and "đã được sử dụng" in again.get_data(as_text=True)
    assert any("launch refused (replayed)" in r.getMessage() for r in caplog.records)
    assert db.session.query(LtiNonce).count() == 1


def test_a_launch_without_the_state_cookie_is_refused(lms, app, make_course):
    course = make_course()
    form = lms.id_token_form(LEARNER_AN, custom={"topic_id": str(course.topics[0].id)})
    other_browser = app.test_client()
    response = other_browser.post("/lti/launch", data=form)
    assert response.status_code == 400 and "Phiên đăng nhập không khớp" in response.get_data(as_text=True)


def test_login_from_an_unknown_platform_is_refused(client, registered, platform):
    params = login_params(platform, LEARNER_AN)
    params["iss"] = "https://moodle.invalid"
    response = client.post("/lti/login", data=params)
    assert response.status_code == 400 and "chưa được đăng ký" in response.get_data(as_text=True)


def test_platforms_are_listed_by_the_cli_and_shown_to_the_admin(runner, registered, auth, client, make_user):
    listed = runner.invoke(args=["lti", "platform", "list"]).output
    assert registered.issuer in listed and "TCT" in listed
    admin = make_user(Role.admin)
    auth.login(admin)
    page = client.get("/lti/platforms").get_data(as_text=True)
    assert "http://localhost/lti/login" in page and "http://localhost/lti/jwks.json" in page
    assert registered.issuer in page


def test_the_admin_registers_a_platform_in_the_page(auth, client, make_user):
    auth.login(make_user(Role.admin))
    response = auth.post("/lti/platforms", data={
        "name": "Moodle Sở", "issuer": "https://moodle.example.vn", "client_id": "abc",
        "deployment_ids": "1", "key_set_url": "https://moodle.example.vn/mod/lti/certs.php",
        "auth_login_url": "https://moodle.example.vn/mod/lti/auth.php",
        "auth_token_url": "https://moodle.example.vn/mod/lti/token.php", "unit_code": ""})
    assert response.status_code == 302
    assert "https://moodle.example.vn" in client.get("/lti/platforms").get_data(as_text=True)


def test_behind_an_https_proxy_the_state_cookie_survives_a_cross_site_post(app, client, registered, platform):
    app.config["SESSION_COOKIE_SECURE"] = True  # THUHOACH_HTTPS=1
    response = client.post("/lti/login", data=login_params(platform, LEARNER_AN))
    assert query_of(response.headers["Location"])["redirect_uri"] == "https://localhost/lti/launch"
    (state_cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lti1p3-state-")]
    assert "Secure" in state_cookie and "SameSite=None" in state_cookie


# --- clocks and login messages ----------------------------------------------------------------------

@pytest.mark.parametrize("skew", [-30, 2, 30])
def test_an_lms_clock_a_little_off_either_way_is_allowed(lms, client, make_course, skew):
    import jwt

    course = make_course()
    form = lms.id_token_form(LEARNER_AN, custom={"topic_id": str(course.topics[0].id)})
    claims = jwt.decode(form["id_token"], options={"verify_signature": False})
    now = int(time.time()) + skew
    claims["iat"], claims["exp"] = now, now + 60
    form["id_token"] = lms.platform.sign(claims)
    assert client.post("/lti/launch", data=form).status_code == 302


def test_an_lms_clock_far_ahead_is_refused_as_not_yet_valid(lms, client, platform, make_course, caplog):
    import jwt

    course = make_course()
    form = lms.id_token_form(LEARNER_AN, custom={"topic_id": str(course.topics[0].id)})
    claims = jwt.decode(form["id_token"], options={"verify_signature": False})
    now = int(time.time()) + 120
    claims["iat"], claims["exp"] = now, now + 60
    form["id_token"] = platform.sign(claims)
    with caplog.at_level(logging.WARNING, logger="lms.lti.views"):
        response = client.post("/lti/launch", data=form)
    assert response.status_code == 400 and "chạy nhanh hơn" in response.get_data(as_text=True)
    assert any("launch refused (not_yet_valid)" in r.getMessage() for r in caplog.records)
    assert db.session.scalar(select(LtiUserLink)) is None


@pytest.mark.parametrize("change, words", [
    ({"iss": ""}, "không gửi mã nền tảng (iss)"),
    ({"login_hint": ""}, "login_hint"),
    ({"client_id": "another-client"}, "Mã client của LMS chưa được đăng ký"),
    ({"iss": "https://moodle.invalid"}, "chưa được đăng ký với thuhoach. Vui lòng"),
])
def test_each_bad_login_initiation_says_what_is_wrong(client, registered, platform, change, words):
    params = {**login_params(platform, LEARNER_AN), **change}
    response = client.post("/lti/login", data={k: v for k, v in params.items() if v})
    assert response.status_code == 400 and words in response.get_data(as_text=True)
