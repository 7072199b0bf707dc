"""The same content handed in by two trainees: identical file (SHA-256) or identical extracted text.

Only exact copies are found here (cheap, indexed); near copies across a class are the compilation's work.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from lms.db import db
from essays.models import Essay, EssayVersion


def same_content_essays(version: EssayVersion) -> list[Essay]:
    """Other trainees' essays whose current version has this version's file or text (same course for text)."""
    essay = version.essay
    current = aliased(EssayVersion)
    same_text = select(current.id).where(current.chars == version.chars, current.text == version.text)
    query = (select(Essay).join(current, current.id == Essay.current_version_id)
             .where(Essay.trainee_id != essay.trainee_id,
                    or_(current.sha256 == version.sha256,
                        (Essay.course_id == essay.course_id) & current.id.in_(same_text) & (current.chars > 0)))
             .order_by(Essay.id).limit(20))
    return list(db.session.scalars(query))
