"""The triage queue by keyboard in Chromium: accept with the first theme, pick another, dismiss, undo."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.db import db
from lms.models import Role
from review.tagging.models import Suggestion, Tag, Theme
from review.tagging.theme_model import scan_new_versions
from tests.factories import write_essay


pytestmark = pytest.mark.browser
ESSAYS = [
    ("Bài thu hoạch.\nKIẾN NGHỊ\n1. Nâng cấp đường truyền internet cho bộ phận một cửa.\n"
     "2. Rút gọn thủ tục hành chính về đất đai.\nKết luận"),
    "Bài thu hoạch.\nKIẾN NGHỊ\n1. Sửa chữa phòng học xuống cấp ở trường tiểu học.\nKết luận",
]


def test_reviewer_decides_suggestions_across_essays_by_keyboard(app, page: Page, login, make_unit, make_user,
                                                                make_course, make_trainee):
    ward = make_unit(code="31135", name="Phường Ninh Kiều")
    course = make_course()
    themes = {}
    for name, description in (("Chuyển đổi số", "internet, phần mềm, dữ liệu số, đường truyền"),
                              ("Cải cách hành chính", "thủ tục hành chính, hồ sơ, một cửa"),
                              ("Giáo dục", "trường học, phòng học, giáo viên, học sinh")):
        themes[name] = Theme(name=name, description=description)
        db.session.add(themes[name])
    for i, text in enumerate(ESSAYS):
        trainee = make_trainee(course, ward, full_name=f"Học Viên {i}")
        write_essay(trainee, course, text)
    reviewer = make_user(Role.reviewer)
    db.session.commit()
    assert scan_new_versions(app) == 2  # what the worker does after each hand-in

    login(page, reviewer.username)
    page.goto(f"/review/triage?course={course.id}")
    passage = page.locator(".triage-passage")
    expect(passage).to_have_text("Nâng cấp đường truyền internet cho bộ phận một cửa.")
    expect(page.locator(".triage-unit")).to_have_text("Phường Ninh Kiều")
    expect(page.locator(".triage-themes button").first).to_contain_text("1. Chuyển đổi số")

    page.keyboard.press("Enter")  # the first theme is right: one key
    expect(passage).to_have_text("Rút gọn thủ tục hành chính về đất đai.")
    page.keyboard.press("x")  # dismiss
    expect(passage).to_have_text("Sửa chữa phòng học xuống cấp ở trường tiểu học.")
    page.keyboard.press("u")  # undo the dismissal: the passage comes back
    expect(passage).to_have_text("Rút gọn thủ tục hành chính về đất đai.")
    # Pick the theme by its digit: the one named "Cải cách hành chính".
    digit = page.locator(".triage-themes button", has_text="Cải cách hành chính").get_attribute("data-index")
    page.keyboard.press(str(int(digit) + 1))
    page.keyboard.press("Enter")
    expect(passage).to_have_text("Sửa chữa phòng học xuống cấp ở trường tiểu học.")
    page.keyboard.press("u")  # undo an accept: the tag is removed, the suggestion offered again
    expect(passage).to_have_text("Rút gọn thủ tục hành chính về đất đai.")
    page.get_by_role("button", name="Bỏ qua (X)").click()  # the buttons serve touch
    expect(passage).to_have_text("Sửa chữa phòng học xuống cấp ở trường tiểu học.")
    expect(page.locator(".triage-status")).to_have_text("Đã bỏ qua.")

    db.session.expire_all()
    tags = db.session.scalars(select(Tag)).all()
    assert [(t.text, [th.name for th in t.themes]) for t in tags] == [
        ("Nâng cấp đường truyền internet cho bộ phận một cửa.", ["Chuyển đổi số"])]
    assert sorted(s.status for s in db.session.scalars(select(Suggestion))) == ["accepted", "dismissed", "open"]
