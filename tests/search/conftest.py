"""Fixtures for the search tests: real Vietnamese text indexed for real, no app."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from search import EssayIndex

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "viwiki_sample.jsonl.gz"
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


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, sample_essays) -> EssayIndex:
    """The whole sample, indexed once per test session; tests must not write to it."""
    index = EssayIndex(tmp_path_factory.mktemp("sample_index"))
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


@pytest.fixture
def index(tmp_path) -> EssayIndex:
    """An empty index of its own for tests that write."""
    ix = EssayIndex(tmp_path / "index")
    yield ix
    ix.close()
