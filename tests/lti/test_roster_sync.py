"""Names and Roles and the Excel roster fill the same accounts: one person, one account."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from fake_platform import INSTRUCTOR, Person
from lms.db import db
from lms.lti.models import LtiContext, LtiUserLink
from lms.models import AuditEvent, Enrollment, Role, User
from lms.roster import import_roster
from tests.lms.roster_files import xlsx


@pytest.fixture
def context(registered, platform, make_course) -> LtiContext:
    """The LMS course linked to a thuhoach course, as a first launch or deep linking leaves it."""
    context = LtiContext(platform_id=registered.id, context_id=platform.context_id, course_id=make_course().id,
                         deployment_id=platform.deployment_id,
                         memberships_url=f"{platform.url}/nrps/{platform.context_id}")
    db.session.add(context)
    db.session.commit()
    return context


def accounts_with(email: str) -> int:
    return db.session.scalar(select(func.count(User.id)).where(User.email == email))


def link_of(sub: str) -> LtiUserLink | None:
    return db.session.scalar(select(LtiUserLink).where(LtiUserLink.subject == sub))


def sync(runner, context) -> str:
    result = runner.invoke(args=["lti", "sync", str(context.id)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result.output


def test_excel_first_then_lms_links_the_same_accounts(runner, platform, context, lti_unit, make_unit, make_user):
    other_unit = make_unit(code="31135", name="Phường Ninh Kiều")
    imported = import_roster(xlsx([[1, "Nguyễn Văn An", dt.date(1980, 3, 2), "Giảng viên", "TCT", "0901234567",
                                    "An@TCT.vn"]]), "ds.xlsx", context.course_id)
    db.session.commit()
    assert imported.created == 1
    # Same e-mail twice in the unit: nobody may be picked by it.
    make_user(unit=lti_unit, email="chung@tct.vn")
    make_user(unit=lti_unit, email="chung@tct.vn")
    # Same e-mail in another unit: not this LMS's person.
    elsewhere = make_user(unit=other_unit, email="cuong@tct.vn")
    platform.members = [
        Person(sub="31", name="Nguyễn Văn An", email="an@tct.vn"),
        Person(sub="32", name="Lê Thị Bình", email="binh@tct.vn"),
        Person(sub="2", name="Trần Thị Giảng", email="giang@tct.vn", roles=[INSTRUCTOR]),
        Person(sub="33", name="Phạm Chung", email="chung@tct.vn"),
        Person(sub="34", name="Võ Cường", email="cuong@tct.vn"),
        Person(sub="35", name="Đã Rời", email="roi@tct.vn", status="Inactive"),
    ]
    output = sync(runner, context)
    assert "Đồng bộ 6 thành viên: tạo mới 2 tài khoản, liên kết 1 tài khoản có sẵn, ghi danh mới 2" in output
    assert "2 tài khoản cùng email chung@tct.vn" in output
    # Paged by the platform two at a time: every page was fetched with one access token.
    assert platform.requests.count("POST /token") == 1 and platform.requests.count("GET /nrps/moodle-course-7") == 3

    an = link_of("31")
    assert (an.matched_by, an.user.full_name, an.user.birth_date) == ("email", "Nguyễn Văn An", dt.date(1980, 3, 2))
    assert accounts_with("an@tct.vn") == 1
    assert link_of("32").matched_by == "created" and link_of("32").user.unit_id == lti_unit.id
    assert link_of("33") is None and accounts_with("chung@tct.vn") == 2
    cuong = link_of("34")
    assert cuong.matched_by == "created" and cuong.user_id != elsewhere.id
    assert link_of("2") is None and accounts_with("giang@tct.vn") == 0
    assert link_of("35") is None
    enrolled = set(db.session.scalars(select(Enrollment.user_id).where(Enrollment.course_id == context.course_id)))
    assert enrolled == {an.user_id, link_of("32").user_id, cuong.user_id}
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "lti.user_linked")) == 3

    again = sync(runner, context)
    assert "tạo mới 0 tài khoản, liên kết 0 tài khoản có sẵn, ghi danh mới 0" in again


def test_lms_first_then_excel_updates_the_same_account(runner, platform, context, lti_unit):
    platform.members = [Person(sub="32", name="Lê Thị Bình", email="binh@tct.vn")]
    sync(runner, context)
    account = link_of("32").user
    result = import_roster(xlsx([[1, "Lê Thị Bình", dt.date(1985, 7, 9), "Chuyên viên", "TCT", "0907654321",
                                  "binh@tct.vn"]]), "ds.xlsx", context.course_id)
    db.session.commit()
    assert (result.created, result.updated) == (0, 1)
    assert accounts_with("binh@tct.vn") == 1
    db.session.expire_all()
    assert link_of("32").user_id == account.id
    assert (account.birth_date, account.phone, account.position) == (dt.date(1985, 7, 9), "0907654321", "Chuyên viên")


def test_a_username_from_the_lms_links_a_staff_account_in_the_unit(runner, platform, context, lti_unit, make_user):
    officer = make_user(Role.officer, unit=lti_unit, username="giang.tct")
    platform.members = [Person(sub="2", name="Trần Thị Giảng", username="giang.tct", roles=[INSTRUCTOR])]
    sync(runner, context)
    assert (link_of("2").user_id, link_of("2").matched_by) == (officer.id, "username")
    # Staff are linked, never enrolled as trainees.
    assert db.session.scalar(select(Enrollment).where(Enrollment.user_id == officer.id)) is None


def test_an_account_is_linked_to_one_lms_person_only(runner, platform, context, lti_unit, make_user):
    make_user(unit=lti_unit, username="an.tct", email="an@tct.vn")
    platform.members = [Person(sub="31", name="Nguyễn Văn An", username="an.tct"),
                        Person(sub="99", name="Kẻ Khác", email="an@tct.vn")]
    output = sync(runner, context)
    assert link_of("31").matched_by == "username"
    assert link_of("99") is None and "đã được liên kết với một người khác" in output


def test_a_platform_without_a_unit_matches_nobody(runner, platform, context, registered, make_user, lti_unit):
    registered.unit = None
    db.session.commit()
    make_user(unit=lti_unit, email="an@tct.vn")
    platform.members = [Person(sub="31", name="Nguyễn Văn An", email="an@tct.vn")]
    output = sync(runner, context)
    assert link_of("31") is None and "chưa được gán đơn vị" in output


def test_the_admin_syncs_and_sends_scores_from_the_page(auth, client, platform, context, make_user):
    from lms.lti.models import LtiResourceLink

    db.session.add(LtiResourceLink(context_id=context.id, resource_link_id="rl-1",
                                   topic_id=context.course.topics[0].id))
    context.lineitems_url = f"{platform.url}/lineitems/{platform.context_id}"
    context.ags_scopes = " ".join(["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                                   "https://purl.imsglobal.org/spec/lti-ags/scope/score"])
    db.session.commit()
    platform.members = [Person(sub="32", name="Lê Thị Bình", email="binh@tct.vn")]
    auth.login(make_user(Role.admin))
    synced = auth.post(f"/lti/contexts/{context.id}/sync", follow_redirects=True).get_data(as_text=True)
    assert "tạo mới 1 tài khoản" in synced
    sent = auth.post(f"/lti/contexts/{context.id}/scores", follow_redirects=True).get_data(as_text=True)
    assert "Đã gửi 1 điểm vào 1 cột điểm; lỗi 0." in sent
    assert [(s["userId"], s["gradingProgress"]) for s in platform.scores] == [("32", "NotReady")]


def test_a_learner_never_gets_a_staff_account_and_a_teacher_never_a_trainee_one(runner, platform, context, lti_unit,
                                                                              make_user):
    make_user(Role.officer, unit=lti_unit, email="canbo@tct.vn")
    make_user(Role.admin, unit=lti_unit, username="quantri")
    make_user(unit=lti_unit, email="hocvien@tct.vn")
    platform.members = [Person(sub="40", name="Học Viên Lạ", email="canbo@tct.vn"),
                        Person(sub="41", name="Quản Trị", username="quantri"),
                        Person(sub="42", name="Giảng Viên", email="hocvien@tct.vn", roles=[INSTRUCTOR])]
    output = sync(runner, context)
    assert link_of("40") is None and "là Cán bộ đơn vị, không thể liên kết với học viên" in output
    assert link_of("41") is None and "là Quản trị viên" in output
    assert link_of("42") is None and "là Học viên, không thể liên kết với giảng viên" in output
    assert accounts_with("canbo@tct.vn") == 1


@pytest.mark.parametrize("role", [Role.officer, Role.reviewer, Role.trainee])
@pytest.mark.parametrize("action", ["sync", "scores"])
def test_only_the_admin_calls_the_lms(auth, client, context, platform, lti_unit, make_user, role, action):
    auth.login(make_user(role, unit=lti_unit))
    assert auth.post(f"/lti/contexts/{context.id}/{action}").status_code == 403
    assert client.get("/lti/platforms").status_code == 403
    assert platform.requests == []
