"""Attendance never taken is not zero: `attendance_recorded` in the API; "chưa ghi nhận điểm danh" everywhere."""
from __future__ import annotations

import io

import openpyxl
import pytest
from docx import Document

from lms.db import db
from lms.models import Role
from review.completeness.figures import completeness
from review.completeness.operations import set_attendance
from review.report.data import build_report_data
from review.report.docx import report_docx
from review.report.prose import default_prose
from review.report.xlsx import report_xlsx

NOT_TAKEN = "chưa ghi nhận điểm danh"


@pytest.fixture
def two_wards(make_unit, make_user, make_course, enroll):
    """Ninh Kiều took attendance (one of two present); Cái Khế never did."""
    taken, untaken = make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31147", name="Phường Cái Khế")
    course = make_course()
    admin = make_user(Role.admin)
    people = {u.code: [make_user(Role.trainee, unit=u) for _ in range(2)] for u in (taken, untaken)}
    enrollments = {code: [enroll(p, course) for p in ps] for code, ps in people.items()}
    set_attendance(course, taken, {(enrollments["31135"][0].id, course.class_days[0])}, by=admin)
    db.session.commit()
    officer = make_user(Role.officer, unit=untaken)
    return course, taken, untaken, admin, officer


def test_the_api_says_whether_attendance_was_taken(client, two_wards, api_token):
    course, taken, untaken, admin, _ = two_wards
    units = {u["code"]: u for u in client.get(f"/api/v1/courses/{course.id}/completeness",
                                              headers=api_token(admin)).get_json()["units"]}
    assert units["31135"]["attendance_recorded"] is True and units["31135"]["attended"] == 1
    assert units["31147"]["attendance_recorded"] is False and units["31147"]["attended"] == 0
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Completeness"]
    assert "attendance_recorded" in schema["properties"]["units"]["items"]["required"]


def test_pages_and_exports_say_not_taken_instead_of_zero(client, auth, two_wards):
    course, taken, untaken, admin, officer = two_wards
    auth.login(officer)
    unit_page = client.get(f"/completeness/{course.id}/units/{untaken.code}").get_data(as_text=True)
    assert NOT_TAKEN in unit_page and "0 có mặt" not in unit_page
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(admin)
    overview = client.get(f"/completeness/{course.id}").get_data(as_text=True)
    row = overview.split('data-unit="31147"')[1].split("</tr>")[0]
    assert NOT_TAKEN in row
    assert NOT_TAKEN not in overview.split('data-unit="31135"')[1].split("</tr>")[0]
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/completeness/{course.id}/overview.xlsx").data))
    values = [[c.value for c in r] for r in book.worksheets[0].iter_rows()]
    untaken_row = next(r for r in values if r[0] == "31147")
    assert NOT_TAKEN in untaken_row and 0 not in untaken_row[3:3 + len(course.class_days) + 1]


def test_the_report_leaves_units_without_attendance_out_of_the_share(two_wards):
    course, *_ = two_wards
    data = build_report_data(course, None)
    assert data.totals["attendance_recorded"] == 1 and data.totals["enrolled_recorded"] == 2
    text = "\n".join(p.text for p in Document(io.BytesIO(report_docx(data, default_prose()))).paragraphs)
    assert "có mặt ít nhất một buổi: 1/2 đồng chí (đạt 50,0%)" in text
    assert "1 điểm cầu chưa ghi nhận điểm danh" in text
    participation = text.split("II. TÌNH HÌNH THAM GIA")[1].split("III. KẾT QUẢ")[0]
    assert "Phường Cái Khế" not in participation
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(data)))
    by_unit = [[c.value for c in r] for r in book.worksheets[1].iter_rows()]
    assert NOT_TAKEN in next(r for r in by_unit if r[0] == "31147")


def test_nothing_taken_anywhere_is_said_so(make_unit, make_user, make_course, enroll):
    unit = make_unit()
    course = make_course()
    enroll(make_user(Role.trainee, unit=unit), course)
    figures = completeness(course)
    assert figures.totals()["attendance_recorded"] == 0
    text = "\n".join(p.text for p in Document(io.BytesIO(report_docx(build_report_data(course, None),
                                                                     default_prose()))).paragraphs)
    assert "chưa ghi nhận điểm danh tại điểm cầu nào" in text and "có mặt ít nhất một buổi" not in text
    assert "Chủ đề 1: Chủ đề 1" not in text and "Chủ đề 1." in text
