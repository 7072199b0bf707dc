"""Signing in and out through the real login page in Chromium, on a desktop and on a phone."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent, Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


def test_trainee_logs_in_sees_their_name_and_logs_out(page: Page, login, make_unit, make_user):
    trainee = make_user(Role.trainee, unit=make_unit(), full_name="Nguyễn Thị Hoà")

    login(page, trainee.username, PASSWORD)

    expect(page.locator(".who")).to_contain_text("Nguyễn Thị Hoà")
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text("Bạn đã đăng xuất.")
    expect(page.get_by_text("Nguyễn Thị Hoà")).to_have_count(0)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.get_by_role("alert")).to_have_text("Vui lòng đăng nhập để tiếp tục.")


def test_wrong_password_shows_the_vietnamese_message(page: Page, login, make_user):
    trainee = make_user(Role.trainee, unit=None)

    login(page, trainee.username, "sai-mat-khau")

    expect(page.get_by_role("alert")).to_have_text(WRONG_CREDENTIALS)
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_have_count(0)
    # The test reads the database between two page actions; the next login must still get to write.
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.target == trainee.username)) == "login.failed"
    login(page, trainee.username, PASSWORD)
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()


def test_login_and_home_pages_log_no_console_errors(page: Page, page_guard, login, make_user):
    # Inline scripts and styles are refused by the CSP and would be logged as console errors here.
    page.goto("/login")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    login(page, make_user(Role.reviewer, unit=None).username, PASSWORD)
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    assert page_guard.problems == []


class TestOnPhone:
    @pytest.fixture
    def browser_context_args(self, browser_context_args):
        return {**browser_context_args, "viewport": {"width": 390, "height": 844},
                "device_scale_factor": 3, "is_mobile": True, "has_touch": True}

    def test_login_form_fits_the_screen_and_works_by_touch(self, page: Page, make_unit, make_user):
        trainee = make_user(Role.trainee, unit=make_unit(), full_name="Lê Văn Phúc")
        page.goto("/login")

        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        for control in (page.get_by_label("Tên đăng nhập"), page.get_by_label("Mật khẩu", exact=True),
                        page.get_by_role("button", name="Đăng nhập")):
            expect(control).to_be_in_viewport()
            box = control.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert box["height"] >= 32  # big enough to hit with a thumb
        # Below 16px, phone browsers zoom into the field on focus.
        assert page.get_by_label("Tên đăng nhập").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 16

        page.get_by_label("Tên đăng nhập").tap()
        page.keyboard.type(trainee.username)
        page.get_by_label("Mật khẩu", exact=True).tap()
        page.keyboard.type(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Đăng nhập").tap()

        expect(page.locator(".who")).to_contain_text("Lê Văn Phúc")
        # On a phone the account links are in the menu button's panel.
        page.get_by_role("button", name="Menu").tap()
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_in_viewport()
