"""The demo as a first-time user sees it: every page reachable from the menus renders for every role."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest

from lms.db import db
from lms.demo import DEMO_PASSWORD

LOGINS = ["admin", "bantochuc", "canbo.31135", "hv.31135.1"]
SKIP = ("/logout", "/static/", "/lti/")


@pytest.fixture
def demo(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    db.session.commit()
    return result.output


def _links(html: str) -> set[str]:
    return {href for href in re.findall(r'href="([^"#]+)"', html) if href.startswith("/")}


@pytest.mark.parametrize("username", LOGINS)
def test_every_page_reachable_from_the_menus_renders(app, client, auth, demo, username):
    assert auth.login(username, DEMO_PASSWORD).status_code == 302
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    seen: set[str] = set()
    frontier = {urlparse(home.request.url).path} | _links(home.get_data(as_text=True))
    for _depth in range(2):
        next_frontier: set[str] = set()
        for url in sorted(frontier - seen):
            seen.add(url)
            if url.startswith(SKIP):
                continue
            response = client.get(url)
            assert response.status_code < 500, f"{username}: GET {url} -> {response.status_code}"
            if response.status_code == 200 and response.mimetype == "text/html":
                next_frontier |= {urljoin(url, link) for link in _links(response.get_data(as_text=True))}
            response.close()
        frontier = next_frontier
    assert len(seen) > 5
