"""Essays for review tests, handed in through the real essays.operations.submit_essay."""
from __future__ import annotations

from essays.models import Essay
from essays.operations import submit_essay
from lms.db import db
from lms.models import Course, User


def write_essay(trainee: User, course: Course, text: str, topic_index: int = 0) -> Essay:
    """Hand in (or replace) the trainee's essay on one topic as pasted text; returns the essay."""
    version = submit_essay(trainee, course.topics[topic_index], data=None, filename=None, text=text,
                           uploaded_by=trainee)
    db.session.commit()
    return version.essay
