"""The completeness figures agree with a count written out by hand over the rows the test created."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from lms.db import db, utcnow
from lms.text import vn_name_key
from essays.operations import grant_extension
from review.completeness.figures import completeness, day_column, trainee_states
from tests.review.completeness_roster import Roster, roster  # noqa: F401  (a fixture)


def independent_states(r: Roster, as_of: dt.datetime,
                       extensions: list[tuple[int | None, int | None, int | None, dt.datetime]] = ()
                       ) -> dict[tuple[int, int], str]:
    """State of every (trainee, topic) by plain loops: last version by then decides; then exempt, extension."""
    states = {}
    for unit in r.units:
        for trainee in r.trainees[unit.code]:
            for topic in r.topics:
                handed = [(at, at > r.due_at) for at, _ in r.versions.get((trainee.id, topic.id), []) if at <= as_of]
                if handed:
                    last = max(handed)
                    state = "late" if last[1] else "on_time"
                elif trainee.id in r.exempt:
                    state = "exempt"
                elif any(granted <= as_of and (t_id == trainee.id or (t_id is None and u_id == unit.id))
                         and (top is None or top == topic.id) for t_id, u_id, top, granted in extensions):
                    state = "extension"
                else:
                    state = "missing"
                states[(trainee.id, topic.id)] = state
    return states


def assert_figures(r: Roster, as_of: dt.datetime, extensions=()) -> None:
    expected = independent_states(r, as_of, list(extensions))
    figures = completeness(r.course, as_of)
    assert sorted(figures.units["code"]) == sorted(u.code for u in r.units)
    for unit in r.units:
        people = r.trainees[unit.code]
        row = figures.unit(unit.id)
        assert row["enrolled"] == len(people)
        for day in r.course.class_days:
            assert row[day_column(day)] == sum((p.id, day) in r.present for p in people)
        assert row["attended"] == sum(any((p.id, d) in r.present for d in r.course.class_days) for p in people)
        total = Counter()
        for topic in r.topics:
            counts = Counter(expected[(p.id, topic.id)] for p in people)
            got = figures.topics[(figures.topics["unit_id"] == unit.id) & (figures.topics["topic_id"] == topic.id)]
            got = got.iloc[0]
            for state in ("on_time", "late", "extension", "missing", "exempt"):
                assert got[state] == counts[state], (unit.code, topic.position, state)
            assert got["submitted"] == counts["on_time"] + counts["late"]
            total.update(counts)
        submitted = total["on_time"] + total["late"]
        assert row["submitted"] == submitted
        assert row["missing"] == total["missing"]
        assert row["percent"] == round(100 * submitted / (len(people) * len(r.topics) - total["exempt"]), 1)
        # The per-trainee table says the same, cell by cell.
        table = trainee_states(r.course, [unit.id], as_of)
        assert {(row.user_id, row.topic_id): row.state for row in table.itertuples()} == \
            {(p.id, t.id): expected[(p.id, t.id)] for p in people for t in r.topics}


def test_figures_now_match_an_independent_count(roster):
    assert_figures(roster, utcnow())


def test_as_of_before_and_after_the_late_submissions(roster):
    before = roster.due_at + dt.timedelta(minutes=10)
    assert_figures(roster, before)
    assert_figures(roster, roster.due_at + dt.timedelta(minutes=25))
    assert_figures(roster, utcnow())
    figures_before = completeness(roster.course, before).totals()
    figures_after = completeness(roster.course).totals()
    assert figures_before["late"] == 0
    assert figures_after["late"] > 0
    assert figures_after["submitted"] - figures_before["submitted"] == figures_after["late"] - sum(
        # revised essays were on time before their late second version, so they do not add to the count
        1 for (tid, _), vs in roster.versions.items() if len(vs) == 2)


def test_a_late_hand_in_moves_a_trainee_from_missing_to_late_as_of_then(roster, hand_in):
    trainee, topic = roster.trainees["X03"][0], roster.topics[0]
    assert (trainee.id, topic.id) not in roster.versions or pytest.skip("pattern changed")
    before = utcnow()
    row = lambda figures: figures.unit_topics(roster.units[2].id).set_index("topic_id").loc[topic.id]  # noqa: E731
    missing_before = row(completeness(roster.course))["missing"]
    version = hand_in(trainee, topic)
    roster.versions[(trainee.id, topic.id)] = [(version.submitted_at, True)]
    assert version.is_late
    assert row(completeness(roster.course))["missing"] == missing_before - 1
    assert row(completeness(roster.course, before))["missing"] == missing_before
    assert_figures(roster, before)
    assert_figures(roster, utcnow())


def test_exempt_trainees_are_not_missing(roster):
    figures = completeness(roster.course)
    thoi_lai = figures.unit(roster.units[2].id)
    assert thoi_lai["exempt_trainees"] == 1
    exempt = roster.trainees["X03"][2]
    table = trainee_states(roster.course, [roster.units[2].id])
    mine = table[table["user_id"] == exempt.id]
    assert set(mine["state"]) <= {"exempt", "on_time", "late"}
    assert "exempt" in set(mine["state"]) and "missing" not in set(mine["state"])
    assert mine["exempt_reason"].iloc[0] == "Ốm, có giấy xác nhận"


def test_extensions_count_as_of_their_grant(roster, hand_in):
    course, p01, p02 = roster.course, roster.units[0], roster.units[1]
    before_grant = utcnow()
    until = utcnow() + dt.timedelta(days=2)
    one = roster.trainees["P01"][1]
    grant_extension(roster.officers["P01"], course, trainee=one, until_at=until, reason="Đi công tác")
    grant_extension(roster.reviewer, course, unit=p02, topic=roster.topics[0], until_at=until,
                    reason="Mất điện cả phường")
    db.session.commit()
    granted = utcnow()
    extensions = [(one.id, None, None, granted), (None, p02.id, roster.topics[0].id, granted)]
    assert_figures(roster, before_grant, extensions)
    assert_figures(roster, utcnow(), extensions)
    assert completeness(course).unit(p02.id)["extension"] > 0
    # Handing in under the extension is on time, and shows the time in force.
    topic = next(t for t in roster.topics if (one.id, t.id) not in roster.versions)
    version = hand_in(one, topic)
    assert version.under_extension and not version.is_late
    roster.versions[(one.id, topic.id)] = [(version.submitted_at, False)]
    table = trainee_states(course, [p01.id])
    cell = table[(table["user_id"] == one.id) & (table["topic_id"] == topic.id)].iloc[0]
    assert cell["state"] == "on_time" and cell["under_extension"] and cell["due_at"] == until
    # independent count: a hand-in under extension is on time although after the course's due time
    expected = independent_states(roster, utcnow(), extensions)
    expected[(one.id, topic.id)] = "on_time"
    assert Counter(table["state"]) == Counter(expected[(p.id, t.id)] for p in roster.trainees["P01"]
                                              for t in roster.topics)


def test_trainees_are_listed_the_vietnamese_way(roster):
    unit = roster.units[1]
    table = trainee_states(roster.course, [unit.id])
    names = list(dict.fromkeys(table["full_name"]))
    assert names == sorted((p.full_name for p in roster.trainees["P02"]), key=vn_name_key)
    # given name first: Ân < Cường < Dung < Đức < Em
    assert names == ["Huỳnh Thị Ân", "Đặng Văn Cường", "Ngô Thị Dung", "Võ Minh Đức", "Lý Văn Em"]


def test_a_subset_of_units_gives_the_same_rows(roster):
    everything = completeness(roster.course)
    some = completeness(roster.course, unit_ids=[roster.units[0].id, roster.units[3].id])
    assert sorted(some.units["code"]) == ["P01", "P04"]
    for unit_id in (roster.units[0].id, roster.units[3].id):
        assert some.unit(unit_id) == everything.unit(unit_id)
