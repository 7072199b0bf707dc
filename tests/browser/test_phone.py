"""Every page a trainee or an officer reaches fits a 360 px phone (and a desktop) and passes axe-core.

The test logs in through the real form, follows every same-site link it can reach (one page per
URL shape), and fails when a page is wider than the screen or axe-core reports a "serious" or
"critical" violation. axe-core's script comes from the pinned axe-playwright-python wheel (no CDN).
On the phone it also saves the screenshots of docs/screens/ (list, submit page, receipt).
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from essays.operations import submit_essay
from lms.db import db
from lms.models import Role

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 768}}
# Links that download a file or change something when followed: not pages to check.
SKIP = re.compile(r"(/file$|\.xlsx$|\.zip$|\.docx$|/download|/logout|/build$)")
MAX_PAGES = 24
AXE = Axe()
ESSAY = ("Qua lớp bồi dưỡng, tôi nhận thức rõ hơn trách nhiệm của cán bộ cơ sở trong việc đưa nghị quyết "
         "vào cuộc sống. Kiến nghị, đề xuất: tăng cường tập huấn chuyển đổi số cho cán bộ phường.")


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


@pytest.fixture
def browser_context_args(viewport):
    return {"locale": "vi-VN", "timezone_id": "Asia/Ho_Chi_Minh", "viewport": VIEWPORTS[viewport],
            "is_mobile": viewport == "phone", "has_touch": viewport == "phone"}


@pytest.fixture
def ward(make_unit, make_user, make_course, enroll):
    """A ward with its officer, three trainees (one handed in on topic 1) and a course past due on topic 1."""
    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    now = dt.datetime.now(dt.timezone.utc)
    course = make_course(name="Lớp bồi dưỡng cán bộ chủ chốt cấp xã năm 2026",
                         topics=("Chuyên đề 1: Những điểm mới trong văn kiện Đại hội XIV của Đảng",
                                 "Chuyên đề 2: Chính quyền địa phương hai cấp và phục vụ nhân dân",
                                 "Chuyển đổi số ở cơ sở"),
                         due_at=now + dt.timedelta(days=2, hours=3, minutes=5), cutoff_at=now + dt.timedelta(days=5))
    officer = make_user(Role.officer, unit=unit, username="canbo.31135", full_name="Lê Văn Phúc", phone="0912345678")
    trainees = [make_user(Role.trainee, unit=unit, username=f"hv.31135.{i}", full_name=name,
                          position="Phó Chủ tịch UBND phường", phone=f"09000000{i:02d}")
                for i, name in enumerate(("Nguyễn Thị Ánh Tuyết", "Trần Văn Đức", "Phạm Thị Hồng Nhung"), 1)]
    for t in trainees:
        enroll(t, course)
    submit_essay(trainees[1], course.topics[0], data=None, filename=None, text=ESSAY, uploaded_by=trainees[1])
    db.session.commit()
    return {"course": course, "officer": officer, "trainees": trainees}


def _shape(url: str) -> str:
    """One page per URL shape: numbers and the query string do not make a new page."""
    parts = urlsplit(url)
    return re.sub(r"\d+", "N", parts.path)


def _check_page(page: Page, problems: list[str]) -> None:
    """Record it if the page scrolls sideways or axe-core finds a serious or critical violation."""
    where = urlsplit(page.url).path
    screen = page.evaluate("() => screen.width")
    widths = page.evaluate("(limit) => [document.documentElement.scrollWidth, window.innerWidth,"
                           " Array.from(document.querySelectorAll('body *')).filter(e => {"
                           "  const r = e.getBoundingClientRect(); return r.width > 0 && r.right > limit + 1"
                           "  && !e.closest('.table-wrap, .chart-wrap, .skip-link');"
                           " }).slice(-3).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))]", screen)
    if max(widths[0], widths[1]) > screen or widths[2]:
        problems.append(f"{where}: {max(widths[0], widths[1])} px wide on a {screen} px screen: {widths[2]}")
    results = AXE.run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            nodes = [n["target"] for n in violation["nodes"][:3]]
            problems.append(f"{where}: axe {violation['impact']} {violation['id']}: {violation['help']} {nodes}")


def _crawl(page: Page, start: str) -> tuple[list[str], list[str]]:
    """Visit every same-site page reachable from `start` (one per URL shape); return visited and problems."""
    origin = urlsplit(page.url)
    queue, seen, visited, problems = [start], set(), [], []
    while queue and len(visited) < MAX_PAGES:
        url = queue.pop(0)
        shape = _shape(url)
        if shape in seen:
            continue
        seen.add(shape)
        response = page.goto(url)
        assert response is not None and response.ok, f"{url}: {response.status if response else 'no answer'}"
        visited.append(urlsplit(page.url).path)
        if _shape(page.url) != shape:  # redirected to a page already checked or queued
            if _shape(page.url) in seen:
                continue
            seen.add(_shape(page.url))
        _check_page(page, problems)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target = urljoin(page.url, href).split("#")[0]
            parts = urlsplit(target)
            if parts.netloc == origin.netloc and not SKIP.search(parts.path) and _shape(target) not in seen:
                queue.append(target)
    return visited, problems


def test_trainee_pages_fit_the_screen(page, login, ward, viewport):
    login(page, "hv.31135.1")
    expect(page.get_by_role("heading", name="Bài thu hoạch của tôi")).to_be_visible()
    first = page.locator("tr[data-topic]").first
    expect(first).to_contain_text("Chủ đề 1: Những điểm mới")
    expect(first).not_to_contain_text("Chuyên đề")
    expect(first).to_contain_text(re.compile(r"còn 2 ngày (2|3) giờ"))
    if viewport == "phone":
        page.screenshot(path=str(SCREENS / "trainee-list-360.png"), full_page=True)
    first.get_by_role("link", name="Nộp bài").click()
    button = page.get_by_role("button", name="Nộp bài")
    box = button.bounding_box()  # the main action sits inside the screen's width (no zooming out)
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORTS[viewport]["width"] and box["height"] >= 44
    if viewport == "phone":
        page.screenshot(path=str(SCREENS / "trainee-submit-360.png"), full_page=True)
    page.get_by_label("Hoặc dán nội dung").fill(ESSAY)
    page.get_by_role("button", name="Nộp bài").click()
    expect(page.get_by_role("heading", name="Biên nhận bài thu hoạch")).to_be_visible()
    # The same text as a classmate's: told, without naming anyone.
    expect(page.locator("#same-content")).to_contain_text("trùng khớp hoàn toàn")
    expect(page.locator("#same-content")).not_to_contain_text("Trần Văn Đức")
    if viewport == "phone":
        page.screenshot(path=str(SCREENS / "trainee-receipt-360.png"), full_page=True)
    visited, problems = _crawl(page, page.url)
    assert len(visited) >= 4, visited
    assert not problems, "\n".join(problems)


def test_officer_pages_fit_the_screen(page, login, ward, viewport):
    login(page, "canbo.31135")
    if viewport == "phone":
        menu = page.get_by_role("button", name="Menu")
        expect(menu).to_be_visible()
        expect(page.locator(".nav")).to_be_hidden()
        menu.click()
        expect(page.locator(".nav")).to_be_visible()
    visited, problems = _crawl(page, page.url)
    assert len(visited) >= 5, visited
    assert not problems, "\n".join(problems)
