"""The demo hands in sample essays: most trainees, some late, one replaced, some missing."""
from __future__ import annotations

from sqlalchemy import func, select

from lms.db import db
from lms.demo import load_demo
from lms.models import Enrollment
from essays.demo import demo_texts
from essays.models import Essay, EssayVersion


def test_demo_essays_are_realistic_and_spread_over_the_trainees(app):
    texts = demo_texts()
    assert sorted(texts) == [1, 2, 3] and sum(len(v) for v in texts.values()) >= 12
    for essays in texts.values():
        for _name, text in essays:
            assert "Kiến nghị, đề xuất" in text and "\n1. " in text
    load_demo()
    db.session.commit()
    essays = db.session.scalars(select(Essay)).all()
    slots = db.session.scalar(select(func.count()).select_from(Enrollment)) * 3  # three demo topics
    # Most, not all, of the demo's trainees hand in: every page has something real to show.
    assert 24 <= len(essays) < slots
    assert any(e.version_count == 2 for e in essays)
    assert db.session.scalar(select(func.count()).where(EssayVersion.is_late)) >= 1
    enrolled = set(db.session.scalars(select(Enrollment.user_id)))
    assert enrolled - {e.trainee_id for e in essays}, "some trainees hand in nothing"
    assert any(v.uploaded_by_id != v.essay.trainee_id for v in db.session.scalars(select(EssayVersion)))
