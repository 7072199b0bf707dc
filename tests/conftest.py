"""Shared fixtures: a migrated app per test (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
clients, a login helper and factories that create real rows."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from lms import create_app
from lms.db import Base, db
from lms.models import Course, Enrollment, Unit, User
from tests import factories
from tests.factories import PASSWORD  # noqa: F401  (tests import it from here)

PG_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the real Alembic migrations once; each test starts from a copy (SQLite) or a truncation (PG)."""
    from lms.migrate import upgrade

    if PG_URL:
        app = create_app({"DATABASE_URL": PG_URL, "SECRET_KEY": "t", "TESTING": True})
        engine = create_engine(app.config["DATABASE_URL"])
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        upgrade(app)
        db.engine(app).dispose()
        return PG_URL
    folder = tmp_path_factory.mktemp("template")
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'template.db'}", "SECRET_KEY": "t",
                      "DATA_DIR": str(folder / "data"), "TESTING": True})
    upgrade(app)
    return str(folder / "template.db")


def _database_url(template: str, tmp_path: Path) -> str:
    if PG_URL:
        from lms.config import normalize_database_url

        engine = create_engine(normalize_database_url(PG_URL))
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # The PostgreSQL search table (search.pg) lives in its own schema, outside the models.
            if conn.scalar(text("SELECT to_regclass('search.essays')")) is not None:
                conn.execute(text("TRUNCATE search.essays"))
        engine.dispose()
        return PG_URL
    target = tmp_path / "test.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app_config(migrated_template: str, tmp_path: Path) -> dict[str, Any]:
    """Settings of the test app; a test may change them before asking for `app`."""
    return {
        "DATABASE_URL": _database_url(migrated_template, tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "test-secret",
        "TESTING": True,
        "INDEXER_IN_PROCESS": False,
    }


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production, not inside the test's context.

    The test's own session is committed first, so the request sees what the test created and no
    SQLite write lock is held by the test while the request runs.
    """

    def open(self, *args: Any, **kwargs: Any):
        from flask import g

        outer = g.get("_db_session") if has_app_context() else None
        if outer is not None:
            outer.commit()
            outer.expire_all()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config: dict[str, Any]):
    app = create_app(app_config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.rollback()
    db.engine(app).dispose()


@pytest.fixture
def client(app):
    # Not `with app.test_client()`: preserved request contexts would stack on the test's own.
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token_from(html: str) -> str:
    """The CSRF token a rendered page carries."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Auth:
    """Log a test client in and out through the real login form."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, user_or_name: User | str, password: str = PASSWORD):
        username = user_or_name.username if isinstance(user_or_name, User) else user_or_name
        page = self.client.get("/login")
        token = csrf_token_from(page.get_data(as_text=True))
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})

    def csrf(self) -> str:
        """A valid CSRF token for the logged-in session."""
        return csrf_token_from(self.client.get("/password").get_data(as_text=True))

    def post(self, url: str, data: dict | None = None, **kwargs):
        """POST a form with the session's CSRF token."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf())
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def make_unit(app) -> Callable[..., Unit]:
    factories.restart_unit_numbers()
    return factories.make_unit


@pytest.fixture
def make_user(app) -> Callable[..., User]:
    return factories.make_user


@pytest.fixture
def make_course(app) -> Callable[..., Course]:
    return factories.make_course


@pytest.fixture
def enroll(app) -> Callable[..., Enrollment]:
    return factories.enroll


@pytest.fixture
def make_trainee(app) -> Callable[..., User]:
    """A trainee of a unit, enrolled in a course: make_trainee(course, unit, full_name=…)."""
    return factories.make_trainee


@pytest.fixture
def hand_in(app) -> Callable[..., Any]:
    """Hand in an essay through the real operation (optionally back-dated) and commit."""
    return factories.hand_in


@pytest.fixture
def api_token(app) -> Callable[[User], dict[str, str]]:
    """Authorization headers carrying a fresh API token for the user."""
    from lms.security import create_api_token

    def make(user: User) -> dict[str, str]:
        token = create_api_token(user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
