"""Re-judging lateness when a course's due time moves: an essay follows the deadline in force.

A version handed in by the (new) course due time is on time; after it, it stays "under extension"
when an extension granted by then covered it, else it is late. Pages, the API (`late`),
completeness and the report all read these flags, so they agree once this has run.
"""
from __future__ import annotations

from sqlalchemy import and_, select, true, update

from lms.db import db
from lms.models import Course
from essays.indexing import enqueue
from essays.models import Essay, EssayVersion, Extension


def rejudge_course(course: Course) -> int:
    """Set is_late/under_extension of every version of the course from its deadlines now; flushes.

    Returns how many versions changed state; their essays are queued for re-indexing.
    """
    due = course.essay_due_at
    of_course = EssayVersion.essay_id.in_(select(Essay.id).where(Essay.course_id == course.id))
    before = dict(db.session.execute(select(EssayVersion.id, EssayVersion.is_late).where(of_course)).all())
    db.session.execute(update(EssayVersion).where(of_course, EssayVersion.submitted_at <= due)
                       .values(is_late=False, under_extension=False), execution_options={"synchronize_session": False})
    db.session.execute(update(EssayVersion).where(of_course, EssayVersion.submitted_at > due,
                                                  EssayVersion.under_extension.is_(False))
                       .values(is_late=True), execution_options={"synchronize_session": False})
    for ext in db.session.scalars(select(Extension).where(Extension.course_id == course.id)):
        who = Essay.trainee_id == ext.trainee_id if ext.trainee_id else Essay.unit_id == ext.unit_id
        topic = Essay.topic_id == ext.topic_id if ext.topic_id else true()
        essays = select(Essay.id).where(Essay.course_id == course.id, who, topic)
        db.session.execute(update(EssayVersion).where(
            EssayVersion.essay_id.in_(essays), and_(EssayVersion.submitted_at > due,
                                                    EssayVersion.submitted_at <= ext.until_at,
                                                    EssayVersion.submitted_at >= ext.granted_at))
            .values(is_late=False, under_extension=True), execution_options={"synchronize_session": False})
    after = db.session.execute(select(EssayVersion.id, EssayVersion.is_late, EssayVersion.essay_id)
                               .where(of_course)).all()
    changed = {essay_id for vid, is_late, essay_id in after if before.get(vid) != is_late}
    db.session.expire_all()
    if changed:
        enqueue(db.session, changed)
        db.session.flush()
    return sum(1 for vid, is_late, _ in after if before.get(vid) != is_late)


def on_course_changed(course: Course, changes: dict) -> None:
    """Hook `lms.hooks.COURSE_CHANGED`: re-judge when the due time moved."""
    if "essay_due_at" in changes:
        rejudge_course(course)
