"""An officer imports the unit's roster through the page in Chromium: a bad file first, then a good one."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from lms.db import db
from lms.models import Enrollment, Role, User
from tests.lms.roster_files import person, xlsx
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_officer_sees_every_error_then_imports_the_fixed_file(page: Page, login, make_unit, make_user,
                                                              make_course, tmp_path):
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    course = make_course(name="Lớp bồi dưỡng 23–24/5/2026")
    officer = make_user(Role.officer, unit=unit)
    bad = tmp_path / "danh-sach-loi.xlsx"
    bad.write_bytes(xlsx([person(1), person(2, name=""), person(3, birth="31/02/1980")]))
    good = tmp_path / "danh-sach.xlsx"
    good.write_bytes(xlsx([person(i) for i in range(1, 6)]))

    login(page, officer.username, PASSWORD)
    page.goto("/roster/import")
    page.get_by_label("Lớp học").select_option(str(course.id))
    page.get_by_label("Tệp danh sách (.xlsx hoặc .csv)").set_input_files(str(bad))
    page.get_by_role("button", name="Nhập danh sách").click()
    errors = page.locator("#roster-errors")
    expect(errors).to_contain_text("Chưa nhập: 2 lỗi")
    expect(errors.locator("tbody tr")).to_have_count(2)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.trainee)) == 0

    page.get_by_label("Lớp học").select_option(str(course.id))
    page.get_by_label("Tệp danh sách (.xlsx hoặc .csv)").set_input_files(str(good))
    page.get_by_role("button", name="Nhập danh sách").click()
    result = page.locator("#roster-result")
    expect(result).to_contain_text("Tài khoản tạo mới: 5")
    expect(result).to_contain_text("Ghi danh mới vào lớp: 5")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.unit_id == unit.id)) == 5
