"""Time roster imports of 5,000 and 50,000 new trainees (.xlsx) into a fresh SQLite database.

Run: .venv/bin/python bench/roster_import.py [ROWS ...]   (default: 5000 50000)
Prints, per size: build time of the file, reading the workbook alone, first import (all new
accounts), re-import (all matched, nothing changed), rows/s, and the SELECT count; then the
per-hash cost of the two argon2 settings, and the load average (the machine may be shared).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
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
from lms.roster import _hash_initial_passwords, _initial_hasher, import_roster, read_table  # noqa: E402
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
            locked_at: list[float] = []  # when each BEGIN IMMEDIATE (SQLite's write lock) was issued

            def count(conn, cursor, statement, *args):
                nonlocal selects
                selects += statement.lstrip().upper().startswith("SELECT")
                if statement.strip().upper() == "BEGIN IMMEDIATE":
                    locked_at.append(time.perf_counter())

            t0 = time.perf_counter()
            read_table(data, "bench.xlsx")
            reading = time.perf_counter() - t0
            event.listen(db.engine(), "before_cursor_execute", count)
            timings = []
            for label in ("first import (new accounts)", "re-import (unchanged)"):
                selects = 0
                db.session.commit()  # as the pages, the API and the CLI call it: no transaction open
                locked_at.clear()
                t0, c0 = time.perf_counter(), time.process_time()
                result = import_roster(data, "bench.xlsx", course.id)
                db.session.commit()
                end = time.perf_counter()
                seconds = end - t0
                # The write lock: from the import's (last) BEGIN IMMEDIATE to the commit.
                locked = end - locked_at[-1] if locked_at else 0.0
                timings.append((label, seconds, time.process_time() - c0, locked, result, selects))
            users = db.session.scalar(select(func.count()).select_from(User))
            enrolments = db.session.scalar(select(func.count()).select_from(Enrollment))
        db.engine(app).dispose()
    print(f"{n:>6} rows  file {len(data) / 1e6:.1f} MB built in {built:.1f} s; users={users} enrolments={enrolments}; "
          f"reading the workbook alone {reading:.1f} s; load average {load_average()}")
    for label, seconds, cpu, locked, result, sel in timings:
        # CPU seconds of this process (all threads): what the import costs when the cores are not shared.
        print(f"        {label:<28} {seconds:7.1f} s  {n / seconds:8.0f} rows/s  CPU {cpu:6.1f} s  "
              f"write lock held {locked:5.1f} s  "
              f"created={result.created} unchanged={result.unchanged} enrolled={result.enrolled} SELECTs={sel}")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def hash_costs() -> None:
    for label, fn, times in (("hash_password (login strength)", hash_password, 10),
                             ("initial-password hasher", _initial_hasher.hash, 200)):
        t0 = time.perf_counter()
        for _ in range(times):
            fn("abcdefghjk")
        print(f"argon2 {label:<32} {(time.perf_counter() - t0) * 1000 / times:6.2f} ms/hash")
    t0 = time.perf_counter()
    _hash_initial_passwords(["abcdefghjk"] * 10_000)
    print(f"10,000 initial passwords in the import's thread pool: {time.perf_counter() - t0:.1f} s; "
          f"load average {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[5000, 50000], help="roster sizes (default: 5000 50000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, for the spread (default 1)")
    args = parser.parse_args()
    for size in args.rows:
        for _ in range(args.repeat):
            run(size)
    hash_costs()


if __name__ == "__main__":
    main()
