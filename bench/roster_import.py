"""Time roster imports of 5,000 and 50,000 new trainees (.xlsx) into a fresh SQLite database.

Run: .venv/bin/python bench/roster_import.py [ROWS ...]   (default: 5000 50000)
Prints, per size: build time of the file, first import (all new accounts), re-import (all matched,
nothing changed), rows/s, and the SELECT count; then the per-hash cost of the two argon2 settings.
"""
from __future__ import annotations

import datetime as dt
import io
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lms import create_app  # noqa: E402
from lms.db import db  # noqa: E402
from lms.migrate import upgrade  # noqa: E402
from lms.models import Course, Enrollment, Topic, Unit, User  # noqa: E402
from lms.roster import _initial_hasher, import_roster  # noqa: E402
from lms.security import hash_password  # noqa: E402
from lms.units import load_province  # noqa: E402

FAMILY = ["Nguyễn Văn", "Trần Thị", "Lê Hoàng", "Phạm Minh", "Huỳnh Thị", "Võ Văn", "Đặng Thị", "Bùi Quốc"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Đào", "Giang", "Hà", "Hải", "Khánh", "Linh", "Mai", "Nam"]


def build_xlsx(n: int, units: list[Unit]) -> bytes:
    """A roster as an office would send it: title rows, Vietnamese headers, real dates, unit names."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["DANH SÁCH HỌC VIÊN"])
    ws.append([])
    ws.append(["STT", "Họ và tên", "Ngày sinh", "Chức vụ", "Đơn vị", "SĐT", "Email"])
    for i in range(n):
        unit = units[i % len(units)]
        ws.append([i + 1, f"{FAMILY[i % 8]} {GIVEN[i % 12]} {i}", dt.datetime(1965 + i % 35, 1 + i % 12, 1 + i % 28),
                   "Chuyên viên", unit.name if i % 2 else unit.code, f"09{i:08d}", f"hv{i}@cantho.gov.vn"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench", "DATA_DIR": tmp,
                          "FEATURES": (), "INDEXER_IN_PROCESS": False})
        with app.app_context():
            upgrade(app)
            load_province("92")
            now = dt.datetime.now(dt.timezone.utc)
            course = Course(name="Bench", starts_on=now.date(), ends_on=now.date(), essay_due_at=now,
                            cutoff_at=now, topics=[Topic(position=1, title="Chủ đề")])
            db.session.add(course)
            db.session.commit()
            units = list(db.session.scalars(select(Unit).order_by(Unit.code)))
            t0 = time.perf_counter()
            data = build_xlsx(n, units)
            built = time.perf_counter() - t0

            selects = 0

            def count(conn, cursor, statement, *args):
                nonlocal selects
                selects += statement.lstrip().upper().startswith("SELECT")

            event.listen(db.engine(), "before_cursor_execute", count)
            timings = []
            for label in ("first import (new accounts)", "re-import (unchanged)"):
                selects = 0
                t0 = time.perf_counter()
                result = import_roster(data, "bench.xlsx", course.id)
                db.session.commit()
                seconds = time.perf_counter() - t0
                timings.append((label, seconds, result, selects))
            users = db.session.scalar(select(func.count()).select_from(User))
            enrolments = db.session.scalar(select(func.count()).select_from(Enrollment))
        db.engine(app).dispose()
    print(f"{n:>6} rows  file {len(data) / 1e6:.1f} MB built in {built:.1f} s; users={users} enrolments={enrolments}")
    for label, seconds, result, sel in timings:
        print(f"        {label:<28} {seconds:7.1f} s  {n / seconds:8.0f} rows/s  "
              f"created={result.created} unchanged={result.unchanged} enrolled={result.enrolled} SELECTs={sel}")


def hash_costs() -> None:
    for label, fn in (("hash_password (login strength)", hash_password), ("initial-password hasher", _initial_hasher.hash)):
        t0 = time.perf_counter()
        for _ in range(10):
            fn("abcdefghjk")
        print(f"argon2 {label:<32} {(time.perf_counter() - t0) * 100:6.1f} ms/hash")


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [5000, 50000]
    for size in sizes:
        run(size)
    hash_costs()
