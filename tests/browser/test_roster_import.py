"""An officer imports the unit's roster through the page in Chromium, on a 360 px phone: a bad file
first, then a good one, then the credential sheet, which downloads once."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from lms.db import db
from lms.models import Enrollment, Role, User
from lms.security import verify_password
from tests.conftest import PASSWORD
from tests.lms.roster_files import person, xlsx

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def browser_context_args():
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh", "viewport": PHONE, "is_mobile": True,
            "has_touch": True, "accept_downloads": True}


def _fits(page: Page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def test_officer_sees_every_error_then_imports_the_fixed_file(page: Page, login, make_unit, make_user,
                                                              make_course, tmp_path, page_guard):
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

    # The initial passwords: offered once, to this officer, right after the import.
    expect(page.locator("#credentials-once")).to_contain_text("một lần")
    assert _fits(page)
    if os.environ.get("THUHOACH_SCREENSHOTS"):
        page.screenshot(path=os.environ["THUHOACH_SCREENSHOTS"] + "/roster-import-360.png", full_page=True)
    link = result.get_by_role("link", name="Phường Ninh Kiều (31135).xlsx")
    with page.expect_download() as download:
        link.click()
    rows = list(load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active.iter_rows(values_only=True))
    db.session.commit()
    users = {u.username: u for u in db.session.scalars(select(User).where(User.role == Role.trainee))}
    assert len(rows) == 6 and all(verify_password(users[row[4]], row[5]) for row in rows[1:])
    # Once: the same link now explains why there is nothing, and what to do.
    page.goto(link.get_attribute("href") or "")
    expect(page.locator("main")).to_contain_text("chỉ tải được một lần")
    assert all("410" in problem for problem in page_guard.take())  # the browser reports the status
    assert _fits(page)
    if os.environ.get("THUHOACH_SCREENSHOTS"):
        page.screenshot(path=os.environ["THUHOACH_SCREENSHOTS"] + "/roster-credentials-gone-360.png", full_page=True)
