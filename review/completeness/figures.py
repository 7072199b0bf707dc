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
`trainee_states` asks `essays.deadlines.essay_state` once per distinct case (unit or trainee with
their own extension × topic × nothing / on time / late handed in) and spreads the answers over the
cells; `completeness` counts the same states set-based for speed, and tests/review check that both
always agree. Both find the version in force with `essays.deadlines.in_force_sql` (one correlated
lookup per essay in the covering index `ix_essay_version_in_force`) and the extensions granted by
then with `granted_by_sql`; `completeness` sums it per unit in one pass over the enrolments
and keeps the whole course's figures until its `completeness_revision` changes
(review.completeness.cache; see docs/PERFORMANCE.md, "Completeness").
completeness % = handed in / (enrolled − exempt), per topic and summed over topics.
Attendance and exemptions are records of the class, not of the essays: they are not dated "as of".
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, and_, case, func, literal, select

from essays.deadlines import EssayStatus, essay_state, granted_by_sql, in_force_sql
from essays.models import Essay, EssayVersion, Extension
from lms.db import db, utcnow
from lms.models import Course, Enrollment, Topic, Unit, User
from lms.text import vn_name_sort_string, vn_sort_key
from review.completeness import cache as completeness_cache
from review.completeness.models import Attendance, Exemption

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
        sums["percent"] = percent(int(sums["submitted"] or 0), int(sums["expected"] or 0))
        # Units whose attendance was taken, and the trainees enrolled there (the base of attendance shares).
        recorded = self.units["attendance_recorded"].astype(bool) if len(self.units) else self.units["enrolled"] > 0
        sums["attendance_recorded"] = int(recorded.sum())
        sums["enrolled_recorded"] = int(self.units.loc[recorded, "enrolled"].sum()) if len(self.units) else 0
        return sums

    def topic_totals(self) -> pd.DataFrame:
        """Per topic over all units."""
        cols = list(COUNT_COLUMNS) + ["expected"]
        frame = self.topics.groupby("topic_id", as_index=False, sort=False)[cols].sum()
        frame["percent"] = [percent(s, e) for s, e in zip(frame["submitted"], frame["expected"])]
        return frame

    def submitted_by_cell(self) -> dict[tuple[int, int], int]:
        """(unit id, topic id) -> essays handed in, for tables that look cells up one by one."""
        cells = self.topics
        return dict(zip(zip(cells["unit_id"].tolist(), cells["topic_id"].tolist()), cells["submitted"].tolist()))

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


# The version in force as one number: 1 when on time, 1 + LATE when late, NULL when nothing was handed
# in by then. A SUM of codes is handed-in + LATE × late (both below 2^32 for any course), so each
# essay's version is looked up once: a COUNT and a SUM over the same correlated subquery make SQLite
# run the lookup twice.
LATE = 1 << 32


def _in_force_code(as_of: dt.datetime):
    return in_force_sql(case((EssayVersion.is_late, literal(LATE + 1, BigInteger)), else_=literal(1, BigInteger)),
                     as_of)


def _essay_join(course: Course):
    """ON clause from Enrollment to its trainee's essays on the course's topics."""
    # (trainee_id, topic_id) is the essay's unique index, so this join reads no essay row. The topic
    # test is written `topic_id + 0` so that SQLite cannot use it in the index: one seek per trainee
    # then reads their few essays side by side, instead of one seek per trainee and topic (half the time).
    return and_(Essay.trainee_id == Enrollment.user_id, (Essay.topic_id + 0).in_([t.id for t in course.topics]))


def _essays_of(query, course: Course):
    """Join a SELECT over Enrollment to its trainees' essays on the course's topics."""
    return query.join(Essay, _essay_join(course))


def _handed_in(course: Course, as_of: dt.datetime, unit_ids: list[int] | None):
    """One row per enrolled trainee × topic with the version in force as of the time (SQL)."""
    query = _essays_of(
        select(Enrollment.id.label("enrollment_id"), Enrollment.user_id, Enrollment.unit_id,
               Essay.topic_id, Essay.id.label("essay_id"), EssayVersion.id.label("version_id"),
               EssayVersion.submitted_at, EssayVersion.is_late, EssayVersion.under_extension), course)
    query = query.join(EssayVersion, EssayVersion.id == in_force_sql(EssayVersion.id, as_of)) \
        .where(Enrollment.course_id == course.id)
    if unit_ids is not None:
        query = query.where(Enrollment.unit_id.in_(unit_ids))
    return query


def core_rows(query) -> list[Any]:
    """All rows of a SELECT of columns, through the session's connection (pending changes flushed first).

    Not `db.session.execute`: for plain columns its ORM result path costs more than SQLite itself on
    big results (the country's 450,000 hand-ins: 12.7 s against 7.7 s at load 8).
    """
    db.session.flush()
    return list(db.session.connection().execute(query).all())


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def extensions_as_of(course: Course, as_of: dt.datetime, unit_ids: Iterable[int] | None = None) -> list[Extension]:
    """Extensions of the course granted by the time, for the given units or trainees enrolled there."""
    query = select(Extension).where(Extension.course_id == course.id, granted_by_sql(as_of))
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        trainees = select(Enrollment.user_id).where(Enrollment.course_id == course.id,
                                                    Enrollment.unit_id.in_(unit_ids))
        query = query.where(Extension.unit_id.in_(unit_ids) | Extension.trainee_id.in_(trainees))
    return list(db.session.scalars(query.order_by(Extension.id)))


def completeness(course: Course, as_of: dt.datetime | None = None,
                 unit_ids: Iterable[int] | None = None) -> Completeness:
    """Completeness of a course per unit and per unit × topic, as of a time (default now).

    The whole course's figures are kept in memory until something they count changes
    (review.completeness.cache); a few units are counted afresh, that is quick.
    """
    db.session.flush()  # the queries below go to the connection, which does not autoflush
    if unit_ids is not None:
        return _count(course, _as_utc(as_of), sorted(set(unit_ids)))
    key = completeness_cache.revision_key(course)
    if key is None:
        return _count(course, _as_utc(as_of), None)
    key = (*key, as_of and _as_utc(as_of))
    cache = completeness_cache.figures_cache()
    cached = cache.get(key)
    if cached is None:
        figures = _count(course, _as_utc(as_of), None)
        if as_of is not None or completeness_cache.nothing_dated_after(figures.as_of):
            cache.put(key, (figures.units.copy(), figures.topics.copy()))
        return figures
    units, topics = cached
    # Copies: a caller may change its frames; "now" is the time of this request (same figures).
    return Completeness(course=course, as_of=_as_utc(as_of), topic_list=list(course.topics), days=course.class_days,
                        units=units.copy(), topics=topics.copy())


def _count(course: Course, as_of: dt.datetime, unit_ids: list[int] | None) -> Completeness:
    """The figures of `completeness`, counted in the database."""
    topic_list = list(course.topics)
    topic_ids = [t.id for t in topic_list]
    days = course.class_days
    counts = _unit_counts(course, as_of, unit_ids, topic_ids, days)
    wanted = unit_ids if unit_ids is not None else list(counts.enrolled)
    names = {row[0]: (row[1], row[2]) for row in db.session.connection().execute(
        select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(wanted)))} if wanted else {}
    order = sorted(names, key=lambda u: (_unit_name_key(names[u][1]), u))
    cells = _topic_cells(course, as_of, unit_ids, order, topic_ids, counts)
    topics = _int_frame(cells, ["unit_id", "topic_id", "on_time", "late", "submitted", "exempt", "extension",
                                "missing", "expected", "percent"])
    rows = _unit_rows(order, names, counts, cells, days, len(topic_ids))
    return Completeness(course=course, as_of=as_of, topic_list=topic_list, days=days,
                        units=_int_frame(rows, list(rows)), topics=topics)


@dataclass
class _UnitCounts:
    """What the set-based queries of `_count` found: unit id -> a tuple of counts."""

    enrolled: dict[int, tuple]  # (trainees,)
    handed: dict[int, tuple]  # per topic: handed-in + LATE × late (see `_in_force_code`)
    exempt: dict[int, tuple]  # (exempt trainees, then per topic: essays they handed in anyway)
    attendance: dict[int, tuple]  # (present at least once, then present per class day)
    recorded: dict[int, tuple]  # (attendance rows, present or absent)


def _unit_counts(course: Course, as_of: dt.datetime, unit_ids: list[int] | None, topic_ids: list[int],
                 days: list[dt.date]) -> _UnitCounts:
    """One grouped query per figure, each over the course's enrolments."""
    connection = db.session.connection()

    def per_unit(query, *columns) -> dict[int, tuple]:
        # Core rows, not ORM ones: a few thousand rows, but their bookkeeping showed in the profile.
        query = query.where(Enrollment.course_id == course.id).group_by(Enrollment.unit_id)
        if unit_ids is not None:
            query = query.where(Enrollment.unit_id.in_(unit_ids))
        return {row[0]: tuple(row[1:]) for row in connection.execute(query.add_columns(*columns))}

    # Each query walks the course's enrolments in ix_enrollment_course_unit order and groups by unit
    # alone: SQLite aggregates as it goes instead of sorting every essay (≈ 0.2 s at country size).
    code = _in_force_code(as_of)
    return _UnitCounts(
        enrolled=per_unit(select(Enrollment.unit_id), func.count()),
        handed=per_unit(_essays_of(select(Enrollment.unit_id), course),
                        *[func.sum(case((Essay.topic_id == t, code))) for t in topic_ids]),
        # Exempt trainees, and how many essays they handed in anyway per topic.
        exempt=per_unit(select(Enrollment.unit_id).join(Exemption, Exemption.enrollment_id == Enrollment.id)
                        .outerjoin(Essay, _essay_join(course)), func.count(func.distinct(Enrollment.id)),
                        *[func.count(case((Essay.topic_id == t, code))) for t in topic_ids]),
        # Attendance: present on at least one day, and on each class day.
        attendance=per_unit(select(Enrollment.unit_id).join(Attendance, and_(
            Attendance.enrollment_id == Enrollment.id, Attendance.is_present.is_(True))),
            func.count(func.distinct(Attendance.enrollment_id)),
            *[func.sum(case((Attendance.day == day, 1), else_=0)) for day in days]),
        # Whether attendance was taken at all (any row, present or absent): not taken is not "0 present".
        recorded=per_unit(select(Enrollment.unit_id).join(Attendance, Attendance.enrollment_id == Enrollment.id),
                          func.count()))


def _topic_cells(course: Course, as_of: dt.datetime, unit_ids: list[int] | None, order: list[int],
                 topic_ids: list[int], counts: _UnitCounts) -> dict[str, list]:
    """Unit × topic cells, units in name order then topics in order; every topic even without an essay."""
    nothing, no_exemption = (None,) * len(topic_ids), (0,) * (len(topic_ids) + 1)
    cells: dict[str, list] = {c: [] for c in ("unit_id", "topic_id", "on_time", "late", "exempt", "waiting")}
    for unit_id in order:
        n_enrolled = counts.enrolled.get(unit_id, (0,))[0]
        n_exempt, *exempt_handed = counts.exempt.get(unit_id, no_exemption)
        for topic_id, packed, n_exempt_handed in zip(topic_ids, counts.handed.get(unit_id, nothing), exempt_handed):
            n_late, n_handed = divmod(int(packed or 0), LATE)
            cells["unit_id"].append(unit_id)
            cells["topic_id"].append(topic_id)
            cells["on_time"].append(n_handed - n_late)
            cells["late"].append(n_late)
            cells["exempt"].append(n_exempt - n_exempt_handed)
            cells["waiting"].append(n_enrolled - n_handed - (n_exempt - n_exempt_handed))
    waiting = cells.pop("waiting")
    cells["extension"] = _extended_counts(course, as_of, unit_ids, cells["unit_id"], cells["topic_id"], waiting)
    cells["submitted"] = [a + b for a, b in zip(cells["on_time"], cells["late"])]
    cells["missing"] = [w - x for w, x in zip(waiting, cells["extension"])]
    cells["expected"] = [w + s for w, s in zip(waiting, cells["submitted"])]
    cells["percent"] = [percent(s, e) for s, e in zip(cells["submitted"], cells["expected"])]
    return cells


def _unit_rows(order: list[int], names: dict[int, tuple], counts: _UnitCounts, cells: dict[str, list],
               days: list[dt.date], n: int) -> dict[str, list]:
    """Per unit: names, enrolment, attendance, and its `n` topic cells summed (they are consecutive)."""
    no_exemption, absent = (0,) * (n + 1), (0,) * (len(days) + 1)
    rows: dict[str, list] = {"unit_id": order, "code": [names[u][0] for u in order],
                             "name": [names[u][1] for u in order],
                             "enrolled": [counts.enrolled.get(u, (0,))[0] for u in order],
                             "exempt_trainees": [counts.exempt.get(u, no_exemption)[0] for u in order]}
    present = [counts.attendance.get(u, absent) for u in order]
    rows["attended"] = [p[0] for p in present]
    rows["attendance_recorded"] = [int(counts.recorded.get(u, (0,))[0] > 0) for u in order]
    for i, day in enumerate(days, start=1):
        rows[day_column(day)] = [p[i] for p in present]
    for c in list(COUNT_COLUMNS) + ["expected"]:
        rows[c] = [sum(cells[c][i:i + n]) for i in range(0, len(cells[c]), n)] if n else [0] * len(order)
    rows["percent"] = [percent(s, e) for s, e in zip(rows["submitted"], rows["expected"])]
    return rows


def _int_frame(columns: dict[str, list], order: list[str]) -> pd.DataFrame:
    """A DataFrame of these columns; integer ones (all but code, name, percent) as int64 even when empty."""
    frame = pd.DataFrame(columns, columns=order)
    ints = [c for c in order if c not in ("code", "name", "percent")]
    frame[ints] = frame[ints].astype("int64")
    return frame


def _extended_counts(course: Course, as_of: dt.datetime, unit_ids: list[int] | None,
                     cell_unit: list[int], cell_topic: list[int], waiting: list[int]) -> list[int]:
    """Per unit × topic cell: trainees with nothing handed in, not exempt, under an extension."""
    extensions = extensions_as_of(course, as_of, unit_ids)
    if not extensions:
        return [0] * len(cell_unit)
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
    for unit_id, topic_id, n_waiting in zip(cell_unit, cell_topic, waiting):
        if (unit_id, None) in unit_wide or (unit_id, topic_id) in unit_wide:
            result.append(int(n_waiting))
        else:
            result.append(extra.get((unit_id, topic_id), 0))
    return result


# Unit names hardly change and every overview sorts all of them (3,300 keys ≈ 0.1 s): keep the keys.
_unit_name_key = functools.lru_cache(maxsize=16_384)(vn_sort_key)

SORT_KEYS = ("name", "code", "enrolled", "attended", "submitted", "on_time", "late", "missing", "percent")


def sort_units(units: pd.DataFrame, key: str, descending: bool = False) -> pd.DataFrame:
    """Units ordered by a column; names in Vietnamese letter order, empty percentages last."""
    if key not in SORT_KEYS:
        key = "name"
    if key == "name":
        keys = [_unit_name_key(n) for n in units["name"].tolist()]
        order = sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)
        return units.iloc[order]
    return units.sort_values(key, ascending=not descending, kind="stable", na_position="last")


def trainee_states(course: Course, unit_ids: Iterable[int], as_of: dt.datetime | None = None,
                   states: Iterable[str] | None = None, topic_id: int | None = None) -> pd.DataFrame:
    """One row per trainee × topic of the given units: state, times in force, version handed in; by name."""
    as_of = _as_utc(as_of)
    unit_ids = sorted(set(unit_ids))
    people = _trainees(course, unit_ids)
    # Integers and a boolean for every essay; times and flags only for the cells kept (below).
    handed = core_rows(_handed_in(course, as_of, unit_ids).with_only_columns(
        Enrollment.id.label("enrollment_id"), Essay.topic_id, EssayVersion.id.label("version_id"),
        EssayVersion.is_late))
    topic_list = [t for t in course.topics if topic_id is None or t.id == topic_id]
    grid = _Grid.of(people, handed, topic_list)
    results, case_of = _judge(course, grid, handed, extensions_as_of(course, as_of, unit_ids))
    names = np.array([_FROM_STATUS[r.status] for r in results] or ["missing"], dtype=object)[case_of]
    names = np.where((grid.version < 0) & grid.is_exempt[grid.person], "exempt", names)
    keep = np.ones(len(names), dtype=bool) if states is None else np.isin(names, list(set(states)))
    cells = np.flatnonzero(keep)
    return _states_frame(people, grid, cells, names, [results[c] for c in case_of[cells].tolist()], handed)


_PEOPLE = ["enrollment_id", "user_id", "unit_id", "full_name", "username", "email", "exempt_reason", "phone",
           "position"]
_STATE_COLUMNS = [*_PEOPLE, "is_exempt", "topic_id", "topic_position", "topic_title", "state", "essay_id",
                  "version_id", "submitted_at", "under_extension", "due_at", "cutoff_at", "extended_until",
                  "extension_reason"]


def _trainees(course: Course, unit_ids: list[int]) -> pd.DataFrame:
    """The trainees enrolled in these units, with their exemption, in Vietnamese name order."""
    people = _frame(core_rows(
        select(Enrollment.id, Enrollment.user_id, Enrollment.unit_id, User.full_name, User.username,
               User.email, Exemption.reason, User.phone, User.position)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(Exemption, Exemption.enrollment_id == Enrollment.id)
        .where(Enrollment.course_id == course.id, Enrollment.unit_id.in_(unit_ids))), _PEOPLE)
    # Names repeat a lot across a country: compute each sort key once.
    name_keys = {name: vn_name_sort_string(name) for name in set(people["full_name"])}
    keys = [f"{name_keys[n]}\x00{u}" for n, u in zip(people["full_name"], people["username"])]
    # sorted() is stable like sort_values(kind="stable"), and much faster on strings than pandas.
    return people.iloc[sorted(range(len(keys)), key=keys.__getitem__)].reset_index(drop=True)


@dataclass
class _Grid:
    """Every trainee × topic cell, person by person (in name order) then topic by topic, as integer arrays."""

    topic_list: list[Topic]
    person: np.ndarray  # cell -> row of the people frame
    topic: np.ndarray  # cell -> index in topic_list
    version: np.ndarray  # cell -> index of the handed-in row in force, or -1
    is_late: np.ndarray  # cell -> the version in force was late
    is_exempt: np.ndarray  # person -> exempted by the unit officer
    user_ids: np.ndarray  # person -> user id
    unit_ids: np.ndarray  # person -> unit of enrolment
    topic_ids: np.ndarray  # topic index -> topic id

    @classmethod
    def of(cls, people: pd.DataFrame, handed: Sequence, topic_list: list[Topic]) -> "_Grid":
        n_topics = len(topic_list)
        person = np.repeat(np.arange(len(people)), n_topics)
        topic = np.tile(np.arange(n_topics), len(people))
        enrollment_ids = people["enrollment_id"].to_numpy(dtype="int64")
        topic_ids = np.array([t.id for t in topic_list], dtype="int64")
        version_at = {(r.enrollment_id, r.topic_id): i for i, r in enumerate(handed)}
        version = np.array([version_at.get(key, -1) for key in zip(enrollment_ids[person].tolist(),
                                                                    topic_ids[topic].tolist())], dtype="int64")
        return cls(topic_list=topic_list, person=person, topic=topic, version=version,
                   is_late=np.array([bool(r.is_late) for r in handed] + [False], dtype=bool)[version],
                   is_exempt=np.array([isinstance(r, str) for r in people["exempt_reason"]], dtype=bool),
                   user_ids=people["user_id"].to_numpy(dtype="int64"),
                   unit_ids=people["unit_id"].to_numpy(dtype="int64"), topic_ids=topic_ids)


def _judge(course: Course, grid: _Grid, handed: Sequence, extensions: list[Extension]) -> tuple[list, np.ndarray]:
    """`essay_state` of each distinct case, and each cell's case.

    The rules stay in essays.deadlines: `essay_state` is asked once per distinct case — the unit and
    topic (or the trainee, for the few holding their own extension) and what was handed in — not per cell.
    """
    by_unit: dict[int, list[Extension]] = {}
    by_trainee: dict[int, list[Extension]] = {}
    for e in extensions:
        if e.unit_id is not None:
            by_unit.setdefault(e.unit_id, []).append(e)
        if e.trainee_id is not None:
            by_trainee.setdefault(e.trainee_id, []).append(e)
    person, version = grid.person, grid.version
    own = np.isin(grid.user_ids, list(by_trainee))[person]
    kind = np.where(version < 0, 0, np.where(grid.is_late, 2, 1))
    case_keys = list(zip(np.where(own, grid.user_ids[person], 0).tolist(), grid.unit_ids[person].tolist(),
                         grid.topic.tolist(), kind.tolist()))
    cases: dict[tuple[int, int, int, int], int] = {}
    case_of = np.array([cases.setdefault(key, len(cases)) for key in case_keys], dtype="int64")
    first = np.full(len(cases), -1, dtype="int64")
    first[case_of[::-1]] = np.arange(len(case_of))[::-1]  # the first cell of each case
    results = []
    for cell in first.tolist():
        user_id, unit_id = int(grid.user_ids[person[cell]]), int(grid.unit_ids[person[cell]])
        # Candidates in Extension.id order, as `extensions_as_of` returns them (ties keep the earliest).
        candidates = sorted({e.id: e for e in by_unit.get(unit_id, []) + by_trainee.get(user_id, [])}.values(),
                            key=lambda e: e.id)
        results.append(essay_state(course, topic_id=int(grid.topic_ids[grid.topic[cell]]), trainee_id=user_id,
                                   unit_id=unit_id, version=handed[version[cell]] if version[cell] >= 0 else None,
                                   extensions=candidates))
    return results, case_of


def _version_details(version_ids: list[int]) -> dict[int, Any]:
    """Essay id, time handed in and extension flag of these versions, by version id."""
    details: dict[int, Any] = {}
    for start in range(0, len(version_ids), 900):  # SQLite's bound-parameter limit
        details.update((r.version_id, r) for r in db.session.execute(
            select(EssayVersion.id.label("version_id"), EssayVersion.essay_id, EssayVersion.submitted_at,
                   EssayVersion.under_extension).where(EssayVersion.id.in_(version_ids[start:start + 900]))))
    return details


def _states_frame(people: pd.DataFrame, grid: _Grid, cells: np.ndarray, names: np.ndarray, chosen: list,
                  handed: Sequence) -> pd.DataFrame:
    """The kept cells as trainee_states' rows: the person, the topic, the state, the version, the times."""
    in_force = grid.version[cells].tolist()
    details = _version_details(sorted({handed[v].version_id for v in in_force if v >= 0}))
    versions = [details[handed[v].version_id] if v >= 0 else None for v in in_force]
    picked = [grid.topic_list[t] for t in grid.topic[cells].tolist()]
    data = {c: people[c].to_numpy(dtype=object)[grid.person[cells]] for c in people.columns}
    data.update({
        "is_exempt": grid.is_exempt[grid.person[cells]].tolist(), "topic_id": [t.id for t in picked],
        "topic_position": [t.position for t in picked], "topic_title": [t.title for t in picked],
        "state": names[cells].tolist(),
        "essay_id": [v.essay_id if v else None for v in versions],
        "version_id": [v.version_id if v else None for v in versions],
        "submitted_at": [v.submitted_at if v else None for v in versions],
        "under_extension": [bool(v.under_extension) if v else False for v in versions],
        "due_at": [r.due_at for r in chosen], "cutoff_at": [r.cutoff_at for r in chosen],
        "extended_until": [r.deadlines.extended_until for r in chosen],
        "extension_reason": [r.deadlines.extension.reason if r.deadlines.extension else None for r in chosen],
    })
    # object dtype: essays not handed in keep None (not NaN) for ids and times.
    frame = pd.DataFrame({c: pd.Series(list(data[c]), dtype=object) for c in _STATE_COLUMNS}, columns=_STATE_COLUMNS,
                         dtype=object)
    for column in ("enrollment_id", "user_id", "unit_id", "topic_id", "topic_position"):
        frame[column] = frame[column].astype("int64")
    return frame
