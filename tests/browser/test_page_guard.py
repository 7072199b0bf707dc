"""The `page` fixture itself: what it reports, and how a test says it expects a dialog."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture
def login_page(page: Page) -> Page:
    page.goto("/login")
    return page


def test_inline_script_is_refused_by_the_csp_and_reported(login_page: Page, page_guard):
    login_page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.append(script);
    }""")

    assert login_page.evaluate("window.inlineRan === undefined")
    problems = page_guard.take()
    assert len(problems) == 1 and "Content Security Policy" in problems[0]


def test_uncaught_error_is_reported(login_page: Page, page_guard):
    # The error is thrown in a task of its own, so it is uncaught, not returned to evaluate().
    login_page.evaluate("""() => new Promise((done) => {
        setTimeout(() => { throw new Error("hỏng rồi"); });
        setTimeout(done);
    })""")

    assert page_guard.take() == ["uncaught page error: hỏng rồi"]


def test_unexpected_dialog_is_dismissed_and_reported(login_page: Page, page_guard):
    assert login_page.evaluate("window.confirm('Xoá thật không?')") is False
    assert page_guard.take() == ["unexpected confirm dialog: 'Xoá thật không?'"]


@pytest.mark.parametrize("accept", [True, False])
def test_expected_dialog_is_answered(login_page: Page, page_guard, expect_dialog, accept):
    with expect_dialog(accept=accept) as dialog:
        answer = login_page.evaluate("window.confirm('Xoá thật không?')")

    assert answer is accept
    assert (dialog.type, dialog.message) == ("confirm", "Xoá thật không?")
    assert page_guard.problems == []


def test_expected_prompt_gets_the_given_text(login_page: Page, expect_dialog):
    with expect_dialog(prompt_text="Phường Ba Đình"):
        assert login_page.evaluate("window.prompt('Tên đơn vị?')") == "Phường Ba Đình"
