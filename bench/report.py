"""Time the report (.xlsx and .docx) on a city-sized and a country-sized course; optionally render preview pages.

Run: .venv/bin/python bench/report.py [--sizes city,country] [--keep DIR] [--preview docs/report-preview]
  city:    103 units (Cần Thơ's wards), 5,000 trainees, 15,000 essays, 20,000 tags
  country: 3,300 units (every ward), 150,000 trainees, 450,000 essays, 60,000 tags
Data is bulk-inserted into a temporary SQLite database created with lms.migrate.upgrade (--keep: in
DIR/report-<size>.db, reused by the next run). Prints the data load, the .xlsx and the .docx built
from it, the .docx's own data load, and both files from one aggregation (build_files): wall and
CPU seconds with the load average, the completeness cache cleared before each aggregation.
--preview renders the city .docx to PDF (LibreOffice headless, private profile) and PNG (pdftoppm, 100 dpi).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from essays.models import Essay, EssayVersion  # noqa: E402
from lms import create_app  # noqa: E402
from lms.db import db  # noqa: E402
from lms.migrate import upgrade  # noqa: E402
from lms.models import Course, Enrollment, Role, Topic, Unit, User  # noqa: E402
from lms.text import fold  # noqa: E402
from lms.units import match_name  # noqa: E402
from review.completeness.cache import figures_cache  # noqa: E402
from review.completeness.models import Attendance  # noqa: E402
from review.tagging.models import PassageGroup, Tag, TagTheme, Theme  # noqa: E402
from review.report.data import build_report_data  # noqa: E402
from review.report.docx import report_docx  # noqa: E402
from review.report.prose import default_prose  # noqa: E402
from review.report.operations import build_files  # noqa: E402
from review.report.xlsx import report_xlsx  # noqa: E402

SIZES = {"city": dict(units=103, trainees=5_000, essays=15_000, tags=20_000),
         "country": dict(units=3_300, trainees=150_000, essays=450_000, tags=60_000)}
TOPICS = ("Những điểm mới, cốt lõi của Nghị quyết Đại hội", "Liên hệ thực tiễn công tác ở cơ sở",
          "Trách nhiệm của cán bộ, đảng viên trong xây dựng chính quyền hai cấp",
          "Giải pháp nâng cao chất lượng phục vụ người dân")
# theme -> (kind, what the passages say); near-duplicates reuse the same sentence.
SAYINGS = {
    "Chuyển đổi số": [("proposal", "Đề nghị thành phố đầu tư đồng bộ hạ tầng số, máy tính và đường truyền cho bộ phận một cửa các phường, xã."),
                      ("recommendation", "Kiến nghị tổ chức tập huấn kỹ năng số cho cán bộ khu vực, ấp và tổ dân phố."),
                      ("proposal", "Đề xuất kết nối, chia sẻ dữ liệu dân cư giữa các phần mềm chuyên ngành để người dân không phải khai báo nhiều lần.")],
    "Công tác cán bộ": [("recommendation", "Kiến nghị sớm ban hành quy định chế độ phụ cấp đối với cán bộ không chuyên trách sau sắp xếp."),
                        ("proposal", "Đề xuất bố trí đủ biên chế công chức địa chính – xây dựng cho các xã có diện tích lớn.")],
    "Cải cách hành chính": [("proposal", "Đề xuất phân cấp mạnh hơn cho cấp xã trong giải quyết thủ tục đất đai."),
                            ("recommendation", "Kiến nghị rút ngắn thời gian liên thông hồ sơ giữa thành phố và phường.")],
    "Cơ sở vật chất": [("recommendation", "Kiến nghị hỗ trợ kinh phí sửa chữa trụ sở làm việc của các xã sau hợp nhất.")],
    "Tổ chức lớp học": [("proposal", "Đề xuất bổ sung tài liệu điện tử và tổ chức thêm buổi trao đổi trực tiếp tại điểm cầu.")],
    "An sinh xã hội": [("recommendation", "Kiến nghị tăng mức hỗ trợ cho hộ cận nghèo và người cao tuổi neo đơn.")],
    "Quốc phòng, an ninh": [("proposal", "Đề xuất tăng cường lực lượng tham gia bảo vệ an ninh, trật tự ở cơ sở.")],
    "Kinh tế nông nghiệp": [("proposal", "Đề xuất hỗ trợ nông dân chuyển đổi giống lúa chất lượng cao và liên kết tiêu thụ.")],
}
ESSAY_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức sâu sắc hơn về trách nhiệm của cán bộ cơ sở trong việc gần dân, "
              "lắng nghe dân và giải quyết kịp thời những kiến nghị chính đáng của người dân. ")
FAMILY = ["Nguyễn Văn", "Trần Thị", "Lê Hoàng", "Phạm Minh", "Huỳnh Thị", "Võ Văn", "Đặng Thị", "Bùi Quốc"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Đào", "Giang", "Hà", "Hải", "Khánh", "Linh", "Mai", "Nam"]


def wards(n: int) -> list[dict]:
    """The first n wards of the country list, Cần Thơ's first (province code 92)."""
    with open(ROOT / "lms" / "data" / "vn_wards_2025.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: (r["province_name"] != "Thành phố Cần Thơ", int(r["province_code"]), int(r["ward_code"])))
    return [{"code": r["ward_code"], "name": r["ward_name"], "kind": r["ward_type"], "province_code": r["province_code"],
             "province_name": r["province_name"], "match_name": match_name(r["ward_name"])} for r in rows[:n]]


def chunks(rows: list[dict], size: int = 20_000):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def bulk(model, rows: list[dict]) -> None:
    for part in chunks(rows):
        db.session.execute(insert(model), part)


def populate(units: int, trainees: int, essays: int, tags: int, seed: int = 7) -> Course:
    """Bulk-insert a course with the given sizes; returns it."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    due = now - dt.timedelta(days=3)
    course = Course(name="Lớp bồi dưỡng, cập nhật kiến thức cho cán bộ chủ chốt phường, xã năm 2026",
                    starts_on=(due - dt.timedelta(days=9)).date(), ends_on=(due - dt.timedelta(days=8)).date(),
                    essay_due_at=due, cutoff_at=now + dt.timedelta(days=2),
                    topics=[Topic(position=i + 1, title=t) for i, t in enumerate(TOPICS)])
    db.session.add(course)
    reviewer = User(username="bantochuc", password_hash="x", role=Role.reviewer, full_name="Cán bộ Ban Tổ chức")
    db.session.add(reviewer)
    db.session.flush()
    bulk(Unit, wards(units))
    unit_ids = [u for u, in db.session.execute(select(Unit.id).order_by(Unit.id))]
    # Wards differ in size and in diligence, so the per-unit figures are not all alike.
    weights = [0.4 + rng.random() for _ in unit_ids]
    diligence = {u: 0.55 + 0.45 * rng.random() for u in unit_ids}
    people = rng.choices(unit_ids, weights=weights, k=trainees)
    bulk(User, [{"username": f"hv{i:06d}", "password_hash": "x", "role": Role.trainee, "unit_id": u,
                 "full_name": f"{FAMILY[i % 8]} {GIVEN[i % 12]} {i}", "is_active_account": True, "created_at": now}
                for i, u in enumerate(people)])
    first_user = db.session.scalar(select(User.id).where(User.username == "hv000000"))
    bulk(Enrollment, [{"course_id": course.id, "user_id": first_user + i, "unit_id": u, "created_at": now}
                      for i, u in enumerate(people)])
    first_enrollment = db.session.scalar(select(Enrollment.id).where(Enrollment.user_id == first_user))
    days = course.class_days
    bulk(Attendance, [{"enrollment_id": first_enrollment + i, "day": d, "is_present": True, "marked_at": now}
                      for i, u in enumerate(people) for d in days if rng.random() < 0.6 + 0.4 * diligence[u]])
    topic_ids = [t.id for t in course.topics]
    # Which (trainee, topic) handed in: the most diligent wards first, until the essay count is reached.
    cells = [(i, t) for i in range(trainees) for t in range(len(topic_ids))]
    rng.shuffle(cells)
    cells.sort(key=lambda c: rng.random() * diligence[people[c[0]]], reverse=True)
    chosen = sorted(cells[:essays])
    essay_rows, version_rows = [], []
    for n, (i, t) in enumerate(chosen):
        late = rng.random() < 0.12
        at = due + dt.timedelta(hours=rng.randint(1, 40)) if late else due - dt.timedelta(hours=rng.randint(1, 200))
        essay_rows.append({"course_id": course.id, "topic_id": topic_ids[t], "trainee_id": first_user + i,
                           "unit_id": people[i], "version_count": 1, "created_at": at})
        version_rows.append({"number": 1, "text": ESSAY_TEXT, "chars": len(ESSAY_TEXT), "sha256": "0" * 64,
                             "size": len(ESSAY_TEXT), "kind": "paste", "submitted_at": at, "is_late": late,
                             "under_extension": False, "uploaded_by_id": first_user + i})
    bulk(Essay, essay_rows)
    first_essay = db.session.scalar(select(Essay.id).order_by(Essay.id).limit(1)) or 1
    for n, row in enumerate(version_rows):
        row["essay_id"] = first_essay + n
    bulk(EssayVersion, version_rows)
    first_version = db.session.scalar(select(EssayVersion.id).order_by(EssayVersion.id).limit(1)) or 1
    db.session.execute(Essay.__table__.update().values(current_version_id=Essay.id - first_essay + first_version))

    themes = {}
    for name in SAYINGS:
        theme = Theme(name=name)
        db.session.add(theme)
        themes[name] = theme
    db.session.flush()
    # Popular themes are tagged more often: the report sorts by frequency.
    pool = [(name, kind, text) for name, says in SAYINGS.items() for kind, text in says]
    pool_weights = [len(SAYINGS) - list(SAYINGS).index(name) for name, _k, _t in pool]
    tag_rows, links = [], []
    spans: set[tuple[int, int]] = set()  # a span (version, start, end) is tagged once: the tag's unique index
    for k in range(tags):
        n = rng.randrange(len(chosen))
        name, kind, text = rng.choices(pool, weights=pool_weights)[0]
        while (n, len(text)) in spans:
            n = rng.randrange(len(chosen))
        spans.add((n, len(text)))
        tag_rows.append({"essay_id": first_essay + n, "version_id": first_version + n, "course_id": course.id,
                         "unit_id": essay_rows[n]["unit_id"], "start_offset": 0, "end_offset": len(text),
                         "text": text, "folded": fold(text), "kind": kind, "created_by_id": reviewer.id,
                         "created_at": now, "updated_at": now})
        links.append([themes[name].id] + ([themes["Chuyển đổi số"].id] if k % 17 == 0 and name != "Chuyển đổi số"
                                          else []))
    bulk(Tag, tag_rows)
    first_tag = db.session.scalar(select(Tag.id).order_by(Tag.id).limit(1)) or 1
    bulk(TagTheme, [{"tag_id": first_tag + k, "theme_id": t} for k, ids in enumerate(links) for t in ids])
    # Reviewers confirmed near-duplicates: most of each saying's passages fall into one group,
    # some stay single (not yet reviewed), so the report counts groups and singles side by side.
    by_text: dict[str, list[int]] = {}
    for k, row in enumerate(tag_rows):
        by_text.setdefault(row["text"], []).append(first_tag + k)
    for ids in by_text.values():
        reviewed = ids[: int(len(ids) * 0.9)]
        size = max(len(reviewed), 2)
        for start in range(0, len(reviewed), size):
            group = PassageGroup(course_id=course.id, confirmed_by_id=reviewer.id)
            db.session.add(group)
            db.session.flush()
            for part in chunks(reviewed[start:start + size], 900):
                db.session.execute(Tag.__table__.update().where(Tag.id.in_(part)).values(group_id=group.id))
    db.session.commit()
    return course


def timed(label: str, fn):
    """Run fn; print wall seconds, this process's CPU seconds (what idle cores would take) and the load."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  {label:<62} {time.perf_counter() - start:7.2f} s  CPU {time.process_time() - cpu:6.2f} s  "
          f"load average {load}", flush=True)
    return result


def run(name: str, preview: Path | None, keep: Path | None = None) -> None:
    sizes = SIZES[name]
    folder = Path(tempfile.mkdtemp(prefix="report-bench-"))
    db_file = keep / f"report-{name}.db" if keep else folder / "bench.db"
    reuse = db_file.exists()
    app = create_app({"DATABASE_URL": f"sqlite:///{db_file}", "SECRET_KEY": "bench",
                      "DATA_DIR": str(folder / "data"), "INDEXER_IN_PROCESS": False})
    with app.app_context():
        upgrade(app)
        print(f"{name}: {sizes['units']:,} units, {sizes['trainees']:,} trainees, {sizes['essays']:,} essays, "
              f"{sizes['tags']:,} tags")
        course = db.session.scalar(select(Course)) if reuse else timed("bulk insert", lambda: populate(**sizes))
        db.session.commit()
        # Each aggregation below starts cold: completeness's per-course cache is per app.
        cold = figures_cache().clear
        cold()
        data = timed("data load (completeness + themes + missing list)", lambda: build_report_data(course))
        xlsx = timed(".xlsx from it", lambda: report_xlsx(data))
        docx = timed(".docx from it", lambda: report_docx(data, _prose()))
        cold()
        timed(".docx alone: data load without the missing list", lambda: build_report_data(course, with_missing=False))
        cold()
        files, _data = timed("both from one aggregation (build_files: data + .xlsx + .docx)",
                             lambda: build_files(course, ["xlsx", "docx"], None))
        print(f"  sizes: .xlsx {len(xlsx) / 1e6:.1f} MB, .docx {len(docx) / 1e6:.1f} MB; "
              f"completeness {data.totals['percent']}%, {data.themes.totals()['passages']:,} distinct passages")
        if preview is not None:
            render(docx, preview, name)
    shutil.rmtree(folder, ignore_errors=True)


def _prose():
    prose = default_prose()
    prose.number = "45-BC/BTCTU"
    prose.signer_name = "Nguyễn Văn Thành"
    return prose


def render(docx: bytes, target: Path, name: str) -> None:
    """.docx → PDF (LibreOffice, private profile) → PNG pages at 100 dpi, kept in `target`."""
    work = Path(tempfile.mkdtemp(prefix="report-render-"))
    source = work / f"bao-cao-{name}.docx"
    source.write_bytes(docx)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{work / 'profile'}", "--headless", "--convert-to",
                    "pdf", "--outdir", str(work), str(source)], check=True, capture_output=True, timeout=300)
    pdf = source.with_suffix(".pdf")
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(target / f"{name}-page")], check=True,
                   timeout=300)
    shutil.copy(pdf, target / f"{name}.pdf")
    print(f"  rendered {pdf.name} into {target}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="city,country")
    parser.add_argument("--preview", type=Path, default=None, help="render the city .docx pages here")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the databases in this folder (report-<size>.db) and reuse them on the next run")
    args = parser.parse_args()
    for name in args.sizes.split(","):
        run(name.strip(), args.preview if name.strip() == "city" else None, args.keep)


if __name__ == "__main__":
    main()
