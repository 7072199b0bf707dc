"""Report pages, API, background job and CLI: who may build what, audit, and files that open."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from docx import Document
from sqlalchemy import select

from lms import jobs
from lms.db import db
from lms.models import AuditEvent, Job, Role
from review.report.models import ReportSettings
from tests.review.test_report import ReportWorld, report_world  # noqa: F401  (fixture)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _audits(action: str = "report.exported") -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.mark.parametrize("fmt", ["xlsx", "docx"])
def test_api_gives_the_board_the_files_and_audits_the_filters(report_world, client, api_token, fmt):
    w: ReportWorld = report_world
    url = f"/api/v1/courses/{w.course.id}/report.{fmt}?as_of=" + w.as_of.isoformat().replace("+", "%2B")
    response = client.get(url, headers=api_token(w.reviewer))
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    if fmt == "xlsx":
        book = pd.read_excel(io.BytesIO(response.data), sheet_name="Tổng hợp", engine="openpyxl")
        assert dict(zip(book["Chỉ tiêu"], book["Giá trị"]))["Học viên ghi danh"] == 9
    else:
        assert "BÁO CÁO" in "\n".join(p.text for p in Document(io.BytesIO(response.data)).paragraphs)
    event = _audits()[-1]
    assert event.username == w.reviewer.username and event.target == f"course:{w.course.id}"
    assert f"format={fmt}" in event.detail and "via=api" in event.detail and "as_of=" in event.detail


@pytest.mark.parametrize("who", ["officer", "trainee"])
def test_api_refuses_officers_and_trainees(report_world, client, api_token, who):
    w = report_world
    user = w.officers["P01"] if who == "officer" else w.trainees[("P01", 0)]
    for fmt in ("xlsx", "docx"):
        assert client.get(f"/api/v1/courses/{w.course.id}/report.{fmt}", headers=api_token(user)).status_code == 403
    assert _audits() == []


def test_api_answers_404_and_422(report_world, client, api_token):
    w = report_world
    headers = api_token(w.admin)
    assert client.get("/api/v1/courses/9999/report.xlsx", headers=headers).status_code == 404
    bad = client.get(f"/api/v1/courses/{w.course.id}/report.xlsx?as_of=hôm-qua", headers=headers)
    assert bad.status_code == 422 and "as_of" in bad.json["error"]["message"]
    assert client.get(f"/api/v1/courses/{w.course.id}/report.xlsx").status_code == 401


def test_api_filters_units(report_world, client, api_token):
    w = report_world
    response = client.get(f"/api/v1/courses/{w.course.id}/report.xlsx?units=P01,X02", headers=api_token(w.admin))
    units = pd.read_excel(io.BytesIO(response.data), sheet_name="Theo đơn vị", engine="openpyxl")
    assert sorted(units["Mã đơn vị"].dropna()) == ["P01", "X02"]
    assert "units=" in _audits()[-1].detail


def test_board_page_previews_and_downloads(report_world, client, auth):
    w = report_world
    auth.login(w.reviewer)
    page = client.get(f"/report/{w.course.id}?as_of={w.as_of.astimezone().strftime('%d/%m/%Y %H:%M')}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="report-totals"' in html and "Chuyển đổi số" in html
    response = auth.post(f"/report/{w.course.id}/build", {"format": "xlsx", "unit": [str(w.units["P01"].id)]})
    assert response.status_code == 200 and response.mimetype == XLSX
    units = pd.read_excel(io.BytesIO(response.data), sheet_name="Theo đơn vị", engine="openpyxl")
    assert units["Mã đơn vị"].dropna().tolist() == ["P01"]
    assert "via=page" in _audits()[-1].detail


def test_large_course_builds_in_the_background_job(report_world, app, client, auth):
    w = report_world
    app.config["REPORT_SYNC_MAX_TRAINEES"] = 5  # nine trainees: over the limit
    auth.login(w.reviewer)
    response = auth.post(f"/report/{w.course.id}/build", {"format": "docx"})
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
    assert job.kind == "report.build" and job.status == "queued"
    assert "via=job:" in _audits()[-1].detail
    db.session.commit()  # the worker's own sessions must not wait for the test's transaction
    assert jobs.run_one_job(app) == 1
    db.session.refresh(job)
    assert job.status == "done", job.message
    state = client.get(f"/api/v1/jobs/{job.id}").json
    with client.get(state["download_url"]) as download:
        doc = Document(io.BytesIO(download.data))
    assert doc.tables[2].rows[-1].cells[1].text == "Tổng cộng"
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_officer_builds_only_their_own_unit(report_world, client, auth):
    w = report_world
    officer = w.officers["X02"]
    auth.login(officer)
    assert client.get(f"/report/{w.course.id}").status_code == 403  # the city's report is the Board's
    assert client.get(f"/report/{w.course.id}/units/P01").status_code == 404
    assert auth.post(f"/report/{w.course.id}/units/P01/build", {"format": "docx"}).status_code == 404
    page = client.get(f"/report/{w.course.id}/units/X02")
    assert page.status_code == 200 and "Xã Thới Lai" in page.get_data(as_text=True)
    response = auth.post(f"/report/{w.course.id}/units/X02/build", {"format": "docx"})
    doc = Document(io.BytesIO(response.data))
    assert doc.tables[0].rows[0].cells[0].paragraphs[1].text == "ĐẢNG ỦY XÃ THỚI LAI"
    assert [r.cells[1].text for r in doc.tables[2].rows[1:]] == ["Xã Thới Lai", "Tổng cộng"]
    assert _audits()[-1].target == f"course:{w.course.id} unit:X02"


def test_trainee_has_no_report_pages(report_world, client, auth):
    w = report_world
    auth.login(w.trainees[("P01", 0)])
    assert client.get("/report/").status_code == 403
    assert client.get(f"/report/{w.course.id}/units/P01").status_code == 403


def test_board_edits_the_prose_and_the_report_uses_it(report_world, client, auth):
    w = report_world
    auth.login(w.admin)
    form = {"parent_org": "Đảng bộ thành phố Cần Thơ", "org_name": "Ban Tổ chức Thành ủy", "number": "45-BC/BTCTU",
            "place": "Cần Thơ", "signer_for": "K/T TRƯỞNG BAN", "signer_title": "PHÓ TRƯỞNG BAN",
            "signer_name": "Trần Thị Mai", "recipients": "Thường trực Thành ủy (để b/c),\nLưu VT.", "intro": ""}
    assert auth.post(f"/report/{w.course.id}/settings", form).status_code == 302
    stored = db.session.scalar(select(ReportSettings).where(ReportSettings.course_id == w.course.id))
    assert stored.signer_name == "Trần Thị Mai" and stored.unit_id is None
    response = auth.post(f"/report/{w.course.id}/build", {"format": "docx"})
    doc = Document(io.BytesIO(response.data))
    left = [p.text for p in doc.tables[0].rows[0].cells[0].paragraphs]
    assert left == ["ĐẢNG BỘ THÀNH PHỐ CẦN THƠ", "BAN TỔ CHỨC THÀNH ỦY", "*", "Số 45-BC/BTCTU"]
    signature = doc.tables[1].rows[0].cells
    assert "K/T TRƯỞNG BAN" in signature[1].text and "Trần Thị Mai" in signature[1].text
    assert "- Lưu VT." in signature[0].text
    # A required field left empty is refused with a message, nothing stored.
    bad = auth.post(f"/report/{w.course.id}/settings", {**form, "org_name": " ", "signer_name": "X"})
    assert bad.status_code == 200 and "Vui lòng nhập đủ" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ReportSettings, stored.id).signer_name == "Trần Thị Mai"


def test_cli_builds_both_formats(report_world, runner, tmp_path):
    w = report_world
    db.session.commit()
    out = tmp_path / "bao-cao.xlsx"
    result = runner.invoke(args=["report", "build", "--course", str(w.course.id), "--as-of", w.as_of.isoformat(),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_excel(out, sheet_name="Tổng hợp", engine="openpyxl")
    assert dict(zip(summary["Chỉ tiêu"], summary["Giá trị"]))["Học viên ghi danh"] == 9
    docx_out = tmp_path / "bao-cao.docx"
    assert runner.invoke(args=["report", "build", "--course", str(w.course.id), "--out", str(docx_out)]).exit_code == 0
    assert Document(str(docx_out)).tables[0].rows[0].cells[1].paragraphs[0].text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert "via=cli" in _audits()[-1].detail


def test_cli_builds_both_files_from_one_aggregation(report_world, runner, tmp_path):
    w = report_world
    db.session.commit()
    xlsx_out, docx_out = tmp_path / "a.xlsx", tmp_path / "b.docx"
    result = runner.invoke(args=["report", "build", "--course", str(w.course.id), "--as-of", w.as_of.isoformat(),
                                 "--out", str(xlsx_out), "--out", str(docx_out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("Đã tạo") == 2
    summary = pd.read_excel(xlsx_out, sheet_name="Tổng hợp", engine="openpyxl")
    assert dict(zip(summary["Chỉ tiêu"], summary["Giá trị"]))["Học viên ghi danh"] == 9
    assert Document(str(docx_out)).tables[0].rows[0].cells[1].paragraphs[0].text == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert [e.detail.split()[0] for e in _audits()[-2:]] == ["format=xlsx", "format=docx"]


def test_board_page_downloads_both_files_in_one_zip(report_world, client, auth):
    w = report_world
    auth.login(w.reviewer)
    response = auth.post(f"/report/{w.course.id}/build", {"format": "zip"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        names = sorted(bundle.namelist())
        assert [n.rsplit(".", 1)[1] for n in names] == ["docx", "xlsx"]
        units = pd.read_excel(io.BytesIO(bundle.read(names[1])), sheet_name="Theo đơn vị", engine="openpyxl")
        doc = Document(io.BytesIO(bundle.read(names[0])))
    assert units["Đơn vị"].iloc[-1] == "Tổng cộng" and doc.tables[2].rows[-1].cells[1].text == "Tổng cộng"
    assert "format=zip" in _audits()[-1].detail and "via=page" in _audits()[-1].detail
    refused = auth.post(f"/report/{w.course.id}/build", {"format": "pdf"}, follow_redirects=True)
    assert "Định dạng phải là .xlsx, .docx hoặc cả hai (.zip)." in refused.get_data(as_text=True)


@pytest.mark.parametrize("args, message", [
    (["--course", "9999", "--out", "x.xlsx"], "Không tìm thấy lớp số 9999"),
    (["--as-of", "27/5/2026", "--out", "x.xlsx"], "không hợp lệ"),
    (["--out", "x.pdf"], "đuôi .xlsx hoặc .docx"),
    (["--out", "x.xlsx", "--out", "x.xlsx"], "Mỗi định dạng chỉ ghi một tệp"),
])
def test_cli_refuses_bad_input_in_vietnamese(report_world, runner, tmp_path, args, message):
    w = report_world
    db.session.commit()
    if "--course" not in args:
        args = ["--course", str(w.course.id), *args]
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    result = runner.invoke(args=["report", "build", *args])
    assert result.exit_code != 0
    assert message in result.output
