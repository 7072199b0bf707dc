"""Demo data: a class modelled on the one of 23–24/5/2026, placed around today so submission is open."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import select

from lms.db import db
from lms.hooks import DEMO
from lms.models import Course, Enrollment, Role, Unit, User
from lms.security import hash_password
from lms.timefmt import LOCAL_TZ
from lms.units import add_unit, load_province

DEMO_PASSWORD = "thuhoach2026"
DEMO_COURSE_NAME = "Lớp bồi dưỡng, cập nhật kiến thức cho cán bộ chủ chốt (trực tuyến)"
DEMO_TOPICS = [
    "Chuyên đề 1: Những điểm mới trong văn kiện Đại hội XIV của Đảng",
    "Chuyên đề 2: Tổ chức bộ máy chính quyền địa phương hai cấp",
    "Chuyên đề 3: Chuyển đổi số và cải cách hành chính ở cơ sở",
]
# A dozen connection points: city wards and rural communes.
DEMO_WARDS = ["31135", "31120", "31147", "31261", "31168", "31186", "31207", "31231", "31246", "31255",
              "31258", "31153"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Đào", "Giang", "Hà", "Hải", "Khánh", "Linh", "Mai", "Nam",
         "Ngọc", "Phúc", "Quân", "Sơn", "Thảo", "Trung", "Uyên", "Vy", "Ánh", "Ân", "Đức", "Yến"]
FAMILY = ["Nguyễn Văn", "Trần Thị", "Lê Hoàng", "Phạm Minh", "Huỳnh Thị", "Võ Văn", "Đặng Thị", "Bùi Quốc"]

# Features add their demo data (essays, tags, a report) by appending callables here.
DemoStep = Callable[[Course, dict[str, User]], list[tuple[str, str, str]]]


def demo_logins() -> list[tuple[str, str, str]]:
    """The demo's login rows, for printing again when the demo is already loaded."""
    return [("admin", DEMO_PASSWORD, "Quản trị viên"), ("bantochuc", DEMO_PASSWORD, "Ban Tổ chức Thành ủy"),
            ("canbo.31135", DEMO_PASSWORD, "Cán bộ Phường Ninh Kiều"),
            ("hv.31135.1", DEMO_PASSWORD, "Học viên")]


def load_demo() -> list[tuple[str, str, str]]:
    """Create the demo class, wards, people of every role; return (username, password, label) rows."""
    load_province("92")
    if not db.session.scalar(select(Unit).where(Unit.code == "TCT")):
        add_unit("TCT", "Trường Chính trị thành phố Cần Thơ")
    wards = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_(DEMO_WARDS + ["TCT"])))}
    today = dt.datetime.now(LOCAL_TZ).date()
    existing = db.session.scalar(select(Course).where(Course.name == DEMO_COURSE_NAME))
    course = existing or Course(
        name=DEMO_COURSE_NAME,
        starts_on=today - dt.timedelta(days=2), ends_on=today - dt.timedelta(days=1),
        essay_due_at=dt.datetime.combine(today + dt.timedelta(days=2), dt.time(17, 0), LOCAL_TZ),
        cutoff_at=dt.datetime.combine(today + dt.timedelta(days=4), dt.time(17, 0), LOCAL_TZ),
        description="Mô phỏng lớp học trực tuyến ngày 23–24/5/2026 truyền hình tới 103 điểm cầu.")
    if existing is None:
        from lms.models import Topic

        course.topics = [Topic(position=i + 1, title=t) for i, t in enumerate(DEMO_TOPICS)]
        db.session.add(course)
    db.session.flush()

    people: dict[str, User] = {}
    logins: list[tuple[str, str, str]] = []
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash the shared password once

    def person(username: str, role: Role, name: str, unit: Unit | None, label: str | None = None) -> User:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, role=role, full_name=name, unit=unit,
                        password_hash=password_hash)
            db.session.add(user)
        people[username] = user
        if label:
            logins.append((username, DEMO_PASSWORD, label))
        return user

    person("admin", Role.admin, "Quản trị hệ thống", None, "Quản trị viên")
    person("bantochuc", Role.reviewer, "Nguyễn Thị Thu Hương", None, "Ban Tổ chức Thành ủy")
    for i, code in enumerate(DEMO_WARDS + ["TCT"]):
        unit = wards[code]
        person(f"canbo.{code.lower()}", Role.officer, f"Cán bộ {unit.name}", unit,
               f"Cán bộ {unit.name}" if i < 2 else None)
        for j in range(6):
            given, family = GIVEN[(i * 6 + j) % len(GIVEN)], FAMILY[(i + j) % len(FAMILY)]
            username = f"hv.{code.lower()}.{j + 1}"
            trainee = person(username, Role.trainee, f"{family} {given}", unit,
                             "Học viên" if (i, j) == (0, 0) else None)
            db.session.flush()
            if not db.session.scalar(select(Enrollment.id).where(
                    Enrollment.course_id == course.id, Enrollment.user_id == trainee.id)):
                db.session.add(Enrollment(course_id=course.id, user_id=trainee.id, unit_id=unit.id))
    db.session.flush()
    for step in DEMO.providers():
        logins.extend(step(course, people))
    return logins
