"""Completeness of a course as of a time: who handed in what, per unit and per trainee.

Every figure the overview page, the API, the .xlsx exports, the reminders and the report show
comes from `completeness` (per unit × topic, set-based SQL + pandas) or `trainee_states`
(per trainee × topic, for the lists of one or a few units).

The rules are those of `essays.deadlines` (the one place that states them):
- the version in force as of T is the last one handed in by T; the essay is "nộp muộn" (late)
  when that version was late, else "đã nộp" (counted on time, under an extension or not);
- nothing handed in by T: "được gia hạn" (extension) when an extension granted by T applies
  (the trainee, or the unit of their enrolment; that topic or all topics), else "chưa nộp";
- on top of those, a trainee the unit officer exempted who handed nothing in is "exempt",
  not missing.
`trainee_states` calls `essays.deadlines.essay_state` for every cell; `completeness` restates
the same rules in SQL for speed, and tests/review check that both always agree.
completeness % = handed in / (enrolled − exempt), per topic and summed over topics.
Attendance and exemptions are records of the class, not of the essays: they are not dated "as of".
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

import pandas as pd
from sqlalchemy import and_, func, select

from lms.db import db, utcnow
from lms.models import Course, Enrollment, Topic, Unit, User
from lms.text import vn_name_key, vn_sort_key
from essays.deadlines import essay_state, EssayStatus
from essays.models import Essay, EssayVersion, Extension
from review.models import Attendance, Exemption

STATES = ("on_time", "late", "extension", "missing", "exempt")
STATE_LABELS = {
    "on_time": "Đã nộp",
    "late": "Nộp muộn",
    "extension": "Được gia hạn",
    "missing": "Chưa nộp",
    "exempt": "Miễn nộp",
}
STATE_CSS = {"on_time": "state-ok", "late": "state-late", "extension": "state-ext",
             "missing": "state-missing", "exempt": "state-exempt"}
_FROM_STATUS = {EssayStatus.submitted: "on_time", EssayStatus.late: "late",
                EssayStatus.extended: "extension", EssayStatus.missing: "missing"}
COUNT_COLUMNS = ("submitted", "on_time", "late", "extension", "missing", "exempt")


@dataclass
class Completeness:
    """Figures of one course as of a time: `units` (one row per unit), `topics` (unit × topic)."""

    course: Course
    as_of: dt.datetime
    topic_list: list[Topic]
    days: list[dt.date]
    units: pd.DataFrame
    topics: pd.DataFrame

    def totals(self) -> dict[str, int | float | None]:
        """The sums over all units shown in the table's footer."""
        cols = ["enrolled", "attended", "exempt_trainees", *COUNT_COLUMNS, "expected",
                *[day_column(d) for d in self.days]]
        sums: dict[str, int | float | None] = {c: int(self.units[c].sum()) for c in cols}
        sums["percent"] = percent(sums["submitted"], sums["expected"])
        return sums

    def topic_totals(self) -> pd.DataFrame:
        """Per topic over all units."""
        cols = list(COUNT_COLUMNS) + ["expected"]
        frame = self.topics.groupby("topic_id", as_index=False, sort=False)[cols].sum()
        frame["percent"] = [percent(s, e) for s, e in zip(frame["submitted"], frame["expected"])]
        return frame

    def unit_topics(self, unit_id: int) -> pd.DataFrame:
        """The unit × topic rows of one unit, in topic order."""
        return self.topics[self.topics["unit_id"] == unit_id]

    def unit(self, unit_id: int) -> dict | None:
        """The row of one unit as a dict, or None."""
        rows = self.units[self.units["unit_id"] == unit_id]
        return rows.iloc[0].to_dict() if len(rows) else None


def day_column(day: dt.date) -> str:
    """Name of the attendance column of a class day."""
    return f"day_{day.isoformat()}"


def percent(submitted: int, expected: int) -> float | None:
    """Completeness in percent with one decimal; None when nothing is expected."""
    return round(100.0 * submitted / expected, 1) if expected else None


def _as_utc(as_of: dt.datetime | None) -> dt.datetime:
    if as_of is None:
        return utcnow()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")
    return as_of.astimezone(dt.timezone.utc)


def _handed_in(course: Course, as_of: dt.datetime, unit_ids: list[int] | None):
    """One row per enrolled trainee × topic with the version in force as of the time (SQL)."""
    # The last version handed in by then: numbers grow with time, so the largest number wins.
    last = (
        select(EssayVersion.essay_id, func.max(EssayVersion.number).label("number"))
        .join(Essay, Essay.id == EssayVersion.essay_id)
        .where(Essay.course_id == course.id, EssayVersion.submitted_at <= as_of)
        .group_by(EssayVersion.essay_id)
    )
    if unit_ids is not None:
        # Only the essays of these units' trainees (a unit's page must not group the whole course).
        last = last.where(Essay.trainee_id.in_(select(Enrollment.user_id).where(
            Enrollment.course_id == course.id, Enrollment.unit_id.in_(unit_ids))))
    last = last.subquery("last")
    query = (
        select(Enrollment.id.label("enrollment_id"), Enrollment.user_id, Enrollment.unit_id,
               Essay.topic_id, Essay.id.label("essay_id"), EssayVersion.id.label("version_id"),
               EssayVersion.submitted_at, EssayVersion.is_late, EssayVersion.under_extension)
        .join(Essay, and_(Essay.trainee_id == Enrollment.user_id, Essay.course_id == Enrollment.course_id))
        .join(last, last.c.essay_id == Essay.id)
        .join(EssayVersion, and_(EssayVersion.essay_id == last.c.essay_id, EssayVersion.number == last.c.number))
        .where(Enrollment.course_id == course.id)
    )
    if unit_ids is not None:
        query = query.where(Enrollment.unit_id.in_(unit_ids))
    return query


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def extensions_as_of(course: Course, as_of: dt.datetime, unit_ids: Iterable[int] | None = None) -> list[Extension]:
    """Extensions of the course granted by the time, for the given units or trainees enrolled there."""
    query = select(Extension).where(Extension.course_id == course.id, Extension.granted_at <= as_of)
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        trainees = select(Enrollment.user_id).where(Enrollment.course_id == course.id,
                                                    Enrollment.unit_id.in_(unit_ids))
        query = query.where(Extension.unit_id.in_(unit_ids) | Extension.trainee_id.in_(trainees))
    return list(db.session.scalars(query.order_by(Extension.id)))


def completeness(course: Course, as_of: dt.datetime | None = None,
                 unit_ids: Iterable[int] | None = None) -> Completeness:
    """Completeness of a course per unit and per unit × topic, as of a time (default now)."""
    as_of = _as_utc(as_of)
    unit_ids = None if unit_ids is None else sorted(set(unit_ids))
    topic_list = list(course.topics)
    topic_ids = [t.id for t in topic_list]
    days = course.class_days

    def in_units(query, column):
        return query if unit_ids is None else query.where(column.in_(unit_ids))

    # Enrolled and exempt trainees per unit.
    enrolled = _frame(db.session.execute(in_units(
        select(Enrollment.unit_id, func.count(Enrollment.id), func.count(Exemption.id))
        .outerjoin(Exemption, Exemption.enrollment_id == Enrollment.id)
        .where(Enrollment.course_id == course.id).group_by(Enrollment.unit_id), Enrollment.unit_id)).all(),
        ["unit_id", "enrolled", "exempt_trainees"])

    # Handed-in essays per unit × topic × lateness, and how many came from exempt trainees.
    pairs = _handed_in(course, as_of, unit_ids).subquery("pairs")
    handed = _frame(db.session.execute(
        select(pairs.c.unit_id, pairs.c.topic_id, pairs.c.is_late, func.count(), func.count(Exemption.id))
        .outerjoin(Exemption, Exemption.enrollment_id == pairs.c.enrollment_id)
        .group_by(pairs.c.unit_id, pairs.c.topic_id, pairs.c.is_late)).all(),
        ["unit_id", "topic_id", "is_late", "n", "n_exempt"])

    # Attendance per unit and day, and trainees present on at least one day.
    per_day = _frame(db.session.execute(in_units(
        select(Enrollment.unit_id, Attendance.day, func.count())
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .where(Enrollment.course_id == course.id, Attendance.is_present.is_(True))
        .group_by(Enrollment.unit_id, Attendance.day), Enrollment.unit_id)).all(), ["unit_id", "day", "n"])
    any_day = _frame(db.session.execute(in_units(
        select(Enrollment.unit_id, func.count(func.distinct(Attendance.enrollment_id)))
        .join(Enrollment, Enrollment.id == Attendance.enrollment_id)
        .where(Enrollment.course_id == course.id, Attendance.is_present.is_(True))
        .group_by(Enrollment.unit_id), Enrollment.unit_id)).all(), ["unit_id", "attended"])

    wanted = unit_ids if unit_ids is not None else enrolled["unit_id"].tolist()
    unit_rows = _frame(db.session.execute(
        select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(wanted))).all() if wanted else [],
        ["unit_id", "code", "name"])

    units = unit_rows.merge(enrolled, on="unit_id", how="left").merge(any_day, on="unit_id", how="left")
    for day in days:
        counts = per_day[per_day["day"] == day][["unit_id", "n"]].rename(columns={"n": day_column(day)})
        units = units.merge(counts, on="unit_id", how="left")
    count_cols = ["enrolled", "exempt_trainees", "attended", *[day_column(d) for d in days]]
    units[count_cols] = units[count_cols].fillna(0).astype("int64")

    # Unit × topic grid, every topic present even without a single essay.
    grid = pd.MultiIndex.from_product([units["unit_id"].tolist(), topic_ids], names=["unit_id", "topic_id"])
    topics = pd.DataFrame(index=grid).reset_index()
    handed["is_late"] = handed["is_late"].astype(bool)
    for column, late in (("on_time", False), ("late", True)):
        part = handed[handed["is_late"] == late].groupby(["unit_id", "topic_id"])["n"].sum()
        topics[column] = part.reindex(grid, fill_value=0).to_numpy()
    exempt_handed = handed.groupby(["unit_id", "topic_id"])["n_exempt"].sum().reindex(grid, fill_value=0)
    topics = topics.merge(units[["unit_id", "enrolled", "exempt_trainees"]], on="unit_id", how="left")
    topics["submitted"] = topics["on_time"] + topics["late"]
    topics["exempt"] = topics["exempt_trainees"] - exempt_handed.to_numpy()
    waiting = topics["enrolled"] - topics["submitted"] - topics["exempt"]
    topics["extension"] = _extended_counts(course, as_of, unit_ids, topics, waiting)
    topics["missing"] = waiting - topics["extension"]
    topics["expected"] = topics["enrolled"] - topics["exempt"]
    topics = topics.drop(columns=["enrolled", "exempt_trainees"])
    int_cols = list(COUNT_COLUMNS) + ["expected"]
    topics[int_cols] = topics[int_cols].astype("int64")
    topics["percent"] = [percent(s, e) for s, e in zip(topics["submitted"], topics["expected"])]

    sums = topics.groupby("unit_id", as_index=False)[int_cols].sum()
    units = units.merge(sums, on="unit_id", how="left")
    units[int_cols] = units[int_cols].fillna(0).astype("int64")
    units["percent"] = [percent(s, e) for s, e in zip(units["submitted"], units["expected"])]
    units = sort_units(units, "name")
    return Completeness(course=course, as_of=as_of, topic_list=topic_list, days=days,
                        units=units.reset_index(drop=True), topics=topics)


def _extended_counts(course: Course, as_of: dt.datetime, unit_ids: list[int] | None,
                     topics: pd.DataFrame, waiting: pd.Series) -> list[int]:
    """Per unit × topic row: trainees with nothing handed in, not exempt, under an extension."""
    extensions = extensions_as_of(course, as_of, unit_ids)
    if not extensions:
        return [0] * len(topics)
    # A unit-wide extension covers every waiting trainee of the unit for its topic(s).
    unit_wide = {(e.unit_id, e.topic_id) for e in extensions if e.trainee_id is None and e.unit_id is not None}
    per_trainee: dict[int, set[int | None]] = {}
    for e in extensions:
        if e.trainee_id is not None:
            per_trainee.setdefault(e.trainee_id, set()).add(e.topic_id)
    extra: dict[tuple[int, int], int] = {}
    if per_trainee:
        # The few trainees holding their own extension: who they are, and what they handed in.
        ids = list(per_trainee)
        people = db.session.execute(
            select(Enrollment.id, Enrollment.user_id, Enrollment.unit_id, Exemption.id)
            .outerjoin(Exemption, Exemption.enrollment_id == Enrollment.id)
            .where(Enrollment.course_id == course.id, Enrollment.user_id.in_(ids))).all()
        done = {(r.enrollment_id, r.topic_id) for r in db.session.execute(
            _handed_in(course, as_of, unit_ids).where(Enrollment.user_id.in_(ids))).all()}
        topic_ids = [t.id for t in course.topics]
        for enrollment_id, user_id, unit_id, exemption_id in people:
            if exemption_id is not None or (unit_ids is not None and unit_id not in unit_ids):
                continue
            for topic_id in topic_ids:
                covered = None in per_trainee[user_id] or topic_id in per_trainee[user_id]
                unit_covered = (unit_id, None) in unit_wide or (unit_id, topic_id) in unit_wide
                if covered and not unit_covered and (enrollment_id, topic_id) not in done:
                    extra[(unit_id, topic_id)] = extra.get((unit_id, topic_id), 0) + 1
    result = []
    for unit_id, topic_id, n_waiting in zip(topics["unit_id"], topics["topic_id"], waiting):
        if (unit_id, None) in unit_wide or (unit_id, topic_id) in unit_wide:
            result.append(int(n_waiting))
        else:
            result.append(extra.get((unit_id, topic_id), 0))
    return result


SORT_KEYS = ("name", "code", "enrolled", "attended", "submitted", "on_time", "late", "missing", "percent")


def sort_units(units: pd.DataFrame, key: str, descending: bool = False) -> pd.DataFrame:
    """Units ordered by a column; names in Vietnamese letter order, empty percentages last."""
    if key not in SORT_KEYS:
        key = "name"
    if key == "name":
        names = units["name"].tolist()
        order = sorted(range(len(names)), key=lambda i: vn_sort_key(names[i]), reverse=descending)
        return units.iloc[order]
    return units.sort_values(key, ascending=not descending, kind="stable", na_position="last")


def trainee_states(course: Course, unit_ids: Iterable[int], as_of: dt.datetime | None = None,
                   states: Iterable[str] | None = None, topic_id: int | None = None) -> pd.DataFrame:
    """One row per trainee × topic of the given units: state, times in force, version handed in; by name."""
    as_of = _as_utc(as_of)
    unit_ids = sorted(set(unit_ids))
    people = _frame(db.session.execute(
        select(Enrollment.id, Enrollment.user_id, Enrollment.unit_id, User.full_name, User.username,
               User.email, Exemption.reason)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(Exemption, Exemption.enrollment_id == Enrollment.id)
        .where(Enrollment.course_id == course.id, Enrollment.unit_id.in_(unit_ids))).all(),
        ["enrollment_id", "user_id", "unit_id", "full_name", "username", "email", "exempt_reason"])
    handed = {(r.enrollment_id, r.topic_id): r for r in db.session.execute(_handed_in(course, as_of, unit_ids)).all()}
    extensions = extensions_as_of(course, as_of, unit_ids)
    people = people.assign(_k=[vn_name_key(n) + ((u,),) for n, u in zip(people["full_name"], people["username"])])
    people = people.sort_values("_k", kind="stable").drop(columns="_k")
    topic_list = [t for t in course.topics if topic_id is None or t.id == topic_id]
    wanted = set(states) if states is not None else None
    rows = []
    for person in people.itertuples(index=False):
        for topic in topic_list:
            version = handed.get((person.enrollment_id, topic.id))
            state = essay_state(course, topic_id=topic.id, trainee_id=person.user_id, unit_id=person.unit_id,
                                version=version, extensions=extensions)
            name = _FROM_STATUS[state.status]
            is_exempt = isinstance(person.exempt_reason, str)
            if version is None and is_exempt:
                name = "exempt"
            if wanted is not None and name not in wanted:
                continue
            rows.append({
                **person._asdict(), "is_exempt": is_exempt, "topic_id": topic.id,
                "topic_position": topic.position, "topic_title": topic.title, "state": name,
                "essay_id": version.essay_id if version else None,
                "version_id": version.version_id if version else None,
                "submitted_at": version.submitted_at if version else None,
                "under_extension": bool(version.under_extension) if version else False,
                "due_at": state.due_at, "cutoff_at": state.cutoff_at,
                "extended_until": state.deadlines.extended_until,
                "extension_reason": state.deadlines.extension.reason if state.deadlines.extension else None,
            })
    columns = [*people.columns, "is_exempt", "topic_id", "topic_position", "topic_title", "state", "essay_id",
               "version_id", "submitted_at", "under_extension", "due_at", "cutoff_at", "extended_until",
               "extension_reason"]
    # object dtype: essays not handed in keep None (not NaN) for ids and times.
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    for column in ("enrollment_id", "user_id", "unit_id", "topic_id", "topic_position"):
        frame[column] = frame[column].astype("int64")
    return frame
