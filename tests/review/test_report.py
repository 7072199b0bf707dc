"""The report's figures, .xlsx and .docx agree with a count written out by hand over the rows the test created."""
from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pytest
from docx import Document
from sqlalchemy import select

from essays.models import Extension
from essays.operations import grant_extension, submit_essay
from lms.db import db, utcnow
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.timefmt import fmt_datetime
from review.completeness.models import Attendance, Exemption
from review.report.data import build_report_data, theme_figures
from review.report.docx import report_docx
from review.report.formatting import vn_int, vn_pct
from review.report.operations import build_files
from review.report.prose import default_prose
from review.report.xlsx import SHEETS, report_xlsx
from review.tagging.models import Theme
from review.tagging.operations import confirm_group, tag_passage

BASE_TEXT = ("Qua lớp bồi dưỡng, tôi nhận thức sâu sắc hơn về trách nhiệm của cán bộ cơ sở trong việc gần dân, "
             "lắng nghe dân và giải quyết kịp thời những kiến nghị chính đáng của người dân. ")
SAY = {
    "so": "Đề nghị thành phố đầu tư hạ tầng chuyển đổi số cho các phường, xã.",
    "so2": "Kiến nghị tập huấn kỹ năng số cho cán bộ ấp, khu vực.",
    "cb": "Kiến nghị tăng phụ cấp cho cán bộ không chuyên trách ở cơ sở.",
    "eq": "=1+1 đề nghị bố trí thêm biên chế công chức địa chính.",
    "both": "Đề xuất số hoá hồ sơ cán bộ, đảng viên để quản lý thống nhất.",
    "late": "Đề xuất tổ chức lớp bồi dưỡng trực tiếp tại phường.",
}
# (code, name, kind, trainees)
UNITS = [("P01", "Phường Ninh Kiều", "phường", 4), ("X02", "Xã Thới Lai", "xã", 3),
         ("P03", "Phường Cái Răng", "phường", 2)]
# What trainee i of unit u does on topic t; "later" is handed in after the report's time.
PLAN = {
    ("P01", 0): ["on", "on"], ("P01", 1): ["late", "revised"], ("P01", 2): ["on", None], ("P01", 3): [None, None],
    ("X02", 0): ["on", "later"], ("X02", 1): [None, "on"], ("X02", 2): ["late", "late"],
    ("P03", 0): ["revised", "on"], ("P03", 1): [None, None],
}
EXEMPT = {("P03", 1)}
EXTENDED = {("X02", 1)}  # a trainee extension for every topic, granted before the report's time


@dataclass
class ReportWorld:
    course: Course
    topics: list[Topic]
    units: dict[str, Unit]
    trainees: dict[tuple[str, int], User]
    reviewer: User
    admin: User
    officers: dict[str, User]
    due_at: dt.datetime
    as_of: dt.datetime
    versions: dict[tuple[int, int], list[tuple[dt.datetime, bool]]] = field(default_factory=dict)
    present: set[tuple[int, dt.date]] = field(default_factory=set)
    themes: dict[str, Theme] = field(default_factory=dict)
    # tag id -> (unit code, theme names, kind, essay id, text, handed in after as_of)
    tags: dict[int, tuple[str, tuple[str, ...], str, int, str, bool]] = field(default_factory=dict)
    grouped: set[int] = field(default_factory=set)


def make_report_world(make_unit, make_user, make_course, enroll) -> ReportWorld:
    now = utcnow().replace(microsecond=0)
    due_at = now - dt.timedelta(days=3)
    course = make_course(name="Lớp bồi dưỡng Nghị quyết 2026", topics=(
        "Những điểm mới của Nghị quyết", "Liên hệ thực tiễn ở cơ sở"), due_at=due_at,
        cutoff_at=now + dt.timedelta(days=2))
    reviewer = make_user(Role.reviewer, full_name="Lê Thu Hương")
    admin = make_user(Role.admin)
    w = ReportWorld(course=course, topics=list(course.topics), units={}, trainees={}, reviewer=reviewer, admin=admin,
                    officers={}, due_at=due_at, as_of=due_at + dt.timedelta(days=1))
    times = {"on": [due_at - dt.timedelta(days=1)], "late": [due_at + dt.timedelta(hours=1)],
             "revised": [due_at - dt.timedelta(days=1), due_at + dt.timedelta(hours=2)],
             "later": [due_at + dt.timedelta(days=2)], None: []}
    for u, (code, name, kind, n) in enumerate(UNITS):
        unit = make_unit(code=code, name=name, kind=kind)
        w.units[code] = unit
        w.officers[code] = make_user(Role.officer, unit=unit)
        for i in range(n):
            trainee = make_user(Role.trainee, unit=unit, full_name=f"Học viên {code} {i}")
            w.trainees[(code, i)] = trainee
            enrollment = enroll(trainee, course)
            for d, day in enumerate(course.class_days):
                if (u + i + d) % 3 != 0:
                    db.session.add(Attendance(enrollment_id=enrollment.id, day=day, is_present=True))
                    w.present.add((trainee.id, day))
            if (code, i) in EXEMPT:
                db.session.add(Exemption(enrollment_id=enrollment.id, reason="Ốm", granted_by_id=admin.id))
            if (code, i) in EXTENDED:
                ext = grant_extension(admin, course, trainee=trainee, until_at=now + dt.timedelta(days=1),
                                      reason="Công tác đột xuất")
                ext.granted_at = due_at - dt.timedelta(hours=3)  # granted before the report's time
            db.session.commit()
    for (code, i), plan in PLAN.items():
        trainee = w.trainees[(code, i)]
        for t, what in enumerate(plan):
            topic = w.topics[t]
            text = BASE_TEXT + " ".join(SAY.values())
            for at in times[what]:
                version = submit_essay(trainee, topic, data=None, filename=None, text=text, uploaded_by=trainee,
                                       now=at)
                db.session.commit()
                w.versions.setdefault((trainee.id, topic.id), []).append((at, version.is_late))

    for name in ("Chuyển đổi số", "Công tác cán bộ", "Tổ chức lớp học"):
        w.themes[name] = Theme(name=name)
        db.session.add(w.themes[name])
    db.session.commit()

    def tag(code: str, i: int, t: int, key: str, themes: tuple[str, ...], kind: str) -> int:
        from essays.models import Essay
        trainee = w.trainees[(code, i)]
        essay = db.session.scalar(select(Essay).where(Essay.trainee_id == trainee.id,
                                                      Essay.topic_id == w.topics[t].id))
        text = essay.current_version.text
        start = text.index(SAY[key])
        created = tag_passage(essay, start=start, end=start + len(SAY[key]), kind=kind,
                              theme_ids=[w.themes[n].id for n in themes], by=reviewer)
        db.session.commit()
        after = min(at for at, _ in w.versions[(trainee.id, w.topics[t].id)]) > w.as_of
        w.tags[created.id] = (code, themes, kind, essay.id, SAY[key], after)
        return created.id

    a = tag("P01", 0, 0, "so", ("Chuyển đổi số",), "proposal")
    b = tag("X02", 0, 0, "so", ("Chuyển đổi số",), "proposal")
    tag("P03", 0, 0, "so2", ("Chuyển đổi số",), "recommendation")
    tag("P01", 1, 0, "cb", ("Công tác cán bộ",), "recommendation")
    tag("P01", 2, 0, "eq", ("Công tác cán bộ",), "proposal")
    tag("X02", 2, 1, "both", ("Chuyển đổi số", "Công tác cán bộ"), "proposal")
    tag("X02", 0, 1, "late", ("Tổ chức lớp học",), "proposal")  # on the essay handed in after the time
    confirm_group(course.id, [a, b], reviewer)
    db.session.commit()
    w.grouped = {a, b}
    return w


@pytest.fixture
def report_world(app, make_unit, make_user, make_course, enroll) -> ReportWorld:
    return make_report_world(make_unit, make_user, make_course, enroll)


# --- the independent count ------------------------------------------------------------------------

def expected_units(w: ReportWorld, as_of: dt.datetime) -> dict[str, dict]:
    """Per unit, by plain loops over what the test did: the rules of essays/deadlines.py restated."""
    out = {}
    for code, _name, _kind, n in UNITS:
        row = Counter(enrolled=n)
        per_topic = {}
        for day in w.course.class_days:
            row[f"day_{day.isoformat()}"] = sum((w.trainees[(code, i)].id, day) in w.present for i in range(n))
        row["attended"] = sum(any((w.trainees[(code, i)].id, d) in w.present for d in w.course.class_days)
                              for i in range(n))
        for t, topic in enumerate(w.topics):
            c = Counter()
            for i in range(n):
                handed = [(at, late) for at, late in w.versions.get((w.trainees[(code, i)].id, topic.id), [])
                          if at <= as_of]
                if handed:
                    c["late" if max(handed)[1] else "on_time"] += 1
                elif (code, i) in EXEMPT:
                    c["exempt"] += 1
                elif (code, i) in EXTENDED:
                    c["extension"] += 1
                else:
                    c["missing"] += 1
            c["submitted"] = c["on_time"] + c["late"]
            c["expected"] = n - c["exempt"]
            per_topic[t] = c
            row.update(c)
        row["percent"] = round(100 * row["submitted"] / row["expected"], 1) if row["expected"] else None
        out[code] = {"row": row, "topics": per_topic}
    return out


def expected_themes(w: ReportWorld, as_of_after: bool) -> dict[tuple[str, str], dict[str, int]]:
    """(theme, kind) -> passages (group once), tags, essays, units; `as_of_after` keeps later hand-ins."""
    out: dict[tuple[str, str], dict] = {}
    for tag_id, (code, themes, kind, essay_id, _text, after) in w.tags.items():
        if after and not as_of_after:
            continue
        for theme in themes:
            entry = out.setdefault((theme, kind), {"clusters": set(), "tags": set(), "essays": set(), "units": set()})
            entry["clusters"].add("group" if tag_id in w.grouped else tag_id)
            entry["tags"].add(tag_id)
            entry["essays"].add(essay_id)
            entry["units"].add(code)
    return {k: {"passages": len(v["clusters"]), "tags": len(v["tags"]), "essays": len(v["essays"]),
                "units": len(v["units"])} for k, v in out.items()}


# --- tests ----------------------------------------------------------------------------------------

def test_theme_figures_count_groups_once_and_respect_the_time(report_world):
    w = report_world
    for as_of, after in ((w.as_of, False), (utcnow(), True)):
        got = theme_figures(w.course, as_of).themes
        want = expected_themes(w, after)
        assert {(r.theme, r.kind) for r in got.itertuples()} == set(want)
        for r in got.itertuples():
            assert {k: getattr(r, k) for k in ("passages", "tags", "essays", "units")} == want[(r.theme, r.kind)]
    # Most frequent theme first.
    assert theme_figures(w.course, w.as_of).themes["theme"].iloc[0] == "Chuyển đổi số"


def test_xlsx_figures_match_an_independent_count(report_world):
    w = report_world
    data = build_report_data(w.course, w.as_of)
    book = pd.read_excel(io.BytesIO(report_xlsx(data)), sheet_name=None, engine="openpyxl")
    assert list(book) == list(SHEETS)
    want = expected_units(w, w.as_of)

    units = book["Theo đơn vị"]
    assert len(units) == len(UNITS) + 1  # one row per unit, then the totals
    for code, _name, _kind, _n in UNITS:
        got = units[units["Mã đơn vị"] == code].iloc[0]
        row = want[code]["row"]
        assert got["Ghi danh"] == row["enrolled"]
        for day in w.course.class_days:
            assert got[f"Có mặt {day:%d/%m}"] == row[f"day_{day.isoformat()}"]
        assert got["Có mặt (≥1 buổi)"] == row["attended"]
        for t, topic in enumerate(w.topics):
            c = want[code]["topics"][t]
            assert got[f"CĐ{topic.position} đã nộp"] == c["submitted"]
            assert got[f"CĐ{topic.position} đúng hạn"] == c["on_time"]
            assert got[f"CĐ{topic.position} muộn"] == c["late"]
            assert got[f"CĐ{topic.position} chưa nộp"] == c["missing"] + c["extension"]
        for column, key in (("Đã nộp", "submitted"), ("Đúng hạn", "on_time"), ("Nộp muộn", "late"),
                            ("Được gia hạn", "extension"), ("Chưa nộp", "missing"), ("Miễn nộp", "exempt"),
                            ("Phải nộp", "expected")):
            assert got[column] == row[key], (code, column)
        assert got["Tỉ lệ hoàn thành (%)"] == pytest.approx(row["percent"])
    total = units[units["Đơn vị"] == "Tổng cộng"].iloc[0]
    city = sum((want[c]["row"] for c in want), Counter())
    assert total["Ghi danh"] == city["enrolled"] == 9
    assert total["Đã nộp"] == city["submitted"]
    assert total["Tỉ lệ hoàn thành (%)"] == pytest.approx(round(100 * city["submitted"] / city["expected"], 1))

    summary = dict(zip(book["Tổng hợp"]["Chỉ tiêu"], book["Tổng hợp"]["Giá trị"]))
    assert summary["Học viên ghi danh"] == 9
    assert summary["Số bài đã nộp"] == city["submitted"]
    assert summary["Nộp muộn"] == city["late"]
    assert summary["Chưa nộp"] == city["missing"]
    assert summary["Được gia hạn, chưa nộp"] == city["extension"]

    topics = book["Theo chủ đề"]
    for t, topic in enumerate(w.topics):
        got = topics[topics["Chủ đề số"] == topic.position].iloc[0]
        counts = sum((want[c]["topics"][t] for c in want), Counter())
        assert (got["Đã nộp"], got["Đúng hạn"], got["Nộp muộn"], got["Chưa nộp"], got["Phải nộp"]) == (
            counts["submitted"], counts["on_time"], counts["late"], counts["missing"], counts["expected"])

    themes = book["Lĩnh vực kiến nghị – đề xuất"]
    want_themes = expected_themes(w, False)
    labels = {"Kiến nghị": "recommendation", "Đề xuất": "proposal"}
    assert len(themes) == len(want_themes)
    for r in themes.to_dict("records"):
        assert (r["Số ý kiến"], r["Số đoạn gắn thẻ"], r["Số bài"], r["Số đơn vị"]) == tuple(
            want_themes[(r["Lĩnh vực kiến nghị, đề xuất"], labels[r["Loại"]])][k]
            for k in ("passages", "tags", "essays", "units"))

    passages = book["Kiến nghị – đề xuất"]
    kept = [tid for tid, v in w.tags.items() if not v[5]]
    assert sorted(passages["Mã thẻ"]) == sorted(kept)
    # A passage starting with "=" is text, not a formula.
    assert any(str(x).startswith("'=1+1") for x in passages["Nội dung"])

    missing = book["Chưa nộp"]
    assert len(missing) == city["missing"] + city["extension"]


def test_as_of_excludes_later_hand_ins(report_world):
    w = report_world
    before = build_report_data(w.course, w.as_of)
    after = build_report_data(w.course, utcnow())
    later = sum(1 for versions in w.versions.values() if min(at for at, _ in versions) > w.as_of)
    assert later == 1
    assert after.totals["submitted"] == before.totals["submitted"] + later
    assert after.themes.totals()["tags"] == before.themes.totals()["tags"] + 1


def test_docx_reads_back_with_the_same_figures(report_world):
    w = report_world
    data = build_report_data(w.course, w.as_of)
    prose = default_prose()
    prose.number = "45-BC/BTCTU"
    prose.signer_name = "Nguyễn Văn Thành"
    doc = Document(io.BytesIO(report_docx(data, prose)))

    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert 20 <= round(section.top_margin.mm) <= 25 and 20 <= round(section.bottom_margin.mm) <= 25
    assert 30 <= round(section.left_margin.mm) <= 35 and 15 <= round(section.right_margin.mm) <= 20
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    fonts = normal.element.rPr.rFonts
    assert fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "Times New Roman"

    header = doc.tables[0]
    left, right = header.rows[0].cells
    assert [p.text for p in left.paragraphs] == ["ĐẢNG BỘ THÀNH PHỐ CẦN THƠ", "BAN TỔ CHỨC THÀNH ỦY", "*",
                                                 "Số 45-BC/BTCTU"]
    assert right.paragraphs[0].text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    date_par = right.paragraphs[-1]
    local = data.as_of.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert date_par.text.startswith(f"Cần Thơ, ngày {local.day:02d} tháng ")
    assert date_par.text.endswith(f"năm {local.year}") and date_par.runs[0].italic

    text = "\n".join(" ".join(p.text.split()) for p in doc.paragraphs)
    assert "BÁO CÁO" in text
    assert "Kết quả tổ chức lớp bồi dưỡng và tổng hợp bài thu hoạch, kiến nghị, đề xuất" in text
    for heading in ("I. TÌNH HÌNH TỔ CHỨC", "II. TÌNH HÌNH THAM GIA", "III. KẾT QUẢ NỘP BÀI",
                    "IV. KIẾN NGHỊ, ĐỀ XUẤT"):
        assert heading in text
    want = expected_units(w, w.as_of)
    city = sum((want[c]["row"] for c in want), Counter())
    assert f"Đã nộp {vn_int(city['submitted'])} bài, đạt {vn_pct(round(100 * city['submitted'] / city['expected'], 1))}" in text
    # Section IV: most frequent theme first, with the wards it comes from.
    assert text.index("1. Chuyển đổi số") < text.index("2. Công tác cán bộ")
    assert "2 phường, xã đề xuất: “Đề nghị thành phố đầu tư hạ tầng chuyển đổi số" in text
    assert "Tổ chức lớp học" not in text  # only tagged on an essay handed in after the time

    signature = doc.tables[1]
    assert "T/M BAN TỔ CHỨC THÀNH ỦY" in signature.rows[0].cells[1].text
    assert "Nguyễn Văn Thành" in signature.rows[0].cells[1].text
    assert "Nơi nhận:" in signature.rows[0].cells[0].text

    appendix = doc.tables[2]
    rows = [[c.text for c in r.cells] for r in appendix.rows]
    header_row, body = rows[0], rows[1:]
    assert len(body) == len(UNITS) + 1
    for code, name, _kind, _n in UNITS:
        row = next(r for r in body if r[1] == name)
        got = dict(zip(header_row, row))
        expected = want[code]["row"]
        assert got["Ghi danh"] == vn_int(expected["enrolled"])
        for t, topic in enumerate(w.topics):
            assert got[f"Đã nộp CĐ{topic.position}"] == vn_int(want[code]["topics"][t]["submitted"])
        assert got["Chưa nộp"] == vn_int(expected["missing"] + expected["extension"])
        assert got["Tỉ lệ hoàn thành"] == vn_pct(expected["percent"])
    assert body[-1][1] == "Tổng cộng" and body[-1][2] == "9"
    assert len(doc.inline_shapes) == 2  # the two charts


def test_unit_report_shows_only_that_unit(report_world):
    w = report_world
    unit = w.units["X02"]
    data = build_report_data(w.course, w.as_of, unit=unit)
    assert data.figures.units["code"].tolist() == ["X02"]
    assert set(data.themes.passages["unit_code"]) == {"X02"}
    doc = Document(io.BytesIO(report_docx(data, default_prose(unit))))
    left = doc.tables[0].rows[0].cells[0]
    assert [p.text for p in left.paragraphs][:2] == ["ĐẢNG BỘ THÀNH PHỐ CẦN THƠ", "ĐẢNG ỦY XÃ THỚI LAI"]
    book = pd.read_excel(io.BytesIO(report_xlsx(data)), sheet_name="Theo đơn vị", engine="openpyxl")
    assert book["Mã đơn vị"].dropna().tolist() == ["X02"]


def test_empty_course_gives_a_valid_report_with_zeros(app, make_course):
    course = make_course(name="Lớp chưa có học viên")
    data = build_report_data(course)
    book = pd.read_excel(io.BytesIO(report_xlsx(data)), sheet_name=None, engine="openpyxl")
    assert list(book) == list(SHEETS)
    summary = dict(zip(book["Tổng hợp"]["Chỉ tiêu"], book["Tổng hợp"]["Giá trị"]))
    assert summary["Học viên ghi danh"] == 0 and summary["Số bài đã nộp"] == 0
    assert book["Kiến nghị – đề xuất"].empty and book["Chưa nộp"].empty
    doc = Document(io.BytesIO(report_docx(data, default_prose())))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "chưa có kiến nghị, đề xuất nào" in text
    assert doc.tables[2].rows[-1].cells[1].text == "Tổng cộng"


def test_a_control_character_stored_in_a_name_does_not_break_the_files(app, make_unit, make_course):
    # Stored before the course API refused them (or written by a roster, a backup, SQL): the files still build.
    make_unit(name="Phường\x01 Lạ\x1f")
    course = make_course(name="Lớp\x01 bồi dưỡng")
    data = build_report_data(course)
    doc = Document(io.BytesIO(report_docx(data, default_prose())))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Lớp bồi dưỡng" in text, [line for line in text.splitlines() if "Lớp" in line]
    assert list(pd.read_excel(io.BytesIO(report_xlsx(data)), sheet_name=None, engine="openpyxl")) == list(SHEETS)


def test_issuing_body_and_place_come_from_the_configuration(app, make_unit, make_course):
    app.config.update(REPORT_ISSUER="ĐẢNG BỘ TỈNH AN GIANG", REPORT_PLACE="Long Xuyên", REPORT_AREA="tỉnh",
                      REPORT_BOARD="Ban Tổ chức Tỉnh ủy", REPORT_BOARD_NUMBER="-BC/BTCTU",
                      REPORT_BOARD_RECIPIENTS="Thường trực Tỉnh ủy (để báo cáo),\nLưu Văn phòng Ban.")
    course = make_course(name="Lớp bồi dưỡng Nghị quyết 2026")
    board = default_prose()
    assert (board.parent_org, board.org_name, board.place, board.signer_for) == (
        "ĐẢNG BỘ TỈNH AN GIANG", "BAN TỔ CHỨC TỈNH ỦY", "Long Xuyên", "T/M BAN TỔ CHỨC TỈNH ỦY")
    school = default_prose(make_unit(code="TCT", name="Trường Chính trị tỉnh", kind="khác"))
    assert school.place == "Long Xuyên" and school.recipients.startswith("Ban Tổ chức Tỉnh ủy (để báo cáo)")
    doc = Document(io.BytesIO(report_docx(build_report_data(course), board)))
    assert [p.text for p in doc.tables[0].rows[0].cells[0].paragraphs][:2] == ["ĐẢNG BỘ TỈNH AN GIANG",
                                                                              "BAN TỔ CHỨC TỈNH ỦY"]
    assert doc.tables[0].rows[0].cells[1].paragraphs[-1].text.startswith("Long Xuyên, ngày ")
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Ban Tổ chức Tỉnh ủy báo cáo" in text and "Thành ủy" not in text and "Cần Thơ" not in text
    assert "Thường trực Tỉnh ủy" in doc.tables[1].rows[0].cells[0].text
    summary = pd.read_excel(io.BytesIO(report_xlsx(build_report_data(course))), sheet_name="Tổng hợp", engine="openpyxl")
    assert "Toàn tỉnh" in summary.astype(str).to_string()


def test_report_settings_read_the_environment(monkeypatch, tmp_path):
    from lms.config import build_config

    monkeypatch.setenv("THUHOACH_REPORT_PLACE", "Long Xuyên")
    monkeypatch.setenv("THUHOACH_REPORT_RECIPIENTS", "Thường trực Tỉnh ủy (để báo cáo),|Lưu Văn phòng Ban.")
    config = build_config(tmp_path, {"SECRET_KEY": "x"})
    assert config["REPORT_PLACE"] == "Long Xuyên"
    assert config["REPORT_BOARD_RECIPIENTS"] == "Thường trực Tỉnh ủy (để báo cáo),\nLưu Văn phòng Ban."
    assert config["REPORT_ISSUER"] == "ĐẢNG BỘ THÀNH PHỐ CẦN THƠ"


def test_xlsx_and_docx_from_one_aggregation_agree(report_world):
    """`build_files` computes the figures once; both files state the same totals, per topic and per theme."""
    w = report_world
    files, data = build_files(w.course, ["xlsx", "docx"], w.as_of)
    assert set(files) == {"xlsx", "docx"} and len(data.missing)  # the .xlsx's missing list was computed
    book = pd.read_excel(io.BytesIO(files["xlsx"]), sheet_name=None, engine="openpyxl")
    summary = dict(zip(book["Tổng hợp"]["Chỉ tiêu"], book["Tổng hợp"]["Giá trị"]))
    doc = Document(io.BytesIO(files["docx"]))
    text = "\n".join(" ".join(p.text.split()) for p in doc.paragraphs)
    assert summary["Số liệu tính đến"] == fmt_datetime(data.as_of)
    assert (f"Đã nộp {vn_int(summary['Số bài đã nộp'])} bài, đạt {vn_pct(summary['Tỉ lệ hoàn thành (%)'])}; "
            f"trong đó nộp đúng hạn {vn_int(summary['Nộp đúng hạn'])} bài, nộp muộn {vn_int(summary['Nộp muộn'])} bài"
            in text)
    for r in book["Theo chủ đề"].to_dict("records"):
        assert (f"Chủ đề {r['Chủ đề số']}: đã nộp {vn_int(r['Đã nộp'])}/{vn_int(r['Phải nộp'])} bài "
                f"({vn_pct(r['Tỉ lệ hoàn thành (%)'])}), đúng hạn {vn_int(r['Đúng hạn'])}, muộn {vn_int(r['Nộp muộn'])}, "
                f"chưa nộp {vn_int(r['Chưa nộp'] + r['Được gia hạn'])}.") in text
    themes = book["Lĩnh vực kiến nghị – đề xuất"]["Lĩnh vực kiến nghị, đề xuất"].drop_duplicates().tolist()
    quoted = [t for t in themes if f". {t}" in text]
    assert quoted == themes  # section IV names every theme of the workbook, in the workbook's order
    assert [text.index(f". {t}") for t in quoted] == sorted(text.index(f". {t}") for t in quoted)
    # The same figures as two separate builds give.
    alone = pd.read_excel(io.BytesIO(report_xlsx(build_report_data(w.course, w.as_of))), sheet_name=None,
                          engine="openpyxl")
    assert all(alone[name].equals(book[name]) for name in SHEETS)
