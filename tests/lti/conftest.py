"""LTI fixtures: a fake LMS on loopback registered with the app, and a helper that drives launches."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from lms.db import db
from lms.lti.models import LtiPlatform
from tests.lti.fake_platform import FakePlatform, Person, login_params, new_key, parse_form


@pytest.fixture(scope="session")
def platform_key():
    return new_key()


@pytest.fixture(scope="session")
def stranger_key():
    """A key the platform never published."""
    return new_key()


@pytest.fixture
def platform(platform_key):
    fake = FakePlatform(platform_key).start()
    yield fake
    fake.stop()


@pytest.fixture
def lti_unit(make_unit):
    return make_unit(code="TCT", name="Trường Chính trị thành phố", kind="khác")


@pytest.fixture
def registered(app, client, runner, platform, lti_unit) -> LtiPlatform:
    """The fake LMS registered through the CLI, with the tool's published JWKS handed to it."""
    reg = platform.registration()
    result = runner.invoke(args=[
        "lti", "platform", "add", "--name", "Moodle thử", "--issuer", reg["issuer"], "--client-id", reg["client_id"],
        "--deployment-id", reg["deployment_id"], "--key-set-url", reg["key_set_url"],
        "--auth-login-url", reg["auth_login_url"], "--access-token-url", reg["access_token_url"],
        "--unit", lti_unit.code])
    assert result.exit_code == 0, result.output
    platform.tool_jwks = client.get("/lti/jwks.json").get_json()
    db.session.expire_all()
    return db.session.query(LtiPlatform).one()


class Lms:
    """Drives the browser's side of an LTI launch: tool login → LMS auth → tool launch."""

    def __init__(self, client, platform: FakePlatform) -> None:
        self.client, self.platform = client, platform

    def id_token_form(self, person: Person, **spec: Any) -> dict[str, str]:
        """Start the login at the tool and let the LMS answer; returns the form the browser would post."""
        start = self.client.post("/lti/login", data=login_params(self.platform, person, **spec))
        assert start.status_code == 302, start.get_data(as_text=True)
        answer = requests.get(start.headers["Location"], timeout=10)
        assert answer.status_code == 200, answer.text
        return parse_form(answer.text)

    def launch(self, person: Person, **spec: Any):
        return self.client.post("/lti/launch", data=self.id_token_form(person, **spec))


@pytest.fixture
def lms(client, platform, registered) -> Lms:
    return Lms(client, platform)
