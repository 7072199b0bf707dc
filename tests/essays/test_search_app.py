"""Search inside the app: the outbox and indexer, role scoping, the page, the API, reindex and repair."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from essays import indexing
from essays.models import Essay, IndexOutbox
from essays.operations import submit_essay
from lms.db import db
from lms.models import Role

TEXTS = {
    "a": "Đẩy mạnh chuyển đổi số trong cải cách hành chính ở phường. Kiến nghị: tăng kinh phí đào tạo cán bộ.",
    "b": "Xây dựng chính quyền địa phương hai cấp tinh gọn, hiệu lực, hiệu quả; thực hiện tốt quy chế dân chủ.",
    "c": "Phát triển kinh tế – xã hội, bảo đảm quốc phòng – an ninh; chăm lo đời sống nhân dân vùng sông nước.",
}


@pytest.fixture
def world(make_unit, make_course, make_trainee, hand_in):
    """Two wards, a trainee per text in each, every essay handed in and indexed."""
    course = make_course()
    units = [make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31261", name="Xã Cờ Đỏ")]
    essays = {}
    for unit in units:
        for key, text in TEXTS.items():
            trainee = make_trainee(course, unit, full_name=f"Trần Thị {key.upper()} {unit.code}")
            essays[(unit.code, key)] = hand_in(trainee, course.topics[0], text=text).essay_id
    return {"course": course, "units": units, "essays": essays}


def _drain(app) -> None:
    indexing.drain_all(app)


def _ids(client, headers, q, **params):
    response = client.get("/api/v1/search", query_string={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_upload_is_queued_then_indexed_and_found_without_accents(app, client, world, make_user, api_token):
    assert db.session.scalar(select(func.count()).select_from(IndexOutbox)) == 6
    reviewer = make_user(Role.reviewer)
    headers = api_token(reviewer)
    assert _ids(client, headers, "chuyen doi so")["total"] == 0  # not indexed yet
    _drain(app)
    assert db.session.scalar(select(func.count()).select_from(IndexOutbox)) == 0
    body = _ids(client, headers, "chuyen doi so")
    assert body["total"] == 2
    assert {h["essay_id"] for h in body["hits"]} == {world["essays"][("31135", "a")], world["essays"][("31261", "a")]}
    hit = body["hits"][0]
    assert set(hit) >= {"essay_id", "trainee", "unit_code", "topic_id", "score", "snippet"}
    assert "<mark>chuyển đổi số</mark>" in hit["snippet"]


def test_officer_sees_only_own_unit_even_in_counts(app, client, world, make_user, api_token, auth):
    _drain(app)
    officer = make_user(Role.officer, unit=world["units"][0])
    body = _ids(client, api_token(officer), "chinh quyen")
    assert [h["unit_code"] for h in body["hits"]] == ["31135"]
    assert body["total"] == 1
    # Asking for another unit explicitly gives nothing, not the other unit's essays.
    other = _ids(client, api_token(officer), "chinh quyen", unit="31261")
    assert other["total"] == 0 and other["hits"] == []
    auth.login(officer)
    page = client.get("/search", query_string={"q": "chinh quyen"}).get_data(as_text=True)
    assert "Xã Cờ Đỏ" not in page and "31261" not in page
    assert "Trần Thị B 31135" in page


def test_trainee_cannot_search(app, client, world, make_user, api_token, auth):
    trainee = make_user(Role.trainee, unit=world["units"][0])
    response = client.get("/api/v1/search", query_string={"q": "cán bộ"}, headers=api_token(trainee))
    assert response.status_code == 403
    assert response.json["error"]["message"]
    auth.login(trainee)
    assert client.get("/search?q=can+bo").status_code == 403


def test_filters_by_unit_and_topic(app, client, world, make_user, api_token):
    _drain(app)
    headers = api_token(make_user(Role.admin))
    assert _ids(client, headers, "kinh te", unit="31261")["total"] == 1
    assert _ids(client, headers, "kinh te", topic=world["course"].topics[1].id)["total"] == 0
    assert _ids(client, headers, "kinh te", course=world["course"].id)["total"] == 2


def test_replaced_essay_found_only_by_new_text(app, client, world, make_user, api_token):
    _drain(app)
    essay = db.session.get(Essay, world["essays"][("31135", "c")])
    submit_essay(essay.trainee, essay.topic, data=None, filename=None, uploaded_by=essay.trainee,
                 text="Bản mới: đề xuất xây dựng nông thôn mới kiểu mẫu gắn với du lịch sinh thái miệt vườn.")
    db.session.commit()
    _drain(app)
    headers = api_token(make_user(Role.reviewer))
    assert {h["essay_id"] for h in _ids(client, headers, "du lich sinh thai")["hits"]} == {essay.id}
    old = {h["essay_id"] for h in _ids(client, headers, "song nuoc")["hits"]}
    assert essay.id not in old and len(old) == 1


def test_page_shows_highlights_and_queue_notice(app, client, world, make_user, auth):
    reviewer = make_user(Role.reviewer)
    auth.login(reviewer)
    _drain(app)
    page = client.get("/search", query_string={"q": "cai cach hanh chinh"}).get_data(as_text=True)
    assert "<mark>cải cách hành chính</mark>" in page
    assert "liền nhau" in page
    essay_id = world["essays"][("31135", "a")]
    full = client.get(f"/search/essays/{essay_id}", query_string={"q": "can bo"}).get_data(as_text=True)
    assert "<mark>cán bộ</mark>" in full
    # Something waiting in the outbox is announced.
    essay = db.session.get(Essay, essay_id)
    indexing.enqueue(db.session, [essay.id])
    db.session.commit()
    assert "Đang cập nhật chỉ mục" in client.get("/search?q=can+bo").get_data(as_text=True)


def test_essay_text_is_escaped_on_the_search_pages(app, client, make_unit, make_user, make_course, make_trainee,
                                                   hand_in, auth):
    unit, course = make_unit(), make_course()
    hand_in(make_trainee(course, unit), course.topics[0],
            text="Kiến nghị <script>alert('x')</script> về chuyển đổi số ở cơ sở, xây dựng dữ liệu dân cư.")
    _drain(app)
    auth.login(make_user(Role.reviewer))
    page = client.get("/search?q=chuyen+doi+so").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_deleted_index_is_rebuilt_and_check_repairs(app, runner, client, world, make_user, api_token):
    import shutil

    _drain(app)
    indexing.get_index(app).close()
    app.extensions.pop("thuhoach.search_index")
    if app.config["SEARCH_BACKEND"] == "postgres":
        with db.engine(app).begin() as conn:
            conn.execute(text("DROP SCHEMA search CASCADE"))
    else:
        shutil.rmtree(indexing.index_path(app))
    headers = api_token(make_user(Role.reviewer))
    assert _ids(client, headers, "chinh quyen")["total"] == 0
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "thiếu: 6" in result.output
    assert _ids(client, headers, "chinh quyen")["total"] == 2
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "6 bài" in result.output
    assert _ids(client, headers, "chinh quyen")["total"] == 2
    assert "thiếu: 0, thừa: 0" in runner.invoke(args=["search", "check"]).output


def test_indexer_killed_mid_batch_loses_nothing(app, app_config, make_unit, make_course, make_trainee):
    course, unit = make_course(), make_unit()
    trainees = [make_trainee(course, unit, full_name=f"Lê Văn Số {i}") for i in range(120)]
    for i, trainee in enumerate(trainees):
        submit_essay(trainee, course.topics[0], data=None, filename=None, uploaded_by=trainee,
                     text=f"Bài số {i} về cải cách hành chính và chuyển đổi số ở cơ sở. " * 40)
    db.session.commit()
    env = dict(os.environ, DATABASE_URL=app_config["DATABASE_URL"], THUHOACH_DATA_DIR=app_config["DATA_DIR"],
               SECRET_KEY="test-secret")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "lms", "search", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it as soon as it has started writing (the first batch shrinks the outbox), or after 20 s.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.session.commit()
        if db.session.scalar(select(func.count()).select_from(IndexOutbox)) < 120 or \
                (indexing.index_path(app) / "CURRENT").exists():
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    db.session.commit()
    indexing.drain_all(app)
    index = indexing.get_index(app)
    essay_ids = {str(i) for i in db.session.scalars(select(Essay.id))}
    assert index.all_ids() == essay_ids
    assert db.session.scalar(select(func.count()).select_from(IndexOutbox)) == 0
    assert index.search("cai cach hanh chinh", exact_total=True).total == 120


def test_themes_filter_search_and_follow_tag_changes(app, client, world, make_user, api_token):
    from review.tagging import operations as tagging

    reviewer = make_user(Role.reviewer)
    theme = tagging.create_theme("Chuyển đổi số")
    db.session.commit()
    essay = db.session.get(Essay, world["essays"][("31135", "a")])
    tag = tagging.tag_passage(essay, start=0, end=22, kind="proposal", theme_ids=[theme.id], by=reviewer)
    db.session.commit()
    _drain(app)
    headers = api_token(reviewer)
    assert [h["essay_id"] for h in _ids(client, headers, "chuyen doi so", theme=str(theme.id))["hits"]] == [essay.id]
    tagging.delete_tag(tag)
    db.session.commit()
    _drain(app)
    assert _ids(client, headers, "chuyen doi so", theme=str(theme.id))["total"] == 0


def _submit_in_process(config: dict, trainee_ids: list[int], topic_id: int) -> None:
    from essays.operations import submit_essay as submit
    from lms import create_app
    from lms.models import Topic, User

    app = create_app(config)
    with app.app_context():
        topic = db.session.get(Topic, topic_id)
        for trainee_id in trainee_ids:
            trainee = db.session.get(User, trainee_id)
            submit(trainee, topic, data=None, filename=None, uploaded_by=trainee,
                   text=f"Bài của học viên {trainee_id}: đề xuất số hóa hồ sơ một cửa ở phường, xã. " * 3)
            db.session.commit()


def test_several_processes_submitting_at_once_are_all_indexed(app, app_config, make_unit, make_user, make_course,
                                                              enroll):
    import multiprocessing

    course, unit = make_course(), make_unit()
    trainees = []
    for i in range(12):
        trainee = make_user(Role.trainee, unit=unit)
        enroll(trainee, course)
        trainees.append(trainee.id)
    db.session.commit()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_submit_in_process, args=(app_config, trainees[i::3], course.topics[0].id))
             for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    db.session.commit()
    indexing.drain_all(app)
    ids = {str(i) for i in db.session.scalars(select(Essay.id))}
    assert len(ids) == 12
    assert indexing.get_index(app).all_ids() == ids
    assert indexing.get_index(app).search("so hoa ho so mot cua", exact_total=True).total == 12


MARK_TEXTS = {
    "phrase": "Kiến nghị đẩy mạnh chuyển đổi số ở phường.",
    "apart": "Số liệu được chuyển về để đổi mới cách làm.",
    "so": "Sở Nội vụ chuyên đề đổi sổ sách.",  # only other marked forms
}


@pytest.fixture
def marked_world(make_unit, make_user, make_course, enroll):
    course = make_course()
    units = [make_unit(code="31135", name="Phường Ninh Kiều"), make_unit(code="31261", name="Xã Cờ Đỏ")]
    for unit in units:
        for key, text in MARK_TEXTS.items():
            trainee = make_user(Role.trainee, unit=unit, full_name=f"Lê Văn {key} {unit.code}")
            enroll(trainee, course)
            submit_essay(trainee, course.topics[0], data=None, filename=None, text=text, uploaded_by=trainee)
    db.session.commit()
    return {"course": course, "units": units}


def test_api_counts_what_was_typed_with_phrase_total(app, client, marked_world, make_user, api_token):
    _drain(app)
    headers = api_token(make_user(Role.reviewer))
    marked = _ids(client, headers, "chuyển đổi số")
    assert (marked["total"], marked["phrase_total"]) == (4, 2)
    snippets = " ".join(h["snippet"] for h in marked["hits"])
    assert "Sở" not in snippets and "<mark>Số</mark> liệu" in snippets and "<mark>chuyển đổi số</mark>" in snippets
    bare = _ids(client, headers, "chuyen doi so")
    assert (bare["total"], bare["phrase_total"]) == (6, 2)
    assert _ids(client, headers, "số")["total"] == 4
    assert _ids(client, headers, "so")["total"] == 6
    assert _ids(client, headers, '"chuyển đổi số"')["total"] == 2
    assert _ids(client, headers, "chuyển đổi số", unit="31261")["phrase_total"] == 1
    officer = make_user(Role.officer, unit=marked_world["units"][1])
    scoped = _ids(client, api_token(officer), "chuyển đổi số")
    assert (scoped["total"], scoped["phrase_total"]) == (2, 1)
    assert {h["unit_code"] for h in scoped["hits"]} == {"31261"}


def test_page_says_both_totals_and_offers_the_unmarked_search(app, client, marked_world, make_user, auth):
    _drain(app)
    auth.login(make_user(Role.reviewer))
    page = client.get("/search", query_string={"q": "chuyển đổi số"}).get_data(as_text=True)
    assert "<strong>2</strong> bài có đúng cụm từ «chuyển đổi số»" in page
    assert "<strong>2</strong> bài có đủ các từ nhưng không liền nhau" in page
    assert "«chuyen doi so»</a> — 6 bài" in page
    # Counts per unit follow the same rule: 2 in each ward.
    assert page.count("<td>2</td>") >= 2
    officer = make_user(Role.officer, unit=marked_world["units"][0])
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login(officer)
    page = client.get("/search", query_string={"q": "chuyển đổi số"}).get_data(as_text=True)
    assert "<strong>1</strong> bài có đúng cụm từ" in page and "— 3 bài" in page


def test_indexing_in_the_upload_s_transaction_needs_no_worker(app, client, make_unit, make_user, make_course, enroll,
                                                              api_token):
    if app.config["SEARCH_BACKEND"] != "postgres":
        pytest.skip("THUHOACH_SEARCH_INDEXING=upload is for the PostgreSQL backend")
    app.config["SEARCH_INDEXING"] = "upload"
    course = make_course()
    trainee = make_user(Role.trainee, unit=make_unit(code="31135", name="Phường Ninh Kiều"))
    enroll(trainee, course)
    version = submit_essay(trainee, course.topics[0], data=None, filename=None, text=TEXTS["a"], uploaded_by=trainee)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(IndexOutbox)) == 0  # nothing for a worker
    body = _ids(client, api_token(make_user(Role.reviewer)), "chuyen doi so")
    assert [h["essay_id"] for h in body["hits"]] == [version.essay_id]
