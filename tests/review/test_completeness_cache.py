"""Cached completeness figures are never stale: every kind of change makes the next request count again."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Callable

import pandas as pd
import pytest
from sqlalchemy import delete, select, text, update

from lms.db import db, utcnow
from lms.models import Enrollment, Role, Topic
from essays.models import Extension
from essays.operations import grant_extension
from review.completeness import operations as attendance_ops
from review.completeness import figures as completeness_module
from review.completeness.figures import completeness
from review.completeness.cache import figures_cache
from review.completeness.models import CompletenessRevision
from tests.review.completeness_roster import Roster, roster  # noqa: F401  (a fixture)


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """How many times the figures were counted in the database (one entry per count)."""
    calls: list[int] = []
    original = completeness_module._count

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(completeness_module, "_count", spy)
    return calls


def recounted(course, as_of=None):
    """The figures counted afresh, cache emptied first."""
    figures_cache().clear()
    return completeness(course, as_of)


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.units, b.units)
    pd.testing.assert_frame_equal(a.topics, b.topics)


def enrollment_of(r: Roster, trainee) -> Enrollment:
    return db.session.scalar(select(Enrollment).where(Enrollment.user_id == trainee.id,
                                                      Enrollment.course_id == r.course.id))


def test_the_board_reloading_counts_once(roster, counted):
    first = completeness(roster.course)
    again = completeness(roster.course)
    assert len(counted) == 1
    assert_same(first, again)
    assert again.as_of >= first.as_of  # "now" is the time of the request, the figures the same
    past = roster.due_at + dt.timedelta(minutes=10)
    completeness(roster.course, past)
    completeness(roster.course, past)
    assert len(counted) == 2
    # A few units are counted afresh each time.
    completeness(roster.course, unit_ids=[roster.units[0].id])
    assert len(counted) == 3


def _hand_in_new(r: Roster, do: SimpleNamespace):
    trainee, topic = r.trainees["X03"][0], r.topics[0]
    assert (trainee.id, topic.id) not in r.versions
    do.hand_in(trainee, topic)


def _revise(r: Roster, do: SimpleNamespace):
    # A second, late version of an essay handed in on time: on time -> late.
    (trainee_id, topic_id), versions = next((k, v) for k, v in r.versions.items() if len(v) == 1 and not v[0][1])
    trainee = next(t for ts in r.trainees.values() for t in ts if t.id == trainee_id)
    do.hand_in(trainee, next(t for t in r.topics if t.id == topic_id))


def _grant_unit_extension(r: Roster, do: SimpleNamespace):
    grant_extension(r.reviewer, r.course, unit=r.units[3], until_at=utcnow() + dt.timedelta(days=3), reason="Bão")
    db.session.commit()


def _revoke_extension(r: Roster, do: SimpleNamespace):
    db.session.execute(delete(Extension).where(Extension.course_id == r.course.id))
    db.session.commit()


def _mark_attendance(r: Roster, do: SimpleNamespace):
    unit = r.units[1]
    enrollments = attendance_ops.unit_enrollments(r.course, unit)
    present = {(e.id, day) for e in enrollments for day in r.course.class_days}
    attendance_ops.set_attendance(r.course, unit, present, by=r.officers[unit.code])
    db.session.commit()


def _exempt(r: Roster, do: SimpleNamespace):
    unit = r.units[1]
    enrollment = enrollment_of(r, r.trainees[unit.code][2])
    attendance_ops.exempt_trainee(r.course, unit, enrollment.id, "Nằm viện", by=r.officers[unit.code])
    db.session.commit()


def _remove_exemption(r: Roster, do: SimpleNamespace):
    unit = r.units[2]
    attendance_ops.remove_exemption(r.course, unit, enrollment_of(r, r.trainees[unit.code][2]).id,
                                    by=r.officers[unit.code])
    db.session.commit()


def _enroll(r: Roster, do: SimpleNamespace):
    do.enroll(do.make_user(Role.trainee, unit=r.units[0], full_name="Trương Văn Mới"), r.course)


def _move_enrolment(r: Roster, do: SimpleNamespace):
    # As the roster sync does it: a bulk UPDATE by primary key.
    db.session.execute(update(Enrollment), [{"id": enrollment_of(r, r.trainees["P01"][1]).id,
                                             "unit_id": r.units[2].id}])
    db.session.commit()


def _unenroll(r: Roster, do: SimpleNamespace):
    db.session.delete(enrollment_of(r, r.trainees["P04"][0]))
    db.session.commit()


def _add_topic(r: Roster, do: SimpleNamespace):
    db.session.add(Topic(course_id=r.course.id, position=9, title="Chủ đề bổ sung"))
    db.session.commit()
    db.session.expire(r.course, ["topics"])


def _add_class_day(r: Roster, do: SimpleNamespace):
    r.course.ends_on = r.course.ends_on + dt.timedelta(days=1)
    db.session.commit()


def _rename_unit(r: Roster, do: SimpleNamespace):
    r.units[0].name = "Phường An Hòa"
    db.session.commit()


def _plain_sql(r: Roster, do: SimpleNamespace):
    # Not through the application at all: the triggers still see it.
    db.session.execute(text("UPDATE essay_version SET is_late = NOT is_late"))
    db.session.commit()


CHANGES: dict[str, Callable] = {
    "hand-in": _hand_in_new, "new version": _revise, "extension granted": _grant_unit_extension,
    "extension revoked": _revoke_extension, "attendance": _mark_attendance, "exemption": _exempt,
    "exemption removed": _remove_exemption, "enrolment": _enroll, "enrolment moved": _move_enrolment,
    "enrolment removed": _unenroll, "topic": _add_topic, "class days": _add_class_day, "unit renamed": _rename_unit,
    "plain SQL": _plain_sql,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_is_counted_at_the_next_request(roster, hand_in, make_user, enroll, counted, change):
    do = SimpleNamespace(hand_in=hand_in, make_user=make_user, enroll=enroll)
    if change == "extension revoked":
        _grant_unit_extension(roster, do)
    before = completeness(roster.course)
    assert_same(completeness(roster.course), before)
    assert len(counted) == 1
    CHANGES[change](roster, do)
    after = completeness(roster.course)
    assert len(counted) == 2, "the change did not raise the course's revision"
    assert_same(after, recounted(roster.course))
    with pytest.raises(AssertionError):
        assert_same(after, before)


def test_a_back_dated_hand_in_changes_figures_of_the_past(roster, hand_in, counted):
    as_of = roster.due_at + dt.timedelta(minutes=40)
    before = completeness(roster.course, as_of)
    assert_same(completeness(roster.course, as_of), before)
    trainee, topic = roster.trainees["X03"][0], roster.topics[0]
    hand_in(trainee, topic, at=roster.due_at + dt.timedelta(minutes=35))  # received then, stored now
    after = completeness(roster.course, as_of)
    assert after.totals()["late"] == before.totals()["late"] + 1
    assert_same(after, recounted(roster.course, as_of))


def test_now_is_not_kept_while_something_is_dated_later(roster, hand_in, counted):
    trainee, topic = roster.trainees["X03"][0], roster.topics[0]
    hand_in(trainee, topic, at=utcnow() + dt.timedelta(minutes=5))
    first = completeness(roster.course)
    second = completeness(roster.course)
    assert len(counted) == 2
    assert first.totals()["late"] == second.totals()["late"]
    # ... but a fixed time is: the figures as of a given time only change with a new revision.
    as_of = utcnow()
    completeness(roster.course, as_of)
    completeness(roster.course, as_of)
    assert len(counted) == 3


def test_a_transaction_that_wrote_neither_reads_nor_fills_the_cache(roster, counted):
    committed = completeness(roster.course)
    unit = roster.units[1]
    exempted = enrollment_of(roster, roster.trainees[unit.code][3])
    attendance_ops.exempt_trainee(roster.course, unit, exempted.id, "Đi học xa", by=roster.officers[unit.code])
    pending = completeness(roster.course)  # not committed: counted, not cached
    assert pending.unit(unit.id)["exempt_trainees"] == committed.unit(unit.id)["exempt_trainees"] + 1
    db.session.rollback()
    assert_same(completeness(roster.course), committed)
    assert len(counted) == 2


def test_a_change_raises_the_revision_of_its_course_only(roster, hand_in, make_course):
    other = make_course(name="Lớp khác")

    def revision(course) -> int:
        return db.session.scalar(select(CompletenessRevision.revision)
                                 .where(CompletenessRevision.course_id == course.id))

    mine, theirs = revision(roster.course), revision(other)
    _hand_in_new(roster, SimpleNamespace(hand_in=hand_in))
    assert revision(roster.course) > mine and revision(other) == theirs
