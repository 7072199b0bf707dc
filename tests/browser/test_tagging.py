"""A reviewer selects a passage with the mouse, tags it, and finds it in the compilation (Chromium)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.db import db
from lms.models import Role
from review.tagging.models import Tag, Theme

from tests.factories import write_essay

pytestmark = pytest.mark.browser
# Emoji before the passage: each is 2 UTF-16 units in the browser but 1 code point on the server.
ESSAY = ("Bài thu hoạch về chuyển đổi số 📘\n"
         "Phường đã số hoá 80% hồ sơ 😀😀, người dân rất hài lòng.\n"
         "🚀 Em xin kiến nghị: mở lớp kỹ năng số cho cán bộ phường, xã.\n"
         "Em xin cảm ơn Ban Tổ chức.")
PASSAGE = "mở lớp kỹ năng số cho cán bộ phường, xã"


def drag_select(page: Page, passage: str) -> None:
    """Press the mouse before the passage's first letter and release it after its last one."""
    box = page.evaluate(
        """(passage) => {
            const root = document.getElementById("essay-text");
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(passage);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at); range.setEnd(node, at + 1);
                const first = range.getBoundingClientRect();
                range.setStart(node, at + passage.length - 1); range.setEnd(node, at + passage.length);
                const last = range.getBoundingClientRect();
                return {x1: first.left + 1, y1: first.top + first.height / 2,
                        x2: last.right - 1, y2: last.top + last.height / 2};
            }
            return null;
        }""", passage)
    assert box, f"passage not on the page: {passage}"
    page.mouse.move(box["x1"], box["y1"])
    page.mouse.down()
    page.mouse.move((box["x1"] + box["x2"]) / 2, box["y2"], steps=5)
    page.mouse.move(box["x2"], box["y2"], steps=5)
    page.mouse.up()


def test_reviewer_tags_a_selected_passage_and_finds_it_in_the_compilation(
        page: Page, login, make_unit, make_user, make_course, enroll):
    ward = make_unit(code="31135", name="Phường Ninh Kiều")
    course = make_course()
    trainee = make_user(Role.trainee, unit=ward, full_name="Nguyễn Thị Hoà")
    enroll(trainee, course)
    essay = write_essay(trainee, course, ESSAY)
    theme = Theme(name="chuyển đổi số")
    db.session.add(theme)
    reviewer = make_user(Role.reviewer, full_name="Lê Thu Hương")
    db.session.commit()

    login(page, reviewer.username)
    page.goto(f"/review/essays/{essay.id}")
    expect(page.get_by_role("heading", name="Bài thu hoạch của Nguyễn Thị Hoà")).to_be_visible()

    drag_select(page, PASSAGE)
    expect(page.locator("#selected-preview")).to_have_text(f"“{PASSAGE}”")
    page.get_by_label("Đề xuất", exact=True).check()
    page.locator("#tag-panel").get_by_label("chuyển đổi số").check()
    page.get_by_label("Ghi chú (không bắt buộc)").fill("ý hay")
    page.get_by_role("button", name="Gắn thẻ (T)").click()

    expect(page.locator("#tags h2")).to_have_text("Thẻ đã gắn (1)")
    expect(page.locator("#tags blockquote")).to_have_text(PASSAGE)
    expect(page.locator("mark.hl-proposal")).to_have_text(PASSAGE)
    tag = db.session.scalar(select(Tag))
    text = essay.current_version.text
    assert (tag.start_offset, tag.end_offset) == (text.index(PASSAGE), text.index(PASSAGE) + len(PASSAGE))
    assert (tag.text, tag.kind, tag.note) == (PASSAGE, "proposal", "ý hay")

    page.get_by_role("link", name="Tổng hợp kiến nghị").click()
    expect(page).to_have_url(re.compile(rf"/review/courses/{course.id}/compilation$"))
    section = page.locator(f"#theme-{theme.id}")
    expect(section.get_by_role("heading")).to_contain_text("chuyển đổi số")
    expect(section.locator(".cluster-summary")).to_contain_text("1 phường, xã đề xuất")
    expect(section.locator("blockquote")).to_have_text(PASSAGE)
    expect(section).to_contain_text("Nguyễn Thị Hoà (Phường Ninh Kiều)")

    page.get_by_label("Tìm trong đoạn văn").fill("KY NANG SO")
    page.get_by_role("button", name="Lọc").click()
    expect(page.locator("blockquote")).to_have_text([PASSAGE])


def test_keyboard_shortcut_tags_the_selection(page: Page, login, make_unit, make_user, make_course, enroll):
    ward = make_unit()
    course = make_course()
    trainee = make_user(Role.trainee, unit=ward)
    enroll(trainee, course)
    essay = write_essay(trainee, course, ESSAY)
    db.session.add(Theme(name="cán bộ"))
    reviewer = make_user(Role.reviewer)
    db.session.commit()

    login(page, reviewer.username)
    page.goto(f"/review/essays/{essay.id}")
    page.locator("#tag-panel").get_by_label("cán bộ").check()
    drag_select(page, "người dân rất hài lòng")
    page.keyboard.press("t")

    expect(page.locator("#tags blockquote")).to_have_text("người dân rất hài lòng")


class TestOnTablet:
    @pytest.fixture
    def browser_context_args(self, browser_context_args):
        return {**browser_context_args, "viewport": {"width": 800, "height": 1280}, "is_mobile": True,
                "has_touch": True}

    def test_touch_selection_survives_tapping_the_button(self, page: Page, login, make_unit, make_user,
                                                         make_course, enroll):
        ward = make_unit()
        course = make_course()
        trainee = make_user(Role.trainee, unit=ward)
        enroll(trainee, course)
        essay = write_essay(trainee, course, ESSAY)
        db.session.add(Theme(name="cán bộ"))
        reviewer = make_user(Role.reviewer)
        db.session.commit()
        login(page, reviewer.username)
        page.goto(f"/review/essays/{essay.id}")
        page.locator("#tag-panel").get_by_label("cán bộ").tap()

        # The tablet's own long-press selection handles cannot be driven from Playwright: make the
        # same selection through the Selection API, then clear it as a tap elsewhere would.
        page.evaluate("""(passage) => {
            const root = document.getElementById("essay-text");
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(passage);
                if (at >= 0) { window.getSelection().setBaseAndExtent(node, at, node, at + passage.length); return; }
            }
        }""", PASSAGE)
        expect(page.locator("#selected-preview")).to_have_text(f"“{PASSAGE}”")
        page.evaluate("window.getSelection().removeAllRanges()")
        page.get_by_role("button", name="Gắn thẻ (T)").tap()

        expect(page.locator("#tags blockquote")).to_have_text(PASSAGE)
