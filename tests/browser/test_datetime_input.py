"""The one date-time input writes dd/mm/yyyy HH:MM from its picker even in an English browser."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from lms.db import db
from lms.models import Course, Role

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args():
    return {"locale": "en-US", "timezone_id": "America/New_York", "viewport": {"width": 360, "height": 740}}


def test_the_picker_writes_the_vietnamese_format_and_the_class_moves(page, login, make_user, make_course):
    course = make_course(due_at=dt.datetime(2026, 5, 26, 10, 0, tzinfo=dt.timezone.utc),
                         cutoff_at=dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.timezone.utc))
    make_user(Role.admin, username="admin")
    login(page, "admin")
    page.goto(f"/admin/courses/{course.id}")
    due = page.get_by_label("Hạn nộp bài")
    expect(due).to_have_value("26/05/2026 17:00")
    page.get_by_role("button", name="Chọn ngày giờ").first.click()
    page.get_by_role("button", name="28/05/2026").click()
    page.get_by_label("Giờ", exact=True).select_option("8")
    page.get_by_label("Phút", exact=True).select_option("30")
    page.get_by_role("button", name="Xong").click()
    expect(due).to_have_value("28/05/2026 08:30")
    page.get_by_role("button", name="Lưu thay đổi").click()
    expect(page.locator(".flash-success")).to_contain_text("hạn nộp: 26/05/2026 17:00 → 28/05/2026 08:30")
    db.session.expire_all()
    assert db.session.get(Course, course.id).essay_due_at == dt.datetime(2026, 5, 28, 1, 30, tzinfo=dt.timezone.utc)
