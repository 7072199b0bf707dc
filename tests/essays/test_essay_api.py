"""PUT/GET /api/v1/courses/<c>/topics/<t>/essay and GET /api/v1/essays/<id>: real files, refusals, who may see."""
from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile

import pytest
from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent
from essays.models import EssayVersion

from tests.essays.essay_files import (ESSAY, HEADER, LEGACY_EXPECTED_BODY, TABLE, TCVN3_BODY, TCVN3_TITLE, TITLE, build_docx,
                         build_odt, image_only_pdf)
from tests.essays.essay_world import LONG_TEXT, NOTHING, counts, make_world

VIETNAMESE = re.compile("[ăâđêôơưạảấầẩậắằẳặẹẻếềểệịọỏốồổộớờởợụủứừửữự]")
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


@pytest.fixture
def world(make_unit, make_user, make_course, enroll):
    return make_world(make_unit, make_user, make_course, enroll)


def essay_url(world, topic=None) -> str:
    return f"/api/v1/courses/{world.course.id}/topics/{(topic or world.topic).id}/essay"


def put_file(client, headers, world, data: bytes, filename: str):
    return client.put(essay_url(world), headers=headers, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(data), filename)})


def stored_text(essay_id: int) -> str:
    db.session.expire_all()
    return db.session.scalars(select(EssayVersion.text).where(EssayVersion.essay_id == essay_id)
                              .order_by(EssayVersion.number.desc())).first()


def rezip(docx_bytes: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def document_xml(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W_NS}>'
            f"<w:body>{body}</w:body></w:document>").encode()


def test_put_a_docx_then_get_it_back(client, api_token, world, essay_docx):
    headers = api_token(world.trainee)
    assert client.get(essay_url(world), headers=headers).status_code == 404
    response = put_file(client, headers, world, essay_docx, "Bài thu hoạch – Nguyễn Thị Ánh Tuyết.docx")
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"essay_id", "version", "sha256", "submitted_at", "late", "chars"}
    assert body["version"] == 1 and body["late"] is False and body["submitted_at"].endswith("+07:00")
    text = stored_text(body["essay_id"])
    assert body["chars"] == len(text)
    for expected in (TITLE, ESSAY, HEADER, *TABLE[0], *TABLE[1]):
        assert expected in text
    assert client.get(essay_url(world), headers=headers).json == body


def test_put_again_replaces_with_version_2(client, api_token, world, essay_docx):
    headers = api_token(world.trainee)
    first = put_file(client, headers, world, essay_docx, "bai.docx").json
    second = client.put(essay_url(world), headers=headers, json={"text": LONG_TEXT}).json
    assert (second["essay_id"], second["version"]) == (first["essay_id"], 2)
    assert client.get(essay_url(world), headers=headers).json["version"] == 2
    assert counts() == {"essay": 1, "essay_version": 2, "index_outbox": 2, "files": 2}


def test_nfd_and_both_tone_placements_are_stored_as_nfc_as_typed(client, api_token, world):
    nfd = unicodedata.normalize("NFD", ESSAY + " Hoà bình và hòa hợp, thuỷ chung.")
    body = put_file(client, api_token(world.trainee), world, build_docx([nfd]), "nfd.docx").json
    text = stored_text(body["essay_id"])
    assert unicodedata.is_normalized("NFC", text)
    assert "Hoà bình và hòa hợp, thuỷ chung." in text and ESSAY in text


def test_a_tcvn3_docx_is_stored_in_unicode(client, api_token, world):
    data = build_docx([TCVN3_TITLE, TCVN3_BODY], font=".VnTime")
    body = put_file(client, api_token(world.trainee), world, data, "tcvn3.docx").json
    assert stored_text(body["essay_id"]) == f"Bài thu hoạch\n\n{LEGACY_EXPECTED_BODY}"


def test_an_odt(client, api_token, world):
    data = build_odt(f"<text:h>{TITLE}</text:h><text:p>{ESSAY}</text:p>", header=HEADER)
    body = put_file(client, api_token(world.trainee), world, data, "bai.odt").json
    assert stored_text(body["essay_id"]) == f"{HEADER}\n\n{TITLE}\n\n{ESSAY}"


@pytest.mark.parametrize("kind", ["pdf", "doc"])
def test_pdf_and_word_97(client, api_token, world, office_files, kind):
    body = put_file(client, api_token(world.trainee), world, office_files[kind], f"bai.{kind}").json
    flat = " ".join(stored_text(body["essay_id"]).split())
    for expected in (TITLE, ESSAY, "Ưu điểm", "Chưa chủ động phát biểu"):
        assert expected in flat


def test_pasted_json_text(client, api_token, world):
    body = client.put(essay_url(world), headers=api_token(world.trainee),
                      json={"text": unicodedata.normalize("NFD", LONG_TEXT)}).json
    assert stored_text(body["essay_id"]) == LONG_TEXT


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    f"<w:document {W_NS}><w:body><w:p><w:r><w:t>&lol1;</w:t></w:r></w:p></w:body></w:document>"
)


def hostile_files(essay_docx: bytes, office_files: dict[str, bytes]) -> dict[str, tuple[str, bytes, int, str]]:
    """name → (file name, bytes, status, part of the Vietnamese message)."""
    pdf = office_files["pdf"]
    return {
        "empty": ("bai.docx", b"", 422, "trống"),
        "png behind .docx": ("bai.docx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, 422, "ảnh PNG"),
        "html behind .pdf": ("bai.pdf", "<html><body>Bài thu hoạch</body></html>".encode(), 422, "trang web HTML"),
        "zip bomb": ("bom.docx", rezip(essay_docx, {"word/document.xml": document_xml(
            "<w:p><w:r><w:t>" + "a" * (8 * 1024 * 1024) + "</w:t></w:r></w:p>")}), 422, "nén quá mức"),
        "xml entities": ("cuoi.docx", rezip(essay_docx, {"word/document.xml": BILLION_LAUGHS.encode()}),
                         422, "DOCTYPE/ENTITY"),
        "encrypted pdf": ("matkhau.pdf", office_files["encrypted_pdf"], 422, "mật khẩu"),
        "truncated pdf": ("dut.pdf", pdf[: len(pdf) // 2], 422, "không đầy đủ"),
        "scanned pdf": ("scan.pdf", image_only_pdf(), 422, "scan"),
        "path in the name": ("../../etc/bai.docx", essay_docx, 422, "Tên tệp không hợp lệ"),
        "control character in the name": ("bai\u202excod.docx", essay_docx, 422, "Tên tệp không hợp lệ"),
        "unsupported type": ("bai.rtf", b"{\\rtf1 Bai thu hoach}", 422, "Chỉ nhận"),
        "too short": ("ngan.docx", build_docx(["Bài thu hoạch"]), 422, "quá ít chữ"),
    }


HOSTILE = ["empty", "png behind .docx", "html behind .pdf", "zip bomb", "xml entities", "encrypted pdf",
           "truncated pdf", "scanned pdf", "path in the name", "control character in the name", "unsupported type",
           "too short"]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_refused_in_vietnamese_and_nothing_is_stored(client, api_token, world, essay_docx,
                                                                        office_files, case):
    filename, data, status, phrase = hostile_files(essay_docx, office_files)[case]
    response = put_file(client, api_token(world.trainee), world, data, filename)
    assert response.status_code == status, response.json
    message = response.json["error"]["message"]
    assert phrase in message and VIETNAMESE.search(message)
    assert counts() == NOTHING


@pytest.fixture
def small_limit(app):
    # Set on the app itself: pytest-flask builds `app` before any test fixture could change app_config.
    app.config.update(MAX_UPLOAD_BYTES=100 * 1024, MAX_CONTENT_LENGTH=100 * 1024 + 1024 * 1024)


@pytest.mark.parametrize("extra", [1, 1024 * 1024 + 10], ids=["just over the limit", "over MAX_CONTENT_LENGTH"])
def test_a_file_over_the_limit_is_413_in_vietnamese(small_limit, client, api_token, world, extra):
    data = build_docx([ESSAY])
    data += b"\x00" * (100 * 1024 + extra - len(data))
    # A body built here, not by the test client: its spooled temporary file would stay open when the
    # server (rightly) refuses to read a body that large.
    boundary = "ranh-gioi-thu-hoach"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="to.docx"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    response = client.put(essay_url(world), headers=api_token(world.trainee), data=body,
                          content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "Dung lượng tối đa cho phép là 100 KB" in response.json["error"]["message"]
    assert counts() == NOTHING


def test_after_the_cutoff_409_and_nothing_stored(make_unit, make_user, make_course, enroll, client, api_token,
                                                 essay_docx):
    now = dt.datetime.now(dt.timezone.utc)
    world = make_world(make_unit, make_user, make_course, enroll, due_at=now - dt.timedelta(days=2),
                       cutoff_at=now - dt.timedelta(days=1))
    response = put_file(client, api_token(world.trainee), world, essay_docx, "muon.docx")
    assert response.status_code == 409 and "quá hạn chót" in response.json["error"]["message"]
    assert counts() == NOTHING


def test_between_due_and_cutoff_the_essay_is_late(make_unit, make_user, make_course, enroll, client, api_token,
                                                  essay_docx):
    now = dt.datetime.now(dt.timezone.utc)
    world = make_world(make_unit, make_user, make_course, enroll, due_at=now - dt.timedelta(hours=1),
                       cutoff_at=now + dt.timedelta(days=1))
    assert put_file(client, api_token(world.trainee), world, essay_docx, "muon.docx").json["late"] is True


def test_a_topic_of_another_course_is_404(client, api_token, world, make_course, essay_docx):
    other = make_course(name="Lớp khác")
    url = f"/api/v1/courses/{world.course.id}/topics/{other.topics[0].id}/essay"
    response = client.put(url, headers=api_token(world.trainee), json={"text": LONG_TEXT})
    assert response.status_code == 404 and counts() == NOTHING


def test_no_file_and_no_text_is_400(client, api_token, world):
    response = client.put(essay_url(world), headers=api_token(world.trainee), json={"ghi_chu": "x"})
    assert response.status_code == 400 and VIETNAMESE.search(response.json["error"]["message"])


# --- reading an essay -------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["trainee", "officer", "reviewer", "admin"])
def test_who_may_read_an_essay(client, api_token, world, essay_docx, who):
    essay_id = put_file(client, api_token(world.trainee), world, essay_docx, "bai.docx").json["essay_id"]
    response = client.get(f"/api/v1/essays/{essay_id}", headers=api_token(getattr(world, who)))
    assert response.status_code == 200
    body = response.json
    assert body["trainee"] == "Nguyễn Thị Ánh Tuyết" and body["unit_code"] == "31135"
    assert body["topic_id"] == world.topic.id and body["version"] == 1 and ESSAY in body["text"]
    assert body["text"] == stored_text(essay_id)
    viewed = db.session.scalars(select(AuditEvent.username).where(AuditEvent.action == "essay.viewed")).all()
    assert viewed == ([] if who == "trainee" else [getattr(world, who).username])


@pytest.mark.parametrize("who", ["classmate", "stranger", "other_officer"])
def test_anyone_else_gets_404(client, api_token, world, essay_docx, who):
    essay_id = put_file(client, api_token(world.trainee), world, essay_docx, "bai.docx").json["essay_id"]
    response = client.get(f"/api/v1/essays/{essay_id}", headers=api_token(getattr(world, who)))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/essays/{essay_id + 1000}", headers=api_token(world.admin)).status_code == 404


def test_the_api_routes_are_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/courses/{course_id}/topics/{topic_id}/essay"])
    assert "get" in paths["/api/v1/essays/{essay_id}"]
