"""A trainee hands in a .docx in Chromium, reads the receipt, replaces it and sees version 2."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from tests.essays.essay_files import ESSAY, TITLE, build_docx

from lms.models import Role

pytestmark = pytest.mark.browser


@pytest.fixture(params=[{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def browser_context_args(request):
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh", "viewport": request.param}


def test_trainee_hands_in_then_replaces(page, login, make_unit, make_user, make_course, enroll, tmp_path):
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    course = make_course(topics=("Chuyên đề 1: Những điểm mới trong văn kiện Đại hội XIV",))
    trainee = make_user(Role.trainee, unit=unit, username="hv.31135.1", full_name="Nguyễn Thị Ánh Tuyết")
    enroll(trainee, course)
    first = tmp_path / "Bài thu hoạch – Ánh Tuyết.docx"
    first.write_bytes(build_docx([TITLE, ESSAY]))
    second = tmp_path / "Bài thu hoạch (sửa).docx"
    second.write_bytes(build_docx([TITLE, ESSAY, "Kiến nghị, đề xuất: 1. Tăng cường tập huấn chuyển đổi số."]))

    login(page, "hv.31135.1")
    expect(page.get_by_role("heading", name="Bài thu hoạch của tôi")).to_be_visible()
    expect(page.get_by_text("chưa nộp")).to_be_visible()
    page.get_by_role("link", name="Nộp bài").click()
    page.get_by_label("Tệp bài thu hoạch").set_input_files(str(first))
    page.get_by_role("button", name="Nộp bài").click()

    expect(page.get_by_role("heading", name="Biên nhận bài thu hoạch")).to_be_visible()
    expect(page.locator("#receipt-version")).to_contain_text("1")
    expect(page.locator("#receipt")).to_contain_text("Bài thu hoạch – Ánh Tuyết.docx")
    expect(page.locator("#receipt-time")).to_contain_text("+07:00")
    expect(page.locator("#essay-text")).to_contain_text(ESSAY)

    page.get_by_role("link", name="Nộp lại").click()
    page.get_by_label("Tệp bài thu hoạch").set_input_files(str(second))
    page.get_by_role("button", name="Nộp bài").click()
    expect(page.locator("#receipt-version")).to_contain_text("2")
    expect(page.locator("#essay-text")).to_contain_text("Tăng cường tập huấn chuyển đổi số")
    expect(page.locator("#versions tbody tr")).to_have_count(2)
