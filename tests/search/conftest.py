"""Fixtures for the search tests: real Vietnamese text indexed for real, no app."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from search import EssayIndex
from search.pg import PgEssayIndex

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "viwiki_sample.jsonl.gz"
PG_URL = os.environ.get("TEST_DATABASE_URL")
# Whoosh always; PostgreSQL in the PostgreSQL pass of CI (TEST_DATABASE_URL), to find the same essays.
BACKENDS = ["whoosh", *(["postgres"] if PG_URL else [])]
TRAINEES = ["Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Đức", "Phạm Thu Hà"]


def essay_from_article(i: int, article: dict) -> dict:
    """An essay dict built from a sample article, with filter fields spread over the sample."""
    return {
        "essay_id": article["id"],
        "course_id": f"c{i % 3}",
        "topic_id": f"t{i % 5}",
        "unit_code": f"u{i % 4}",
        "state": "submitted" if i % 6 else "draft",
        "themes": ["lich-su", "dia-ly"] if i % 2 else [],
        "trainee": TRAINEES[i % len(TRAINEES)],
        "submitted_at": datetime(2025, 1, 1) + timedelta(days=i),
        "text": article["title"] + "\n" + article["text"],
    }


@pytest.fixture(scope="session")
def sample_essays() -> list[dict]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return [essay_from_article(i, json.loads(line)) for i, line in enumerate(f)]


def pg_connect():
    """A new psycopg connection to the test database (the backend closes it after each use)."""
    import psycopg

    return psycopg.connect(PG_URL)


def open_index(backend: str, where, schema: str = "search_test"):
    """An index of the backend: Whoosh in the folder `where`, PostgreSQL in its own schema."""
    if backend == "whoosh":
        return EssayIndex(where)
    index = PgEssayIndex(pg_connect, schema=schema)
    index.ensure_schema()
    with pg_connect() as conn:
        conn.execute(f"TRUNCATE {index.table}")
    return index


@pytest.fixture(scope="session", params=BACKENDS)
def sample_index(request, tmp_path_factory, sample_essays):
    """The whole sample, indexed once per test session and backend; tests must not write to it."""
    index = open_index(request.param, tmp_path_factory.mktemp("sample_index"), schema="search_sample")
    index.rebuild(sample_essays)
    yield index
    index.close()


@pytest.fixture
def make_essay():
    """Factory for small essays: make_essay("e1", "văn bản", unit_code="u9")."""

    def make(essay_id: str, text: str, **fields) -> dict:
        essay = {
            "essay_id": essay_id,
            "course_id": "c1",
            "topic_id": "t1",
            "unit_code": "u1",
            "state": "submitted",
            "themes": [],
            "trainee": "Nguyễn Văn An",
            "submitted_at": datetime(2025, 3, 1),
            "text": text,
        }
        essay.update(fields)
        return essay

    return make


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def index(backend, tmp_path):
    """An empty index of its own for tests that write."""
    ix = open_index(backend, tmp_path / "index")
    yield ix
    ix.close()


@pytest.fixture
def reopen(backend):
    """Open the same index again, as another web process (or another app server) would."""

    def again(index):
        if backend == "whoosh":
            return EssayIndex(index.path)
        return PgEssayIndex(pg_connect, schema=index.schema)

    return again
