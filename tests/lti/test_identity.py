"""One person, one account, whichever came first: a roster sync before the first launch, the Excel
roster without e-mails, the launch that names the username; and the admin's page of links."""
from __future__ import annotations

from sqlalchemy import select

from tests.lti.fake_platform import Person
from lms.db import db
from lms.lti.models import LtiContext, LtiUserLink
from lms.models import AuditEvent, Enrollment, User
from tests.lti.test_roster_sync import context, link_of, sync  # noqa: F401 (fixture)

LAUNCHED_AN = Person(sub="31", name="Nguyễn Văn An", username="an.excel")
SYNCED_AN = Person(sub="31", name="Nguyễn Văn An")  # Moodle's NRPS: no username, and no e-mail here


def _excel_trainee(make_user, enroll, unit, course):
    user = make_user(unit=unit, username="an.excel", email=None, full_name="Nguyễn Văn An")
    enroll(user, course)
    return user


def test_a_launch_naming_the_excel_account_merges_the_account_a_sync_made(
        app, lms, runner, platform, context, lti_unit, make_user, enroll):
    excel = _excel_trainee(make_user, enroll, lti_unit, context.course)
    platform.members = [SYNCED_AN]
    sync(runner, context)
    made = link_of("31").user
    assert made.id != excel.id and link_of("31").matched_by == "created"

    response = lms.launch(LAUNCHED_AN, custom={"topic_id": str(context.course.topics[0].id)})
    assert response.status_code == 302
    db.session.expire_all()
    link = link_of("31")
    assert (link.user_id, link.matched_by) == (excel.id, "merged")
    assert not db.session.get(User, made.id).is_active
    assert db.session.scalars(select(Enrollment.user_id).where(Enrollment.course_id == context.course_id)).all() == [
        excel.id]
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "lti.accounts_merged"))


def test_an_lms_made_account_with_an_essay_is_never_merged_away(
        app, lms, runner, client, platform, context, lti_unit, make_user, enroll):
    _excel_trainee(make_user, enroll, lti_unit, context.course)
    platform.members = [SYNCED_AN]
    sync(runner, context)
    made = link_of("31").user
    topic = context.course.topics[0]
    # The LMS-made account hands in first (a launch without the username).
    landing = lms.launch(SYNCED_AN, custom={"topic_id": str(topic.id)}).headers["Location"]
    from tests.conftest import csrf_token_from

    page = client.get(landing).get_data(as_text=True)
    text = "Tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc gần dân, hiểu dân. " * 8
    assert client.post(landing, data={"text": text, "csrf_token": csrf_token_from(page)}).status_code == 302

    assert lms.launch(LAUNCHED_AN, custom={"topic_id": str(topic.id)}).status_code == 302
    db.session.expire_all()
    assert link_of("31").user_id == made.id and db.session.get(User, made.id).is_active
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "lti.merge_needed"))


def test_sync_matches_by_sourcedid_when_the_setting_is_on(app, runner, platform, context, lti_unit, make_user):
    excel = make_user(unit=lti_unit, username="hv.0042", email=None)
    platform.members = [Person(sub="42", name="Trần Văn Tư", sourcedid="hv.0042")]
    app.config["LTI_MATCH_SOURCEDID"] = False
    sync(runner, context)
    assert link_of("42").matched_by == "created"
    db.session.delete(link_of("42"))
    db.session.commit()
    app.config["LTI_MATCH_SOURCEDID"] = True
    sync(runner, context)
    assert (link_of("42").user_id, link_of("42").matched_by) == (excel.id, "sourcedid")


def test_the_admin_sees_the_links_and_moves_one(auth, client, runner, platform, context, lti_unit, make_user):
    from lms.models import Role

    excel = make_user(unit=lti_unit, username="an.excel", email=None)
    platform.members = [SYNCED_AN]
    sync(runner, context)
    link_id = link_of("31").id
    auth.login(make_user(Role.officer, unit=lti_unit))
    assert auth.post(f"/lti/links/{link_id}/move", data={"username": "an.excel"}).status_code == 403
    assert client.get("/lti/links").status_code == 403
    auth.post("/logout")
    auth.login(make_user(Role.admin))
    page = client.get("/lti/links").get_data(as_text=True)
    assert "tạo mới" in page and platform.url in page
    refused = auth.post(f"/lti/links/{link_id}/move", data={"username": "khong.co"}, follow_redirects=True)
    assert "Không có tài khoản “khong.co”" in refused.get_data(as_text=True)
    moved = auth.post(f"/lti/links/{link_id}/move", data={"username": "an.excel"}, follow_redirects=True)
    assert "Đã chuyển liên kết sang tài khoản an.excel" in moved.get_data(as_text=True)
    db.session.expire_all()
    assert (link_of("31").user_id, link_of("31").matched_by) == (excel.id, "admin")
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "lti.link_moved"))
    assert db.session.scalar(select(LtiContext.id)) is not None
    assert isinstance(db.session.get(LtiUserLink, link_id), LtiUserLink)
