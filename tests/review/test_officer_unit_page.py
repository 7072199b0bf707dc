"""The officer's one unit page: reminder button (once an hour), missing list with phone/position/as-of,
reset-password and on-behalf links, extension by picking the person."""
from __future__ import annotations

import io

import openpyxl
from sqlalchemy import func, select

from lms.db import db
from lms.models import Role
from review.completeness.models import Notice


def _ward(make_unit, make_user, make_course, enroll):
    unit, other = make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31147")
    course = make_course(topics=("Chuyên đề 1: Điểm mới", "Chủ đề 2"))
    officer = make_user(Role.officer, unit=unit)
    trainee = make_user(Role.trainee, unit=unit, full_name="Nguyễn Thị Ánh Tuyết", phone="0912 345 678",
                        position="Phó Chủ tịch UBND phường")
    stranger = make_user(Role.trainee, unit=other)
    enroll(trainee, course)
    enroll(stranger, course)
    return course, unit, officer, trainee, stranger


def _notices(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notice).where(Notice.user_id == user.id))


def test_the_reminder_button_notifies_the_units_missing_trainees_at_most_once_an_hour(
        client, auth, make_unit, make_user, make_course, enroll):
    course, unit, officer, trainee, stranger = _ward(make_unit, make_user, make_course, enroll)
    auth.login(officer)
    page = client.get(f"/completeness/{course.id}/units/{unit.code}").get_data(as_text=True)
    assert "Nhắc học viên chưa nộp" in page
    url = f"/completeness/{course.id}/units/{unit.code}/remind"
    first = auth.post(url, follow_redirects=True).get_data(as_text=True)
    assert "Đã nhắc" in first
    assert _notices(trainee) == 1 and _notices(stranger) == 0
    text = db.session.scalar(select(Notice.text).where(Notice.user_id == trainee.id))
    assert "Chủ đề 1: Điểm mới" in text and "Chuyên đề" not in text and "/essays" in text
    again = auth.post(url, follow_redirects=True).get_data(as_text=True)
    assert "mỗi giờ chỉ nhắc một lần" in again and _notices(trainee) == 1


def test_another_units_officer_cannot_remind(client, auth, make_unit, make_user, make_course, enroll):
    course, unit, officer, trainee, stranger = _ward(make_unit, make_user, make_course, enroll)
    auth.login(make_user(Role.officer, unit=stranger.unit))
    assert auth.post(f"/completeness/{course.id}/units/{unit.code}/remind").status_code in (403, 404)
    assert _notices(trainee) == 0


def test_the_missing_list_has_phone_position_and_as_of(client, auth, make_unit, make_user, make_course, enroll):
    course, unit, officer, trainee, _ = _ward(make_unit, make_user, make_course, enroll)
    auth.login(officer)
    data = client.get(f"/completeness/{course.id}/units/{unit.code}/missing.xlsx?as_of=27/05/2026 08:00").data
    book = openpyxl.load_workbook(io.BytesIO(data))
    rows = [[c.value for c in r] for r in book.worksheets[0].iter_rows()]
    assert rows[0][:4] == ["Họ và tên", "Tên đăng nhập", "Chức vụ", "Điện thoại"]
    assert "tính đến 27/05/2026 08:00" in rows[1][0]
    mine = [r for r in rows if r[0] == "Nguyễn Thị Ánh Tuyết"]
    assert mine and mine[0][2] == "Phó Chủ tịch UBND phường" and mine[0][3] == "0912 345 678"
    assert mine[0][5] == "Chủ đề 1: Điểm mới"
    info = dict((r[0].value, r[1].value) for r in book.worksheets[1].iter_rows(min_row=2))
    assert info["Tính đến"] == "27/05/2026 08:00"


def test_the_unit_page_links_reset_password_and_hand_in_on_behalf(client, auth, make_unit, make_user, make_course,
                                                                   enroll):
    course, unit, officer, trainee, _ = _ward(make_unit, make_user, make_course, enroll)
    auth.login(officer)
    page = client.get(f"/completeness/{course.id}/units/{unit.code}").get_data(as_text=True)
    assert f"/unit/trainees/{trainee.id}/password" in page
    assert f"/courses/{course.id}/topics/{course.topics[0].id}/trainees/{trainee.id}/submit" in page
    nav = page.split('<nav class="nav"')[1].split("</nav>")[0]
    assert "Tình hình nộp bài" in nav and "/unit-essays" not in nav and "/extensions" not in nav


def test_the_compiled_docx_is_a4_with_a_page_per_trainee(client, auth, make_unit, make_user, make_course, enroll):
    from docx import Document

    from essays.operations import submit_essay

    course, unit, officer, trainee, _ = _ward(make_unit, make_user, make_course, enroll)
    classmate = make_user(Role.trainee, unit=unit, full_name="Trần Văn Đức")
    enroll(classmate, course)
    text = "Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc đưa nghị quyết vào cuộc sống."
    for who in (trainee, classmate):
        submit_essay(who, course.topics[0], data=None, filename=None, text=text + who.full_name, uploaded_by=who)
    db.session.commit()
    auth.login(officer)
    doc = Document(io.BytesIO(client.get(f"/completeness/{course.id}/units/{unit.code}/essays.docx").data))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert (round(section.left_margin.mm), round(section.right_margin.mm)) == (30, 15)
    breaks = doc.element.body.xml.count('w:type="page"')
    assert breaks == 1  # two trainees: the second starts a new page
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "Chủ đề 1: Điểm mới" in headings and "Trần Văn Đức" in headings
