"""Browser fixtures: the test app on a live server, Debian's Chromium driven by Playwright, and a
`page` that fails the test on console errors, uncaught page errors and unexpected dialogs."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import (Browser, ConsoleMessage, Dialog, Error, Page, Playwright, Route,
                                 sync_playwright)
from werkzeug.serving import make_server

from lms.db import db
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox: CI containers run as root, where Chromium refuses its sandbox. The rest keep the
# browser from phoning home (component updates, sync, QUIC probes) so runs are quiet and offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Generous for a loaded CI machine; a failing locator still reports within seconds locally.
TIMEOUT_MS = 10_000


@dataclass
class ExpectedDialog:
    """A dialog a test announced; filled in when the browser shows it."""

    accept: bool = True
    prompt_text: str | None = None
    type: str | None = None
    message: str | None = None

    @property
    def is_seen(self) -> bool:
        return self.message is not None


@dataclass
class PageGuard:
    """Collects what must fail a browser test: console errors, page errors, unexpected dialogs."""

    problems: list[str] = field(default_factory=list)
    expected_dialogs: list[ExpectedDialog] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url")
            self.problems.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def on_page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught page error: {error.message}")

    def on_dialog(self, dialog: Dialog) -> None:
        # A listener must answer every dialog, or the page hangs until the test times out.
        if self.expected_dialogs:
            expected = self.expected_dialogs.pop(0)
            expected.type, expected.message = dialog.type, dialog.message
            if expected.accept:
                dialog.accept(expected.prompt_text) if expected.prompt_text is not None else dialog.accept()
            else:
                dialog.dismiss()
        else:
            self.problems.append(f"unexpected {dialog.type} dialog: {dialog.message!r}")
            dialog.dismiss()

    def take(self) -> list[str]:
        """Return and forget the problems seen so far (for a test that provokes one on purpose)."""
        taken, self.problems = self.problems, []
        return taken


_GUARD = pytest.StashKey[tuple[PageGuard, Page]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test itself (not its teardown) when the page logged problems."""
    failed = True
    try:
        result = yield
        failed = False
        return result
    finally:
        entry = item.stash.get(_GUARD, None)
        if entry is not None:
            guard, page = entry
            with contextlib.suppress(Error):
                # One round trip delivers events the browser sent while the test body was finishing.
                if not page.is_closed():
                    page.evaluate("0")
            if guard.problems:
                text = "\n".join(guard.problems)
                if failed:
                    item.add_report_section("call", "browser", text)
                else:
                    pytest.fail(f"the page reported problems:\n{text}", pytrace=False)


@dataclass
class LiveServer:
    """The test app served over HTTP in a background thread."""

    app: Flask  # pytest-flask's autouse request-context fixture reads `live_server.app`
    url: str


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """Serve the test's own app on 127.0.0.1 (free port) for the duration of one test.

    Replaces pytest-flask's `live_server`, which forks a process: a forked copy would not share the
    test's app object and config changes.

    Requests run in the server's threads with their own app contexts and DB sessions; the test's
    session is committed before each browser request (see `browser_context`).
    """
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits for the loop to notice (0.5 s per test by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class SharedBrowser:
    """One Chromium for each run of consecutive browser tests, closed as soon as the run ends.

    Not a session fixture: while sync Playwright is started, the main thread counts as inside a
    running asyncio loop, so any later non-browser test calling asyncio.run() would fail.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        """The running browser, started on first use (about half a second)."""
        if self._browser is None:
            if not CHROMIUM.exists():
                pytest.fail(f"{CHROMIUM} not found: browser tests need Debian's chromium package. Run "
                            "`make test`, which installs it (make system-deps), or `apt-get install chromium`.",
                            pytrace=False)
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        return self._browser

    def close(self) -> None:
        """Stop the browser and Playwright's driver, if running."""
        if self._playwright is not None:
            with contextlib.suppress(Error):
                self._browser.close()
            self._playwright.stop()
            self._playwright = self._browser = None


_shared_browser = SharedBrowser()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the fixtures are gone, close the browser unless the next test wants it too."""
    try:
        return (yield)
    finally:
        if nextitem is None or "browser" not in getattr(nextitem, "fixturenames", ()):
            _shared_browser.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Close the browser if the run was interrupted while it was open."""
    _shared_browser.close()


@pytest.fixture
def browser() -> Browser:
    """Headless Debian Chromium, shared by consecutive browser tests (see SharedBrowser)."""
    return _shared_browser.get()


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    """Options of each test's browser context; override in a test module (e.g. a phone viewport)."""
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh"}


@pytest.fixture
def browser_context(browser: Browser, live_server: LiveServer, browser_context_args: dict[str, Any]):
    """A fresh browser profile per test (no cookies carried over), pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, **browser_context_args)
    context.set_default_timeout(TIMEOUT_MS)
    test_session = db.session

    def release_test_session(route: Route) -> None:
        # Runs in the test thread before each browser request: commit what the test created and end
        # its transaction, else SQLite's BEGIN IMMEDIATE lock would make the server's writes wait.
        test_session.commit()
        test_session.expire_all()
        route.continue_()

    context.route("**/*", release_test_session)
    yield context
    context.close()


@pytest.fixture
def page_guard() -> PageGuard:
    """What the `page` has reported so far; `page_guard.take()` consumes problems a test expects."""
    return PageGuard()


@pytest.fixture
def page(browser_context, page_guard: PageGuard, request: pytest.FixtureRequest) -> Page:
    """A new tab that fails the test on console errors, page errors and dialogs nobody expected."""
    page = browser_context.new_page()
    page.on("console", page_guard.on_console)
    page.on("pageerror", page_guard.on_page_error)
    page.on("dialog", page_guard.on_dialog)
    request.node.stash[_GUARD] = (page_guard, page)
    return page


@pytest.fixture
def expect_dialog(page_guard: PageGuard) -> Callable[..., contextlib.AbstractContextManager[ExpectedDialog]]:
    """`with expect_dialog(accept=True) as dialog:` answers the next dialog; fails if none appears."""

    @contextlib.contextmanager
    def expect(accept: bool = True, prompt_text: str | None = None) -> Iterator[ExpectedDialog]:
        expected = ExpectedDialog(accept=accept, prompt_text=prompt_text)
        page_guard.expected_dialogs.append(expected)
        yield expected
        if not expected.is_seen:
            page_guard.expected_dialogs.remove(expected)
            pytest.fail("a dialog was expected but the page showed none")

    return expect


@pytest.fixture
def login() -> Callable[..., None]:
    """`login(page, username, password)` signs in through the real login form."""

    def do_login(page: Page, username: str, password: str = PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu", exact=True).fill(password)
        # Success and failure both answer with a new page; wait for it, not for a guessed selector.
        with page.expect_navigation():
            page.get_by_role("button", name="Đăng nhập").click()

    return do_login
