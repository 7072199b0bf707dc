"""The essay pages: my essays, hand in, receipt, download, officers on behalf, extensions, who sees what."""
from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent
from lms.timefmt import fmt_datetime
from essays.models import Essay, EssayVersion, Extension

from tests.essays.essay_files import ESSAY, HEADER, TABLE, TITLE, build_docx
from tests.essays.essay_world import LONG_TEXT, NOTHING, counts, make_world

FILE_NAME = "Bài thu hoạch – Đỗ Đức Đạt.docx"


@pytest.fixture
def world(make_unit, make_user, make_course, enroll):
    return make_world(make_unit, make_user, make_course, enroll)


def submit_url(world, topic=None) -> str:
    return f"/courses/{world.course.id}/topics/{(topic or world.topic).id}/submit"


def upload(auth, url: str, data: bytes | None = None, filename: str = FILE_NAME, text: str = ""):
    form = {"text": text}
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    return auth.post(url, data=form, content_type="multipart/form-data")


def only_version() -> EssayVersion:
    db.session.expire_all()
    return db.session.scalars(select(EssayVersion)).one()


def test_a_trainee_lands_on_their_essays_with_times_in_force(client, auth, world):
    auth.login(world.trainee)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/essays")
    html = client.get("/essays").get_data(as_text=True)
    assert "Bài thu hoạch của tôi" in html and world.topic.title in html and "chưa nộp" in html
    local_due = world.course.essay_due_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert local_due.strftime("%d/%m/%Y %H:%M") in html
    assert submit_url(world) in html


def test_the_submit_page_takes_files_from_a_phone(client, auth, world):
    auth.login(world.trainee)
    html = client.get(submit_url(world)).get_data(as_text=True)
    assert 'accept=".docx,.doc,.odt,.pdf,.txt,.jpg,.jpeg,.png,.heic,image/*"' in html
    assert 'enctype="multipart/form-data"' in html and " multiple" in html
    assert "<textarea" in html


def test_hand_in_a_docx_and_read_the_receipt(client, auth, world, essay_docx):
    auth.login(world.trainee)
    response = upload(auth, submit_url(world), essay_docx)
    assert response.status_code == 302
    version = only_version()
    assert response.headers["Location"].endswith(f"/essays/{version.essay_id}/versions/1")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Biên nhận" in html and version.sha256 in html and FILE_NAME in html
    assert "+07:00" in html and f"{len(essay_docx):,}".replace(",", ".") in html
    assert re.search(r'id="receipt-version">1\b', html)
    for expected in (TITLE, ESSAY, HEADER, *TABLE[0]):
        assert expected in html
    mine = client.get("/essays").get_data(as_text=True)
    row = re.search(rf'<tr data-topic="{world.topic.id}">(.*?)</tr>', mine, re.S).group(1)
    assert "đã nộp" in row and "chưa nộp" not in row and "Nộp lại" in row


def test_replace_shows_version_2_and_keeps_version_1_downloadable(client, auth, world, essay_docx):
    auth.login(world.trainee)
    upload(auth, submit_url(world), essay_docx)
    response = upload(auth, submit_url(world), text=LONG_TEXT)
    assert response.headers["Location"].endswith("/versions/2")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    essay_id = db.session.scalar(select(Essay.id))
    assert f"/essays/{essay_id}/versions/1/file" in html and f"/essays/{essay_id}/versions/2/file" in html
    download = client.get(f"/essays/{essay_id}/versions/1/file")
    assert download.data == essay_docx
    download.close()  # the test client leaves the file open until the response is closed


def test_download_keeps_the_vietnamese_name(client, auth, world, essay_docx):
    auth.login(world.trainee)
    upload(auth, submit_url(world), essay_docx)
    essay_id = db.session.scalar(select(Essay.id))
    response = client.get(f"/essays/{essay_id}/versions/1/file")
    assert response.status_code == 200 and response.data == essay_docx
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote(FILE_NAME)}" in disposition
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


@pytest.mark.parametrize(("filename", "data", "phrase"), [
    ("bai.docx", b"", "trống"),
    ("bai.docx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, "ảnh PNG"),
    ("bai\x07.docx", None, "Tên tệp không hợp lệ"),
    ("ngan.docx", build_docx(["Bài thu hoạch"]), "quá ít chữ"),
])
def test_a_refused_file_says_why_and_leaves_nothing(client, auth, world, essay_docx, filename, data, phrase):
    auth.login(world.trainee)
    response = upload(auth, submit_url(world), essay_docx if data is None else data, filename=filename)
    assert response.status_code == 422
    assert phrase in response.get_data(as_text=True)
    assert counts() == NOTHING


def test_nothing_chosen_says_what_to_do(client, auth, world):
    auth.login(world.trainee)
    response = upload(auth, submit_url(world))
    assert response.status_code == 400 and "Vui lòng chọn tệp" in response.get_data(as_text=True)


def test_pasted_html_is_shown_as_text(client, auth, world):
    auth.login(world.trainee)
    response = upload(auth, submit_url(world), text=LONG_TEXT + "\n<script>alert('x')</script><b>đậm</b>")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html and "&lt;b&gt;đậm&lt;/b&gt;" in html


def test_an_officer_hands_in_for_a_trainee_who_sees_who_did(client, auth, world, essay_docx):
    auth.login(world.officer)
    unit_page = client.get("/unit-essays").get_data(as_text=True)
    url = f"/courses/{world.course.id}/topics/{world.topic.id}/trainees/{world.trainee.id}/submit"
    assert url in unit_page and world.trainee.full_name in unit_page
    assert "Nộp hộ cho học viên" in client.get(url).get_data(as_text=True)
    assert upload(auth, url, essay_docx).status_code == 302
    assert only_version().uploaded_by_id == world.officer.id
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.trainee)
    assert "nộp hộ bởi Phạm Minh Quân" in client.get("/essays").get_data(as_text=True)


def test_an_officer_of_another_unit_cannot_hand_in_or_see(client, auth, world, essay_docx):
    auth.login(world.trainee)
    upload(auth, submit_url(world), essay_docx)
    essay_id = db.session.scalar(select(Essay.id))
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.other_officer)
    url = f"/courses/{world.course.id}/topics/{world.topic.id}/trainees/{world.trainee.id}/submit"
    assert client.get(url).status_code == 404
    assert upload(auth, url, essay_docx).status_code == 404
    for page in (f"/essays/{essay_id}", f"/essays/{essay_id}/versions/1", f"/essays/{essay_id}/versions/1/file"):
        response = client.get(page)
        response.close()
        assert response.status_code == 404
    assert world.trainee.full_name not in client.get("/unit-essays").get_data(as_text=True)


def test_another_trainee_gets_404_for_my_essay(client, auth, world, essay_docx):
    auth.login(world.trainee)
    upload(auth, submit_url(world), essay_docx)
    essay_id = db.session.scalar(select(Essay.id))
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.classmate)
    for page in (f"/essays/{essay_id}", f"/essays/{essay_id}/versions/1", f"/essays/{essay_id}/versions/1/file",
                 f"/essays/{essay_id + 99}"):
        assert client.get(page).status_code == 404


def test_a_reviewer_reads_an_essay_and_it_is_audited(client, auth, world, essay_docx):
    auth.login(world.trainee)
    upload(auth, submit_url(world), essay_docx)
    essay_id = db.session.scalar(select(Essay.id))
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.reviewer)
    html = client.get(f"/essays/{essay_id}/versions/1").get_data(as_text=True)
    assert ESSAY in html and "Biên nhận" not in html
    assert db.session.scalars(select(AuditEvent.target).where(AuditEvent.action == "essay.viewed")).all() == [
        f"essay:{essay_id}"]


def test_after_the_cutoff_the_page_says_so(make_unit, make_user, make_course, enroll, client, auth, essay_docx):
    now = dt.datetime.now(dt.timezone.utc)
    world = make_world(make_unit, make_user, make_course, enroll, due_at=now - dt.timedelta(days=2),
                       cutoff_at=now - dt.timedelta(days=1))
    auth.login(world.trainee)
    html = client.get(submit_url(world)).get_data(as_text=True)
    # No form after the cut-off; the page says whom to ask for an extension, by name.
    assert "Đã hết hạn nhận bài" in html and "<form method=\"post\" enctype" not in html
    assert world.officer.full_name in html and world.other_officer.full_name not in html
    response = upload(auth, submit_url(world), essay_docx)
    assert response.status_code == 409 and "quá hạn chót" in response.get_data(as_text=True)
    assert counts() == NOTHING


def test_before_and_after_the_due_time_the_pages_say_what_will_happen(make_unit, make_user, make_course, enroll,
                                                                       client, auth):
    now = dt.datetime.now(dt.timezone.utc)
    world = make_world(make_unit, make_user, make_course, enroll, due_at=now + dt.timedelta(days=2, hours=3, minutes=30),
                       cutoff_at=now + dt.timedelta(days=4))
    auth.login(world.trainee)
    assert "còn 2 ngày 3 giờ" in client.get("/essays").get_data(as_text=True)
    html = client.get(submit_url(world)).get_data(as_text=True)
    assert "còn 2 ngày 3 giờ" in html and "nộp muộn" not in html
    # The submit page states the due time once (in its dates line), not again beside the time left.
    due_text = fmt_datetime(world.course.essay_due_at)
    assert html.count(due_text) == 1, due_text
    world.course.essay_due_at = now - dt.timedelta(hours=1)
    db.session.commit()
    html = client.get(submit_url(world)).get_data(as_text=True)
    assert "Đã quá hạn nộp" in html and "sẽ bị ghi là <strong>nộp muộn</strong>" in html
    assert "Nộp bài (nộp muộn)" in html
    assert "Đã quá hạn nộp" in client.get("/essays").get_data(as_text=True)


def test_the_same_text_as_a_classmate_is_noticed_without_naming_them(make_unit, make_user, make_course, enroll,
                                                                      client, auth):
    world = make_world(make_unit, make_user, make_course, enroll)
    for who in (world.classmate, world.trainee):
        auth.login(who)
        response = auth.post(submit_url(world), data={"text": LONG_TEXT})
        assert response.status_code == 302
        client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.trainee)
    essay = db.session.scalar(select(Essay).where(Essay.trainee_id == world.trainee.id))
    html = client.get(f"/essays/{essay.id}/versions/1").get_data(as_text=True)
    assert "trùng khớp hoàn toàn" in html and world.classmate.full_name not in html
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.officer)
    html = client.get(f"/essays/{essay.id}/versions/1").get_data(as_text=True)
    assert "Trùng nội dung" in html and world.classmate.full_name in html
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.other_officer)  # another unit's officer sees neither essay
    assert client.get(f"/essays/{essay.id}/versions/1").status_code == 404


def test_an_officer_grants_an_extension_by_the_page(make_unit, make_user, make_course, enroll, client, auth,
                                                    essay_docx):
    now = dt.datetime.now(dt.timezone.utc)
    world = make_world(make_unit, make_user, make_course, enroll, due_at=now - dt.timedelta(days=2),
                       cutoff_at=now - dt.timedelta(days=1))
    auth.login(world.officer)
    until = (now + dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    response = auth.post("/extensions", data={
        "course": world.course.id, "trainee": world.trainee.username, "topic": 0,
        "until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "Học viên nằm viện, có giấy xác nhận"})
    assert response.status_code == 302
    assert db.session.scalars(select(Extension)).one().trainee_id == world.trainee.id
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(world.trainee)
    assert "được gia hạn" in client.get("/essays").get_data(as_text=True)
    assert upload(auth, submit_url(world), essay_docx).status_code == 302
    version = only_version()
    assert version.under_extension and not version.is_late


def test_an_officer_cannot_extend_another_units_trainee_by_the_page(client, auth, world):
    auth.login(world.officer)
    response = auth.post("/extensions", data={
        "course": world.course.id, "trainee": world.stranger.username, "topic": 0,
        "until": "2099-01-01T17:00", "reason": "Ốm"})
    assert response.status_code == 404 and "Không tìm thấy học viên" in response.get_data(as_text=True)
    assert db.session.scalars(select(Extension)).all() == []


def test_a_trainee_cannot_grant_extensions(client, auth, world):
    auth.login(world.trainee)
    assert client.get("/extensions").status_code == 403
    response = auth.post("/extensions", data={"course": world.course.id, "trainee": world.trainee.username,
                                              "topic": 0, "until": "2099-01-01T17:00", "reason": "Tự gia hạn"})
    assert response.status_code == 403
    assert db.session.scalars(select(Extension)).all() == []
