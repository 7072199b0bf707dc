"""Completeness fixtures: a course with several units and a known pattern of essays, attendance, exemptions and extensions."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from lms.db import db, utcnow
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from review.completeness.models import Attendance, Exemption

# (unit code, unit name, trainee names): names chosen so the Vietnamese order differs from code order.
UNITS = [
    ("P01", "Phường Ninh Kiều", ["Trần Văn Bình", "Nguyễn Thị Ánh", "Lê Văn An", "Phạm Thị Đào"]),
    ("P02", "Phường Cái Răng", ["Võ Minh Đức", "Huỳnh Thị Ân", "Đặng Văn Cường", "Ngô Thị Dung", "Lý Văn Em"]),
    ("X03", "Xã Thới Lai", ["Bùi Văn Giang", "Đỗ Thị Hà", "Hồ Văn Hải"]),
    ("P04", "Phường Bình Thủy", ["Mai Văn Khoa", "Tô Thị Lan", "Châu Văn Long", "Dương Thị My", "Kim Văn Nam",
                                  "Lâm Thị Oanh"]),
]


def pattern(u: int, i: int, t: int) -> str | None:
    """What trainee i of unit u did on topic t: 'on_time', 'late', 'revised_late' or None."""
    return {0: "on_time", 1: "late", 2: None, 3: "on_time", 4: "revised_late", 5: None}[(u + 2 * i + t) % 6]


@dataclass
class Roster:
    """Everything the roster fixture created, as plain values a test can loop over."""

    course: Course
    topics: list[Topic]
    units: list[Unit]
    trainees: dict[str, list[User]]
    officers: dict[str, User]
    reviewer: User
    admin: User
    due_at: dt.datetime
    # (trainee_id, topic_id) -> list of (submitted_at, is_late) of every version
    versions: dict[tuple[int, int], list[tuple[dt.datetime, bool]]] = field(default_factory=dict)
    essay_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    exempt: set[int] = field(default_factory=set)
    # (trainee_id, day)
    present: set[tuple[int, dt.date]] = field(default_factory=set)
    unit_of: dict[int, int] = field(default_factory=dict)


@pytest.fixture
def roster(app, make_unit, make_user, make_course, enroll, hand_in) -> Roster:
    """Four units, 18 trainees, three topics; due an hour ago, cut-off in two days."""
    now = utcnow().replace(microsecond=0)
    due_at = now - dt.timedelta(hours=1)
    course = make_course(due_at=due_at, cutoff_at=now + dt.timedelta(days=2))
    topics = list(course.topics)
    units, trainees, officers = [], {}, {}
    reviewer = make_user(Role.reviewer, username="bantochuc", full_name="Cán bộ Ban Tổ chức")
    admin = make_user(Role.admin, username="quantri", full_name="Quản trị")
    r = Roster(course=course, topics=topics, units=units, trainees=trainees, officers=officers,
               reviewer=reviewer, admin=admin, due_at=due_at)
    days = course.class_days
    for u, (code, name, names) in enumerate(UNITS):
        unit = make_unit(code=code, name=name)
        units.append(unit)
        officers[code] = make_user(Role.officer, unit=unit, username=f"canbo-{code.lower()}",
                                   full_name=f"Cán bộ {name}", email=f"canbo-{code.lower()}@example.vn")
        trainees[code] = []
        for i, full_name in enumerate(names):
            trainee = make_user(Role.trainee, unit=unit, username=f"hv-{code.lower()}-{i}", full_name=full_name,
                                email=f"hv-{code.lower()}-{i}@example.vn" if i % 2 == 0 else None)
            enrollment = enroll(trainee, course)
            trainees[code].append(trainee)
            r.unit_of[trainee.id] = unit.id
            for d, day in enumerate(days):
                if (u + i + d) % 3 != 0:
                    db.session.add(Attendance(enrollment_id=enrollment.id, day=day, is_present=True))
                    r.present.add((trainee.id, day))
                elif d == 0:
                    db.session.add(Attendance(enrollment_id=enrollment.id, day=day, is_present=False))
            for t, topic in enumerate(topics):
                what = pattern(u, i, t)
                times = {"on_time": [due_at - dt.timedelta(days=1)],
                         "late": [due_at + dt.timedelta(minutes=30)],
                         "revised_late": [due_at - dt.timedelta(hours=5), due_at + dt.timedelta(minutes=20)],
                         None: []}[what]
                for at in times:
                    version = hand_in(trainee, topic, at)
                    r.versions.setdefault((trainee.id, topic.id), []).append((at, version.is_late))
                    r.essay_ids[(trainee.id, topic.id)] = version.essay_id
    # Exempt: the last trainee of Thới Lai (handed in nothing on topic 2) and one who handed in everything.
    for trainee in (trainees["X03"][2], trainees["P04"][5], trainees["P01"][0]):
        enrollment_id = db.session.scalar(select(Enrollment.id).where(
            Enrollment.user_id == trainee.id, Enrollment.course_id == course.id))
        db.session.add(Exemption(enrollment_id=enrollment_id, reason="Ốm, có giấy xác nhận", granted_by_id=admin.id))
        r.exempt.add(trainee.id)
    db.session.commit()
    return r
