"""The deadline rule said twice, in Python and in SQL (essays/deadlines.py): both give the same answer."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from essays.deadlines import granted_by_sql, in_force_sql, version_in_force
from essays.models import Essay, EssayVersion, Extension
from essays.operations import grant_extension, submit_essay
from lms.db import db, utcnow
from lms.models import Role


def test_the_version_in_force_is_the_same_in_python_and_in_sql(make_unit, make_user, make_course, enroll):
    now = utcnow().replace(microsecond=0)
    course = make_course(due_at=now - dt.timedelta(days=1), cutoff_at=now + dt.timedelta(days=2))
    unit = make_unit()
    trainee = make_user(Role.trainee, unit=unit)
    enroll(trainee, course)
    handed_at = [now - dt.timedelta(days=3), now - dt.timedelta(hours=5), now - dt.timedelta(hours=1)]
    for i, at in enumerate(handed_at):
        submit_essay(trainee, course.topics[0], data=None, filename=None, text=f"Bài thu hoạch, lần {i + 1}. " * 20,
                     uploaded_by=trainee, now=at)
    db.session.commit()
    essay = db.session.scalar(select(Essay).where(Essay.trainee_id == trainee.id))
    versions = list(db.session.scalars(select(EssayVersion).where(EssayVersion.essay_id == essay.id)))
    assert [v.number for v in sorted(versions, key=lambda v: v.number)] == [1, 2, 3]

    moments = [handed_at[0] - dt.timedelta(seconds=1), *handed_at, handed_at[1] + dt.timedelta(minutes=1), now]
    for as_of in moments:
        in_python = version_in_force(versions, as_of)
        in_sql = db.session.scalar(select(in_force_sql(EssayVersion.number, as_of)).where(Essay.id == essay.id))
        assert in_sql == (in_python.number if in_python else None), as_of
    assert version_in_force(versions, moments[0]) is None
    assert version_in_force(versions, handed_at[1]).number == 2


def test_an_extension_counts_from_the_time_it_was_granted(make_unit, make_user, make_course, enroll):
    course = make_course()
    unit = make_unit()
    officer = make_user(Role.officer, unit=unit)
    trainee = make_user(Role.trainee, unit=unit)
    enroll(trainee, course)
    extension = grant_extension(officer, course, trainee=trainee, until_at=course.cutoff_at + dt.timedelta(days=3),
                                reason="Đi công tác")
    db.session.commit()
    for as_of in (extension.granted_at - dt.timedelta(seconds=1), extension.granted_at,
                  extension.granted_at + dt.timedelta(hours=1)):
        found = db.session.scalars(select(Extension.id).where(granted_by_sql(as_of))).all()
        assert (extension.id in found) == (extension.granted_at <= as_of)
