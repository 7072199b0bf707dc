"""A unit officer watches a missing trainee turn into a handed-in essay, in Chromium."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lms.db import db
from lms.models import Role
from essays.operations import submit_essay

pytestmark = pytest.mark.browser
ESSAY = ("Qua lớp học, tôi hiểu rõ hơn trách nhiệm của cán bộ cơ sở trong việc lắng nghe ý kiến "
         "của nhân dân và giải quyết kịp thời các kiến nghị chính đáng. ") * 3


def test_officer_sees_a_missing_trainee_then_the_essay_after_reload(page: Page, page_guard, login, make_unit,
                                                                     make_user, make_course, enroll):
    unit = make_unit(code="P31", name="Phường Tân An")
    officer = make_user(Role.officer, unit=unit, full_name="Cán bộ Tân An")
    trainee = make_user(Role.trainee, unit=unit, full_name="Nguyễn Thị Hoà")
    other = make_user(Role.trainee, unit=unit, full_name="Trần Văn Anh")
    course = make_course(topics=("Chủ đề duy nhất",))
    for person in (trainee, other):
        enroll(person, course)

    login(page, officer.username)
    expect(page.get_by_role("heading", name="Tình hình nộp bài: Phường Tân An")).to_be_visible()
    row = page.locator(f'tr[data-username="{trainee.username}"]')
    expect(row.locator('[data-state]')).to_have_attribute("data-state", "missing")
    expect(row).to_contain_text("Chưa nộp")
    expect(page.locator("#unit-percent")).to_have_text("0,0 %")
    # Vietnamese order: Anh before Hoà (given name first).
    expect(page.locator("#trainees tbody tr").first).to_contain_text("Trần Văn Anh")

    submit_essay(trainee, course.topics[0], data=None, filename=None, text=ESSAY, uploaded_by=trainee)
    db.session.commit()

    page.reload()
    row = page.locator(f'tr[data-username="{trainee.username}"]')
    expect(row.locator('[data-state]')).to_have_attribute("data-state", "on_time")
    expect(row.locator("a[href^=\"/essays/\"]")).to_be_visible()
    expect(page.locator("#unit-percent")).to_have_text("50,0 %")
    page.get_by_label("Chỉ học viên chưa nộp").check()
    page.get_by_role("button", name="Lọc").click()
    expect(page.locator("#trainees tbody tr")).to_have_count(1)
    expect(page.locator("#trainees tbody tr")).to_contain_text("Trần Văn Anh")
    assert page_guard.problems == []
