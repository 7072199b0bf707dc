"""The one place that says when an essay is due, whether a hand-in is late, and what state it is in.

Rules (completeness and reports must use these functions, not restate them):

* A course has a due time (`essay_due_at`) and a cut-off (`cutoff_at`, not earlier than due).
* An `Extension` applies to a trainee for a topic when it is for the same course, names the
  trainee or the unit of their enrolment, and names that topic or no topic (all topics). When
  several apply, the one lasting longest is in force.
* Times in force: due = max(course due, extension end); cut-off = max(course cut-off, extension end).
* A hand-in at time t is: on time when t <= course due; on time "under extension" when an
  extension is in force and t <= its end; late when t <= course cut-off; refused after that.
* The state of a trainee's essay on a topic, judged on the version in force (the current one, or
  for an "as of" view the last one handed in by then):
  - "đã nộp"       a version exists and it was not late (under an extension or not);
  - "nộp muộn"     a version exists and it was late;
  - "được gia hạn" nothing handed in yet, but an extension applies (even if it has run out,
                   so officers see why the times differ);
  - "chưa nộp"     nothing handed in and no extension.
* The version in force as of a time T is the last one handed in by T (the largest number among
  those with submitted_at <= T); an extension counts as of T when it was granted by T.
  `version_in_force` says it in Python, `in_force_sql` and `granted_by_sql` in SQL for the
  completeness figures (review.completeness.figures); tests/essays/test_deadlines.py checks that
  they agree.
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Iterable, Protocol

from sqlalchemy import ColumnElement, false, or_, select

from essays.models import Essay, EssayVersion, Extension
from lms.db import db


class EssayStatus(str, enum.Enum):
    """State badge of an essay; the value is what pages show."""

    missing = "chưa nộp"
    submitted = "đã nộp"
    late = "nộp muộn"
    extended = "được gia hạn"

    @property
    def css(self) -> str:
        return {"missing": "state-missing", "submitted": "state-ok", "late": "state-late",
                "extended": "state-ext"}[self.name]


class _CourseTimes(Protocol):
    id: int
    essay_due_at: dt.datetime
    cutoff_at: dt.datetime


class _Version(Protocol):
    is_late: bool
    under_extension: bool
    submitted_at: dt.datetime


class _NumberedVersion(Protocol):
    number: int
    submitted_at: dt.datetime


def version_in_force(versions: Iterable[_NumberedVersion], as_of: dt.datetime) -> _NumberedVersion | None:
    """The version in force as of a time: the last one handed in by then (None before the first)."""
    return max((v for v in versions if v.submitted_at <= as_of), key=lambda v: v.number, default=None)


def in_force_sql(column, as_of: dt.datetime):
    """`version_in_force` in SQL: correlated to `Essay`, this column of its version in force (NULL if none yet)."""
    # Numbers grow with time, so the largest number handed in by then wins. ORDER BY … LIMIT 1 is one
    # backward step in ix_essay_version_in_force per essay, which holds every column completeness
    # reads: no version row (and none of its text) is touched. Measured 2× faster than MAX(number)
    # joined back, and faster than grouping every version of the course.
    return (select(column).where(EssayVersion.essay_id == Essay.id, EssayVersion.submitted_at <= as_of)
            .order_by(EssayVersion.number.desc()).limit(1).correlate(Essay).scalar_subquery())


def granted_by_sql(as_of: dt.datetime) -> ColumnElement[bool]:
    """The extensions that count as of a time: those granted by then (`Extension.granted_at <= as_of`)."""
    return Extension.granted_at <= as_of


@dataclass(frozen=True)
class Deadlines:
    """The times in force for one trainee and topic."""

    course_due_at: dt.datetime
    course_cutoff_at: dt.datetime
    extension: Extension | None = None

    @property
    def extended_until(self) -> dt.datetime | None:
        return self.extension.until_at if self.extension else None

    @property
    def due_at(self) -> dt.datetime:
        """Due time in force: the course's, pushed back by an extension."""
        return max(self.course_due_at, self.extended_until or self.course_due_at)

    @property
    def cutoff_at(self) -> dt.datetime:
        """Cut-off in force: after it nothing is accepted."""
        return max(self.course_cutoff_at, self.extended_until or self.course_cutoff_at)

    def judge(self, at: dt.datetime) -> "Lateness":
        """How a hand-in at this time counts."""
        if at <= self.course_due_at:
            return Lateness(accepted=True, is_late=False, under_extension=False)
        if self.extended_until is not None and at <= self.extended_until:
            return Lateness(accepted=True, is_late=False, under_extension=True)
        if at <= self.course_cutoff_at:
            return Lateness(accepted=True, is_late=True, under_extension=False)
        return Lateness(accepted=False, is_late=True, under_extension=False)


@dataclass(frozen=True)
class Lateness:
    """Whether a hand-in is accepted, late, or on time only thanks to an extension."""

    accepted: bool
    is_late: bool
    under_extension: bool


@dataclass(frozen=True)
class EssayState:
    """State of one trainee's essay on one topic, with the times in force."""

    status: EssayStatus
    deadlines: Deadlines
    version: _Version | None = None

    @property
    def due_at(self) -> dt.datetime:
        return self.deadlines.due_at

    @property
    def cutoff_at(self) -> dt.datetime:
        return self.deadlines.cutoff_at

    @property
    def under_extension(self) -> bool:
        return bool(self.version and self.version.under_extension)


def extension_applies(ext: Extension, *, course_id: int, topic_id: int, trainee_id: int,
                      unit_id: int | None) -> bool:
    """Whether an extension covers this trainee (or their enrolment unit) and topic."""
    if ext.course_id != course_id or (ext.topic_id is not None and ext.topic_id != topic_id):
        return False
    return ext.trainee_id == trainee_id or (ext.unit_id is not None and ext.unit_id == unit_id)


def extensions_query(course_id: int, *, trainee_ids: Iterable[int] = (), unit_ids: Iterable[int] = ()):
    """SELECT of the extensions of a course that may concern these trainees or units (filter in SQL)."""
    trainee_ids, unit_ids = list(trainee_ids), list(unit_ids)
    conditions = []
    if trainee_ids:
        conditions.append(Extension.trainee_id.in_(trainee_ids))
    if unit_ids:
        conditions.append(Extension.unit_id.in_(unit_ids))
    query = select(Extension).where(Extension.course_id == course_id)
    return query.where(or_(*conditions)) if conditions else query.where(false())


def deadlines_for(course: _CourseTimes, *, topic_id: int, trainee_id: int, unit_id: int | None,
                  extensions: Iterable[Extension] | None = None) -> Deadlines:
    """Times in force for a trainee and topic; pass `extensions` preloaded for lists, else they are queried."""
    if extensions is None:
        extensions = db.session.scalars(extensions_query(
            course.id, trainee_ids=[trainee_id], unit_ids=[unit_id] if unit_id else []))
    best: Extension | None = None
    for ext in extensions:
        if extension_applies(ext, course_id=course.id, topic_id=topic_id, trainee_id=trainee_id,
                             unit_id=unit_id) and (best is None or ext.until_at > best.until_at):
            best = ext
    return Deadlines(course.essay_due_at, course.cutoff_at, best)


def essay_state(course: _CourseTimes, *, topic_id: int, trainee_id: int, unit_id: int | None,
                version: _Version | None, extensions: Iterable[Extension] | None = None) -> EssayState:
    """State badge and times in force of a trainee's essay on a topic (see the module docstring)."""
    deadlines = deadlines_for(course, topic_id=topic_id, trainee_id=trainee_id, unit_id=unit_id,
                              extensions=extensions)
    if version is not None:
        status = EssayStatus.late if version.is_late else EssayStatus.submitted
    elif deadlines.extension is not None:
        status = EssayStatus.extended
    else:
        status = EssayStatus.missing
    return EssayState(status, deadlines, version)
