"""A ward officer on a 360 px phone accepts three suggestions and sends the ward's compilation; the Board sees it."""
from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from essays.operations import submit_essay
from lms.db import db
from lms.models import Role
from review.tagging.models import Tag
from review.wards.models import WardReport

pytestmark = pytest.mark.browser
ESSAYS = [
    "I. Nhận thức\nEm hiểu rõ hơn về chuyển đổi số.\nII. Kiến nghị, đề xuất\n"
    "1. Đề nghị mở lớp tập huấn kỹ năng số cho cán bộ khu vực.\n2. Kiến nghị lắp camera an ninh ở các hẻm.\nKết luận.",
    "Kiến nghị:\n1. Đề xuất xây dựng nhà văn hóa cho khu vực 3 phường An Hòa.\nKết luận.",
]


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh", "viewport": {"width": 360, "height": 740},
            "is_mobile": True, "has_touch": True}


def test_officer_on_a_phone_accepts_three_and_sends_then_the_board_sees_it(
        page: Page, page_guard, login, expect_dialog, make_unit, make_user, make_course, enroll):
    unit = make_unit(code="31147", name="Phường An Hòa")
    officer = make_user(Role.officer, unit=unit, full_name="Cán bộ An Hòa")
    reviewer = make_user(Role.reviewer, full_name="Lê Thu Hương")
    course = make_course(topics=("Chuyên đề 1: Chuyển đổi số", "Chủ đề 2"))
    for i, text in enumerate(ESSAYS):
        trainee = make_user(Role.trainee, unit=unit, full_name=f"Học viên {i + 1}")
        enroll(trainee, course)
        submit_essay(trainee, course.topics[i], data=None, filename=None, text=text, uploaded_by=trainee)
    db.session.commit()

    login(page, officer.username)
    page.goto(f"/ward/{course.id}/units/{unit.code}")
    expect(page.locator("#sent-status")).to_contain_text("Chưa gửi báo cáo")
    expect(page.get_by_role("heading", name="Chủ đề 1: Chuyển đổi số")).to_be_visible()  # no doubled label
    items = page.locator(".ward-item:not(.done)")
    expect(items).to_have_count(3)
    for left in (2, 1, 0):
        items.first.get_by_role("button", name="Nhận").tap()
        expect(items).to_have_count(left)
        expect(page.locator(".ward-status")).to_contain_text("Đã nhận")
    db.session.expire_all()
    assert db.session.query(Tag).filter_by(unit_id=unit.id, by_ward=True).count() == 3

    page.reload()
    expect(page.locator("#ward-accepted li")).to_have_count(3)
    with expect_dialog(accept=True):
        page.locator("#ward-send").tap()
    expect(page.locator("#sent-status")).to_contain_text("Đã gửi lần 1")
    expect(page.locator("#sent-status")).to_contain_text("Cán bộ An Hòa")
    expect(page.locator("#sent-status")).to_contain_text("3 ý kiến")
    db.session.expire_all()
    assert db.session.query(WardReport).filter_by(unit_id=unit.id).one().passage_count == 3
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 900})  # the Board works at a desk
    login(page, reviewer.username)
    page.goto(f"/completeness/{course.id}")
    expect(page.locator("#ward-reports")).to_contain_text("1 đơn vị đã gửi báo cáo")
    row = page.locator("#sent-units tbody tr")
    expect(row).to_contain_text("Phường An Hòa")
    with page.expect_download() as download:
        row.get_by_role("link", name=".docx").click()
    assert download.value.suggested_filename.endswith(".docx")
    page.goto("/review/queue")
    expect(page.locator("#ward-accepted tbody tr")).to_have_count(3)
    assert page_guard.problems == []


def test_the_ward_queue_by_keyboard(page: Page, page_guard, login, make_unit, make_user, make_course, enroll):
    unit = make_unit(code="31148", name="Phường Cái Khế")
    officer = make_user(Role.officer, unit=unit)
    course = make_course(topics=("Chủ đề 1",))
    trainee = make_user(Role.trainee, unit=unit, full_name="Học viên Cái Khế")
    enroll(trainee, course)
    submit_essay(trainee, course.topics[0], data=None, filename=None, text=ESSAYS[0], uploaded_by=trainee)
    db.session.commit()

    login(page, officer.username)
    page.goto(f"/ward/{course.id}/units/{unit.code}")
    items = page.locator(".ward-item:not(.done)")
    expect(items).to_have_count(2)
    expect(items.first).to_be_focused()
    page.keyboard.press("x")                      # dismiss the first
    expect(items).to_have_count(1)
    page.keyboard.press("u")                      # undo: it is back
    expect(items).to_have_count(2)
    expect(page.locator(".ward-status")).to_contain_text("Đã hoàn tác")
    page.keyboard.press("e")                      # edit the span: drop the last word, then accept
    page.keyboard.press("ArrowLeft")
    expect(items.first.locator(".passage")).to_have_text("Đề nghị mở lớp tập huấn kỹ năng số cho cán bộ khu")
    page.keyboard.press("Enter")
    expect(items).to_have_count(1)
    db.session.expire_all()
    tag = db.session.query(Tag).filter_by(unit_id=unit.id).one()
    assert tag.text == "Đề nghị mở lớp tập huấn kỹ năng số cho cán bộ khu" and tag.by_ward
    assert page_guard.problems == []
