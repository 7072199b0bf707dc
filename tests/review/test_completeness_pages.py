"""Completeness pages, downloads and API: the right figures for the right people, nothing for the others."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from lms.db import db, utcnow
from lms.models import Role
from lms.timefmt import to_local
from review.completeness.figures import completeness, trainee_states
from review.completeness.models import Attendance, Exemption
from tests.review.completeness_roster import roster  # noqa: F401  (a fixture)


def unit_url(r, code: str, suffix: str = "") -> str:
    return f"/completeness/{r.course.id}/units/{code}{suffix}"


def test_officer_home_is_their_units_table(roster, client, auth):
    auth.login(roster.officers["P02"])
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/completeness/")
    page = client.get("/completeness/", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Phường Cái Răng" in html
    names = re.findall(r'<tr data-username="([^"]+)">', html)
    table = trainee_states(roster.course, [roster.units[1].id])
    assert names == list(dict.fromkeys(table["username"]))
    # Every cell shows the state the shared function computed, and handed-in cells link to the essay.
    for row in table.itertuples():
        if row.essay_id is not None and row.essay_id == row.essay_id:
            assert f'href="/essays/{int(row.essay_id)}"' in html


def test_filters_missing_only_and_topic(roster, client, auth):
    auth.login(roster.officers["P01"])
    topic = roster.topics[1]
    html = client.get(unit_url(roster, "P01") + f"?missing=1&topic={topic.id}").get_data(as_text=True)
    table = trainee_states(roster.course, [roster.units[0].id], topic_id=topic.id)
    expected = [r.username for r in table.itertuples() if r.state in ("missing", "extension")]
    assert re.findall(r'<tr data-username="([^"]+)">', html) == expected
    assert 'data-topic="1"' not in html and 'data-topic="2"' in html


@pytest.mark.parametrize("suffix", ["", "/missing.xlsx", "/essays.zip", "/essays.docx", "/attendance"])
def test_officer_cannot_reach_another_unit(roster, client, auth, suffix):
    auth.login(roster.officers["P01"])
    answer = client.get(unit_url(roster, "P02", suffix))
    assert answer.status_code == 404
    body = answer.get_data()
    for trainee in roster.trainees["P02"]:
        assert trainee.full_name.encode() not in body and trainee.username.encode() not in body
    assert client.get(unit_url(roster, "P01", suffix)).status_code == 200


def test_officer_cannot_change_another_unit(roster, client, auth):
    auth.login(roster.officers["P01"])
    other = roster.trainees["P02"][0]
    assert auth.post(unit_url(roster, "P02", "/exemptions"), {"enrollment_id": "1", "reason": "x"}).status_code == 404
    assert auth.post(unit_url(roster, "P02", "/extensions"), {"trainee": "unit", "until": "1/1/2099 10:00",
                                                              "reason": "x"}).status_code == 404
    assert auth.post(unit_url(roster, "P02", "/attendance"), {"present": "1:2026-01-01"}).status_code == 404
    assert db.session.query(Exemption).count() == 3
    assert other.full_name  # untouched


@pytest.mark.parametrize("role", [Role.trainee])
def test_trainees_see_no_completeness(roster, client, auth, api_token, role):
    trainee = roster.trainees["P01"][0]
    auth.login(trainee)
    assert client.get(f"/completeness/{roster.course.id}").status_code == 403
    assert client.get(unit_url(roster, "P01")).status_code == 403
    assert client.get(f"/api/v1/courses/{roster.course.id}/completeness").status_code == 403


def test_officer_sees_no_overview(roster, client, auth):
    auth.login(roster.officers["P01"])
    assert client.get(f"/completeness/{roster.course.id}").status_code == 403
    assert client.get(f"/completeness/{roster.course.id}/overview.xlsx").status_code == 403


def test_board_overview_lists_every_unit_with_the_shared_figures(roster, client, auth):
    auth.login(roster.reviewer)
    html = client.get(f"/completeness/{roster.course.id}?threshold=60").get_data(as_text=True)
    figures = completeness(roster.course)
    for u in figures.units.to_dict("records"):
        row = re.search(rf'<tr class="[^"]*" data-unit="{u["code"]}">(.*?)</tr>', html, re.S).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[0] == u["code"]
        assert int(cells[2]) == u["enrolled"]
        assert cells[-1] == f'{u["percent"]:.1f} %'.replace(".", ",")
        assert int(cells[-3]) == u["missing"]
        assert ("dưới ngưỡng" in cells[1]) == (u["percent"] < 60)
    assert "<svg" in html and "<rect" in html
    assert "<script>" not in html and "style=" not in html
    # Sorted by completeness, highest first.
    html = client.get(f"/completeness/{roster.course.id}?sort=percent&desc=1").get_data(as_text=True)
    codes = re.findall(r'data-unit="([^"]+)"', html)
    assert codes == list(figures.units.sort_values("percent", ascending=False, kind="stable")["code"])
    # Default order: Vietnamese order of names (Bình Thủy, Cái Răng, Ninh Kiều, Thới Lai).
    html = client.get(f"/completeness/{roster.course.id}").get_data(as_text=True)
    assert re.findall(r'data-unit="([^"]+)"', html) == ["P04", "P02", "P01", "X03"]


def test_overview_xlsx_has_the_page_figures_and_neutralised_cells(roster, client, auth, make_unit, make_user, enroll):
    hostile = make_unit(code="Z99", name="=HYPERLINK(\"http://x\")")
    enroll(make_user(Role.trainee, unit=hostile, full_name="-Nguyễn Văn Độc"), roster.course)
    auth.login(roster.admin)
    answer = client.get(f"/completeness/{roster.course.id}/overview.xlsx")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data)).worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    figures = completeness(roster.course)
    for u in figures.units.to_dict("records"):
        row = rows[u["code"]]
        assert row[2] == u["enrolled"]
        assert row[-2] == u["percent"]
    assert rows["Z99"][1].startswith("'=")


def test_as_of_form_field_shows_the_past(roster, client, auth):
    auth.login(roster.reviewer)
    before = to_local(roster.due_at + dt.timedelta(minutes=10)).strftime("%d/%m/%Y %H:%M")
    html = client.get(f"/completeness/{roster.course.id}?as_of={before}").get_data(as_text=True)
    figures = completeness(roster.course, roster.due_at + dt.timedelta(minutes=10, seconds=59))
    assert figures.totals()["late"] == 0
    assert f"<strong>{before}</strong>" in html
    bad = client.get(f"/completeness/{roster.course.id}?as_of=hôm qua").get_data(as_text=True)
    assert "dd/mm/yyyy HH:MM" in bad


def test_api_answers_the_same_figures(roster, client, api_token):
    headers = api_token(roster.reviewer)
    answer = client.get(f"/api/v1/courses/{roster.course.id}/completeness", headers=headers).get_json()
    figures = completeness(roster.course)
    assert [u["code"] for u in answer["units"]] == list(figures.units["code"])
    for u in answer["units"]:
        row = figures.units[figures.units["code"] == u["code"]].iloc[0]
        assert u["enrolled"] == row["enrolled"] and u["attended"] == row["attended"]
        for t in u["topics"]:
            f = figures.topics[(figures.topics["unit_id"] == row["unit_id"]) &
                               (figures.topics["topic_id"] == t["topic_id"])].iloc[0]
            assert {k: t[k] for k in ("submitted", "on_time", "late", "extension", "missing", "exempt")} == \
                {k: int(f[k]) for k in ("submitted", "on_time", "late", "extension", "missing", "exempt")}
    as_of = (roster.due_at + dt.timedelta(minutes=10)).isoformat()
    past = client.get(f"/api/v1/courses/{roster.course.id}/completeness",
                      query_string={"as_of": as_of}, headers=headers).get_json()
    assert sum(t["late"] for u in past["units"] for t in u["topics"]) == 0
    assert client.get(f"/api/v1/courses/{roster.course.id}/completeness?as_of=nope",
                      headers=headers).status_code == 422
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/courses/{course_id}/completeness" in spec["paths"]


def test_api_gives_an_officer_only_their_unit(roster, client, api_token):
    headers = api_token(roster.officers["P01"])
    url = f"/api/v1/courses/{roster.course.id}/completeness"
    # One fixed as-of time: two answers "as of now" a second apart would differ in as_of only.
    now = {"as_of": utcnow().isoformat()}
    mine = client.get(url, query_string=now, headers=headers).get_json()
    assert [u["code"] for u in mine["units"]] == ["P01"]
    assert client.get(url, query_string={**now, "unit": "P01"}, headers=headers).get_json() == mine
    other = client.get(url + "?unit=P02", headers=headers)
    assert other.status_code == 404 and b"Ninh" not in other.data and b"P02" not in other.data
    assert client.get(url + "?unit=NOPE", headers=headers).status_code == 404


def test_officer_grants_an_extension_to_a_trainee_the_board_to_a_whole_unit(roster, client, auth):
    until = to_local(utcnow() + dt.timedelta(days=2)).strftime("%d/%m/%Y %H:%M")
    trainee = roster.trainees["P01"][2]
    enrollment_id = trainee_states(roster.course, [roster.units[0].id]).set_index("user_id").loc[trainee.id, "enrollment_id"]
    enrollment_id = int(enrollment_id.iloc[0] if hasattr(enrollment_id, "iloc") else enrollment_id)
    auth.login(roster.officers["P01"])
    assert auth.post(unit_url(roster, "P01", "/extensions"),
                     {"trainee": str(enrollment_id), "topic": "", "until": until, "reason": "Đi công tác"}).status_code == 302
    table = trainee_states(roster.course, [roster.units[0].id])
    mine = table[table["user_id"] == trainee.id]
    assert set(mine[mine["essay_id"].isna()]["state"]) <= {"extension"}
    assert (mine["extended_until"].notna()).all()
    html = client.get(unit_url(roster, "P01")).get_data(as_text=True)
    assert f"Hạn: {until}" in html
    # An officer cannot extend the whole unit.
    assert auth.post(unit_url(roster, "P01", "/extensions"),
                     {"trainee": "unit", "until": until, "reason": "Cả phường"}).status_code == 403
    assert completeness(roster.course).unit(roster.units[0].id)["extension"] == len(mine[mine["essay_id"].isna()])
    auth.client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(roster.reviewer)
    assert auth.post(unit_url(roster, "X03", "/extensions"),
                     {"trainee": "unit", "topic": str(roster.topics[0].id), "until": until,
                      "reason": "Phường mất điện"}).status_code == 302
    row = completeness(roster.course).unit_topics(roster.units[2].id).set_index("topic_id").loc[roster.topics[0].id]
    assert row["missing"] == 0 and row["extension"] + row["submitted"] + row["exempt"] == 3


def test_officer_exempts_a_trainee_with_a_reason(roster, client, auth):
    trainee = roster.trainees["P02"][2]
    table = trainee_states(roster.course, [roster.units[1].id])
    enrollment_id = int(table[table["user_id"] == trainee.id]["enrollment_id"].iloc[0])
    before = completeness(roster.course).unit(roster.units[1].id)
    auth.login(roster.officers["P02"])
    assert auth.post(unit_url(roster, "P02", "/exemptions"),
                     {"enrollment_id": str(enrollment_id), "reason": ""}).status_code == 302
    assert completeness(roster.course).unit(roster.units[1].id)["exempt"] == before["exempt"]
    auth.post(unit_url(roster, "P02", "/exemptions"), {"enrollment_id": str(enrollment_id), "reason": "Nằm viện"})
    after = completeness(roster.course).unit(roster.units[1].id)
    unsubmitted = int(table[(table["user_id"] == trainee.id) & table["essay_id"].isna()].shape[0])
    assert after["exempt"] == before["exempt"] + unsubmitted
    assert after["missing"] == before["missing"] - unsubmitted
    assert after["percent"] >= before["percent"]


def test_attendance_by_form_and_by_xlsx(roster, client, auth):
    unit, course = roster.units[2], roster.course
    days = course.class_days
    people = trainee_states(course, [unit.id]).drop_duplicates("enrollment_id")
    auth.login(roster.officers["X03"])
    first = int(people.iloc[0]["enrollment_id"])
    auth.post(unit_url(roster, "X03", "/attendance"), {"present": [f"{first}:{days[0].isoformat()}"]})
    row = completeness(course).unit(unit.id)
    assert row["attended"] == 1 and row[f"day_{days[0].isoformat()}"] == 1
    # Sheet: by username for one, by full name for another, x / có marks, one unknown row.
    book = Workbook()
    sheet = book.active
    sheet.append(["STT", "Họ và tên", "Tên đăng nhập", "Ngày 1", days[1].strftime("%d/%m")])
    sheet.append([1, "", people.iloc[0]["username"], "x", ""])
    sheet.append([2, people.iloc[1]["full_name"], "", "có", "1"])
    sheet.append([3, "Người Lạ", "", "x", "x"])
    data = io.BytesIO()
    book.save(data)
    answer = auth.post(unit_url(roster, "X03", "/attendance/import"),
                       {"file": (io.BytesIO(data.getvalue()), "diemdanh.xlsx")},
                       content_type="multipart/form-data", follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert "Đã nhập điểm danh của 2 học viên" in html and "Người Lạ" in html
    row = completeness(course).unit(unit.id)
    assert row[f"day_{days[0].isoformat()}"] == 2 and row[f"day_{days[1].isoformat()}"] == 1
    assert row["attended"] == 2


def test_zip_has_a_folder_per_topic_windows_safe_names_and_a_manifest(roster, client, auth, make_user, enroll,
                                                                         hand_in):
    unit = roster.units[0]
    # Two trainees with the same name, and one whose name has characters Windows refuses.
    twin = make_user(Role.trainee, unit=unit, full_name="Lê Văn An")
    odd = make_user(Role.trainee, unit=unit, full_name='Trần "Út" Bé: Nhỏ?')
    for person in (twin, odd):
        enroll(person, roster.course)
        hand_in(person, roster.topics[0])
    roster.trainees["P01"] += [twin, odd]
    auth.login(roster.officers["P01"])
    answer = client.get(unit_url(roster, "P01", "/essays.zip"))
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    names = archive.namelist()
    table = trainee_states(roster.course, [unit.id])
    handed = table[table["essay_id"].notna()]
    assert len([n for n in names if not n.startswith("danh-muc")]) == len(handed)
    topic1 = [n for n in names if n.startswith("Chủ đề 1 - ")]
    assert any(n.endswith("/Lê Văn An.txt") for n in topic1) and any(n.endswith("/Lê Văn An (2).txt") for n in topic1)
    assert any(n.endswith("/Trần Út Bé Nhỏ.txt") for n in topic1)
    assert all(not set('<>:"\\|?*') & set(n) for n in names)
    manifest = load_workbook(io.BytesIO(archive.read("danh-muc.xlsx"))).worksheets[0]
    entries = list(manifest.iter_rows(min_row=2, values_only=True))
    assert len(entries) == len(handed)
    for trainee, _, _, path, _, late, sha in entries:
        assert hashlib.sha256(archive.read(path)).hexdigest() == sha
    assert archive.read("danh-muc.csv").decode("utf-8-sig").splitlines()[0].startswith("Học viên,")


def test_compiled_docx_has_every_essay_under_its_topic(roster, client, auth):
    from docx import Document

    auth.login(roster.officers["P04"])
    answer = client.get(unit_url(roster, "P04", "/essays.docx"))
    document = Document(io.BytesIO(answer.data))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    table = trainee_states(roster.course, [roster.units[3].id])
    for t in roster.topics:
        assert t.label in headings
    assert sum(h in {p.full_name for p in roster.trainees["P04"]} for h in headings) == int(table["essay_id"].notna().sum())


def test_missing_xlsx_lists_exactly_the_missing(roster, client, auth):
    auth.login(roster.officers["P02"])
    sheet = load_workbook(io.BytesIO(client.get(unit_url(roster, "P02", "/missing.xlsx")).data)).worksheets[0]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))  # header, then the "tính đến" title row
    table = trainee_states(roster.course, [roster.units[1].id], states=("missing", "extension"))
    assert [(r[1], r[5].split(":")[0].removeprefix("Chủ đề ")) for r in rows] == [(r.username, str(r.topic_position))
                                                        for r in table.itertuples()]


def test_attendance_rows_are_not_counted_for_absent_marks(roster):
    assert db.session.query(Attendance).filter(Attendance.is_present.is_(False)).count() > 0


def test_a_unit_where_nothing_is_expected_shows_no_percentage(roster, client, auth, api_token, make_unit, make_user,
                                                              enroll):
    excused = make_unit(code="Z01", name="Xã Toàn Miễn")
    enrollment = enroll(make_user(Role.trainee, unit=excused, full_name="Phan Văn Miễn"), roster.course)
    db.session.add(Exemption(enrollment_id=enrollment.id, reason="Đi công tác dài ngày", granted_by_id=roster.admin.id))
    db.session.commit()
    assert completeness(roster.course).unit(excused.id)["expected"] == 0
    auth.login(roster.reviewer)
    html = client.get(f"/completeness/{roster.course.id}").get_data(as_text=True)
    row = re.search(r'<tr class="below" data-unit="Z01">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[-1] == "—"
    sheet = load_workbook(io.BytesIO(client.get(f"/completeness/{roster.course.id}/overview.xlsx").data)).worksheets[0]
    assert {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}["Z01"][-2:] == (None, "x")
    answer = client.get(f"/api/v1/courses/{roster.course.id}/completeness", headers=api_token(roster.reviewer))
    assert '"percent":null' in answer.get_data(as_text=True).replace(" ", "")
    assert next(u for u in answer.get_json()["units"] if u["code"] == "Z01")["percent"] is None
