"""Demo step: the Board's starting themes, units shared among reviewers, and a handful of tags."""
from __future__ import annotations

import logging

from sqlalchemy import select

from essays.models import Essay
from lms.db import db
from lms.models import Course, Unit, User
from lms.text import fold
from review.tagging.models import Tag, Theme
from review.tagging.suggestions import find_passages
from review.tagging.operations import assign_unit, create_theme, tag_passage

logger = logging.getLogger(__name__)

STARTING_THEMES = ["tổ chức bộ máy", "cán bộ", "chuyển đổi số", "cải cách hành chính", "kinh tế – xã hội",
                   "quốc phòng – an ninh"]
# Words of a passage that point at a theme (accent-folded), to tag the demo essays plausibly.
THEME_HINTS = {
    "chuyển đổi số": ("so hoa", "chuyen doi so", "truc tuyen", "phan mem", "du lieu", "ky nang so", "internet"),
    "cải cách hành chính": ("thu tuc", "mot cua", "hanh chinh", "ho so"),
    "cán bộ": ("can bo", "cong chuc", "dao tao", "boi duong", "phu cap"),
    "tổ chức bộ máy": ("bo may", "sap xep", "hai cap", "bien che", "phan cap"),
    "kinh tế – xã hội": ("kinh te", "dau tu", "du lich", "nguon luc", "ngan sach"),
    "quốc phòng – an ninh": ("an ninh", "quoc phong", "trat tu", "dan quan"),
}


def starting_themes() -> dict[str, Theme]:
    """The starting codebook, created once."""
    themes = {}
    for name in STARTING_THEMES:
        themes[name] = db.session.scalar(select(Theme).where(Theme.name == name)) or create_theme(name)
    return themes


def tag_demo_essays(course: Course, people: dict[str, User]) -> list[tuple[str, str, str]]:
    """Create the starting themes, give the wards to the Board's reviewer, tag a few suggested passages."""
    themes = starting_themes()
    reviewer = people.get("bantochuc")
    if reviewer is None:
        return []
    for unit in db.session.scalars(select(Unit).where(Unit.id.in_(
            select(Essay.unit_id).where(Essay.course_id == course.id)))):
        assign_unit(unit, reviewer)
    if db.session.scalar(select(Tag.id).where(Tag.course_id == course.id).limit(1)) is not None:
        return []  # already tagged by an earlier load
    essays = db.session.scalars(select(Essay).where(Essay.course_id == course.id,
                                                    Essay.current_version_id.is_not(None))
                                .order_by(Essay.id)).all()
    tagged = 0
    for essay in essays:
        text = essay.current_version.text
        for passage in find_passages(text)[:2]:
            folded = fold(text[passage.start:passage.end])
            chosen = [themes[name].id for name, hints in THEME_HINTS.items() if any(h in folded for h in hints)]
            if not chosen:
                continue
            tag_passage(essay, start=passage.start, end=passage.end, kind=passage.kind, theme_ids=chosen[:2],
                        by=reviewer)
            tagged += 1
        if tagged >= 12:
            break
    logger.info("demo: %s themes, %s tags on %s essays", len(themes), tagged, len(essays))
    return []
