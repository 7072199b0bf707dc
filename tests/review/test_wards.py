"""Ward committees compile their own unit: tag (no theme needed), report by class topic, send, the Board's view."""
from __future__ import annotations

import io

import pytest
from docx import Document
from openpyxl import load_workbook

from lms.db import db
from lms.models import Role
from review.report.data import build_report_data
from review.report.docx import report_docx
from review.report.prose import report_prose, save_prose
from review.tagging.models import Suggestion, Tag
from review.wards.operations import scan_unit, topic_label, ward_queue

ESSAY_1 = ("I. Nhận thức\nQua lớp học, em hiểu rõ hơn về chuyển đổi số.\n"
           "II. Kiến nghị, đề xuất\n1. Đề nghị tăng cường đào tạo kỹ năng số cho cán bộ phường.\n"
           "2. Kiến nghị đầu tư hạ tầng mạng ở các khu vực còn khó khăn.\nKết luận: em cảm ơn.")
ESSAY_2 = ("Bài thu hoạch chủ đề 2\nKiến nghị, đề xuất:\n"
           "- Đề nghị tăng cường đào tạo kỹ năng số cho cán bộ phường, xã.\n"
           "- Đề xuất xây dựng quy chế phối hợp giữa các tổ dân phố.\nKết luận.")
ESSAY_B = "Kiến nghị:\n1. Đề nghị nâng cấp trạm y tế xã Cờ Đỏ để phục vụ người dân tốt hơn.\nKết luận."


def _span(essay, passage):
    db.session.refresh(essay)
    text = essay.current_version.text
    start = text.index(passage)
    return start, start + len(passage)


@pytest.fixture
def ward(world, essay_of, make_user, enroll):
    """Two trainees of ward A (essays on topics 1 and 2), one of ward B, suggestions scanned."""
    peer = make_user(Role.trainee, unit=world.ward_a, full_name="Phạm Minh Khôi")
    enroll(peer, world.course)
    essays = {"a1": essay_of(world.trainee_a, world.course, ESSAY_1, 0),
              "a2": essay_of(peer, world.course, ESSAY_2, 1),
              "b": essay_of(world.trainee_b, world.course, ESSAY_B, 0)}
    for unit in (world.ward_a, world.ward_b):
        scan_unit(world.course, unit)
    db.session.commit()
    return essays


# --- tagging scoped to the officer's unit --------------------------------------------------------

def test_officer_tags_their_units_essay_without_a_theme(client, api_token, world, ward):
    essay = ward["a1"]
    start, end = _span(essay, "Đề nghị tăng cường đào tạo kỹ năng số cho cán bộ phường.")
    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.officer_a),
                           json={"start": start, "end": end, "kind": "recommendation"})
    assert response.status_code == 201, response.json
    assert response.json["themes"] == [] and response.json["by_ward"] is True
    tag = db.session.get(Tag, response.json["id"])
    assert tag.by_ward and tag.unit_id == world.ward_a.id
    # Themes stay optional for them; the Board must still give one.
    listed = client.get(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.officer_a))
    assert [t["id"] for t in listed.json["tags"]] == [tag.id]
    refused = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer),
                          json={"start": 0, "end": 5, "kind": "recommendation"})
    assert refused.status_code == 422 and refused.json["error"]["message"]


def test_officer_reads_and_dismisses_their_units_suggestions_only(client, api_token, world, ward):
    headers = api_token(world.officer_a)
    own = client.get(f"/api/v1/essays/{ward['a1'].id}/suggestions", headers=headers)
    assert own.status_code == 200 and any("hạ tầng mạng" in s["text"] for s in own.json["suggestions"])
    assert client.get(f"/api/v1/essays/{ward['b'].id}/suggestions", headers=headers).status_code == 404
    theirs = db.session.query(Suggestion).filter_by(version_id=ward["b"].current_version_id).first()
    assert client.post(f"/api/v1/suggestions/{theirs.id}/dismiss", headers=headers).status_code == 404
    db.session.refresh(theirs)
    assert theirs.status == "open"


def test_officer_cannot_tag_or_see_another_units_essay(client, api_token, world, ward):
    other = ward["b"]
    before = db.session.query(Tag).count()
    for method, url, body in (("post", f"/api/v1/essays/{other.id}/tags", {"start": 0, "end": 5,
                                                                           "kind": "recommendation"}),
                              ("get", f"/api/v1/essays/{other.id}/tags", None),
                              ("get", f"/api/v1/essays/{other.id}", None)):
        response = getattr(client, method)(url, headers=api_token(world.officer_a), json=body)
        assert response.status_code == 404, (method, url, response.status_code)
    # A trainee never tags, not even their own essay.
    own = client.post(f"/api/v1/essays/{ward['a1'].id}/tags", headers=api_token(world.trainee_a),
                      json={"start": 0, "end": 5, "kind": "recommendation"})
    assert own.status_code in (403, 404)
    assert db.session.query(Tag).count() == before


def test_queue_groups_by_topic_and_offers_near_duplicates_together(world, ward):
    queue = ward_queue(world.course, world.ward_a)
    assert [s.label for s in queue] == ["Chủ đề 1", "Chủ đề 2"]
    texts = [[item.text for item in group] for section in queue for group in section.groups]
    assert any(len(g) == 1 and "hạ tầng mạng" in g[0] for g in texts)
    # The same request in two trainees' words across topics stays apart (topics are compiled separately);
    # nothing of ward B is offered to ward A.
    assert not any("Cờ Đỏ" in t for g in texts for t in g)
    assert topic_label(2, "Chuyên đề 2: Chuyển đổi số") == "Chủ đề 2: Chuyển đổi số"
    assert topic_label(1, "Chủ đề 1. Xây dựng Đảng") == "Chủ đề 1: Xây dựng Đảng"
    assert topic_label(3, "Chủ đề 3") == "Chủ đề 3" and topic_label(4, "Kinh tế số") == "Chủ đề 4: Kinh tế số"


def test_near_duplicates_in_one_topic_are_one_group(world, ward, essay_of, make_user, enroll):
    twin = make_user(Role.trainee, unit=world.ward_a, full_name="Võ Thị Lan")
    enroll(twin, world.course)
    essay_of(twin, world.course, "Kiến nghị:\n1. Đề nghị tăng cường đào tạo kĩ năng số cho cán bộ phường.\nHết.", 0)
    scan_unit(world.course, world.ward_a)
    db.session.commit()
    topic_1 = ward_queue(world.course, world.ward_a)[0]
    sizes = sorted(len(g) for g in topic_1.groups)
    assert sizes[-1] == 2, [[i.text for i in g] for g in topic_1.groups]


def _decide(auth, course, unit, suggestion_id, action, **data):
    return auth.post(f"/ward/{course.id}/units/{unit.code}/suggestions/{suggestion_id}/{action}",
                     data=data, headers={"Accept": "application/json"})


def test_officer_accepts_dismisses_and_undoes_on_the_page(auth, world, ward):
    auth.login(world.officer_a)
    page = auth.client.get(f"/ward/{world.course.id}/units/{world.ward_a.code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Chưa gửi báo cáo" in html and "Chủ đề 1" in html and "Cờ Đỏ" not in html
    section = ward_queue(world.course, world.ward_a)[0]
    first, second = section.groups[0][0], section.groups[1][0]
    # Accept with the span edited: the last word dropped.
    trimmed_end = first.start + first.text.rstrip(".").rfind(" ")
    answer = _decide(auth, world.course, world.ward_a, first.suggestion_id, "accept", start=first.start,
                     end=trimmed_end, kind="proposal")
    assert answer.status_code == 200 and answer.json["ok"], answer.json
    tag = db.session.query(Tag).filter_by(essay_id=first.essay_id).one()
    assert (tag.by_ward, tag.kind, tag.end_offset, tag.themes) == (True, "proposal", trimmed_end, [])
    assert _decide(auth, world.course, world.ward_a, second.suggestion_id, "dismiss").json["ok"]
    assert db.session.get(Suggestion, second.suggestion_id).status == "dismissed"
    # Deciding twice is refused with a message; undo brings both back.
    again = _decide(auth, world.course, world.ward_a, first.suggestion_id, "accept")
    assert again.status_code == 422 and "đã được xử lý" in again.json["message"]
    for sid in (first.suggestion_id, second.suggestion_id):
        assert _decide(auth, world.course, world.ward_a, sid, "undo").json["ok"]
    db.session.expire_all()
    assert db.session.query(Tag).filter_by(essay_id=first.essay_id).count() == 0
    assert {db.session.get(Suggestion, s).status for s in (first.suggestion_id, second.suggestion_id)} == {"open"}


def test_another_units_officer_gets_404_on_the_page_and_actions(auth, world, ward):
    auth.login(world.officer_b)
    assert auth.client.get(f"/ward/{world.course.id}/units/{world.ward_a.code}").status_code == 404
    item = ward_queue(world.course, world.ward_a)[0].groups[0][0]
    assert _decide(auth, world.course, world.ward_a, item.suggestion_id, "accept").status_code == 404
    # Ward B's own page does not reach ward A's suggestion either.
    assert _decide(auth, world.course, world.ward_b, item.suggestion_id, "accept").status_code == 404
    assert db.session.query(Tag).count() == 0


# --- the ward's report ------------------------------------------------------------------------------

def _accept_all(world, unit, by):
    from review.wards.operations import accept, suggestion_in_unit

    for section in ward_queue(world.course, unit):
        for group in section.groups:
            lead = group[0]
            suggestion, essay = suggestion_in_unit(lead.suggestion_id, world.course, unit)
            tag = accept(suggestion, essay, by)
            for item in group[1:]:
                s, e = suggestion_in_unit(item.suggestion_id, world.course, unit)
                accept(s, e, by, duplicate_of=tag.id)
    db.session.commit()


def _docx_text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    return "\n".join(p.text for p in doc.paragraphs)


def test_ward_report_by_topic_in_the_wards_voice_each_passage_once(world, ward):
    _accept_all(world, world.ward_a, world.officer_a)
    # The Board also themed one of them twice over: still one passage in the ward's report.
    tag = db.session.query(Tag).filter(Tag.text.contains("hạ tầng mạng")).one()
    tag.themes = [world.themes["chuyển đổi số"], world.themes["cán bộ"]]
    db.session.commit()
    data = build_report_data(world.course, unit=world.ward_a)
    text = _docx_text(report_docx(data, report_prose(world.course.id, world.ward_a)))
    section = text[text.index("IV. KIẾN NGHỊ"):text.index("Trên đây là báo cáo")]
    assert "Đảng ủy Phường Ninh Kiều đã tổng hợp 4 ý kiến" in section, section
    assert "Ban Tổ chức đã tổng hợp" not in text
    assert "1. Chủ đề 1 (" in section and "2. Chủ đề 2 (" in section and "Chủ đề 1: Chủ đề" not in text
    assert section.index("1. Chủ đề 1 (") < section.index("hạ tầng mạng") < section.index("2. Chủ đề 2 (")
    assert section.count("hạ tầng mạng") == 1 and "Chuyên đề" not in text
    assert "Nguyễn Thị Hoà" in section  # names cited by default in a ward's report
    assert "Cờ Đỏ" not in section


def test_trainee_names_left_out_when_the_ward_says_so(world, ward):
    _accept_all(world, world.ward_a, world.officer_a)
    prose = report_prose(world.course.id, world.ward_a)
    values = {name: getattr(prose, name) for name in prose.FIELDS}
    save_prose(world.course.id, world.ward_a, {**values, "cite_names": False}, world.officer_a)
    db.session.commit()
    prose = report_prose(world.course.id, world.ward_a)
    assert prose.cite_names is False
    data = build_report_data(world.course, unit=world.ward_a)
    section = _docx_text(report_docx(data, prose))
    assert "hạ tầng mạng" in section
    assert "Nguyễn Thị Hoà" not in section.split("IV. KIẾN NGHỊ")[1].split("Trên đây")[0]


# --- sending -----------------------------------------------------------------------------------------

def _send(client, headers, course, unit):
    return client.post(f"/api/v1/courses/{course.id}/units/{unit.code}/send", headers=headers)


def test_send_send_again_and_the_frozen_versions_stay(client, api_token, world, ward, essay_of):
    _accept_all(world, world.ward_a, world.officer_a)
    officer = api_token(world.officer_a)
    first = _send(client, officer, world.course, world.ward_a)
    assert first.status_code == 201, first.json
    body = first.json
    assert body["version"] == 1 and body["sent_at"] and len(body["passages"]) == 4
    assert body["sent_by"]["username"] == world.officer_a.username
    one = next(p for p in body["passages"] if "hạ tầng mạng" in p["text"])
    essay = ward["a1"]
    db.session.refresh(essay)
    assert essay.current_version.text[one["start"]:one["end"]] == one["text"]
    assert (one["essay"], one["version"], one["topic"]["id"]) == (essay.id, 1, world.course.topics[0].id)
    docx_1 = client.get(body["docx_url"], headers=officer)
    xlsx_1 = client.get(body["xlsx_url"], headers=officer)
    assert docx_1.status_code == 200 and "hạ tầng mạng" in _docx_text(docx_1.data)
    assert load_workbook(io.BytesIO(xlsx_1.data)).sheetnames

    # Later: a tag removed, the trainee hands in a new version, the topic renamed.
    db.session.delete(db.session.query(Tag).filter(Tag.text.contains("hạ tầng mạng")).one())
    world.course.topics[0].title = "Đổi tên"
    db.session.commit()
    essay_of(world.trainee_a, world.course, ESSAY_1 + "\n3. Kiến nghị mới sau khi gửi.", 0)

    again = _send(client, officer, world.course, world.ward_a)
    assert again.status_code == 201 and again.json["version"] == 2
    assert len(again.json["passages"]) == 3
    latest = client.get(f"/api/v1/courses/{world.course.id}/units/{world.ward_a.code}/sent", headers=officer).json
    assert latest["version"] == 2
    # Version 1 is as it was: same bytes, same passages.
    assert client.get(body["docx_url"], headers=officer).data == docx_1.data
    assert client.get(body["xlsx_url"], headers=officer).data == xlsx_1.data
    from review.wards.models import WardReport

    frozen = db.session.query(WardReport).filter_by(unit_id=world.ward_a.id, version=1).one()
    assert [p.text for p in frozen.passages] == [p["text"] for p in body["passages"]]
    assert frozen.passages[0].topic_title == "Chủ đề 1"


@pytest.mark.parametrize("who,status", [("officer_b", 404), ("trainee_a", 404), ("reviewer", 403)])
def test_only_the_units_officer_or_an_admin_sends(client, api_token, world, ward, who, status):
    response = _send(client, api_token(getattr(world, who)), world.course, world.ward_a)
    assert response.status_code == status
    assert client.get(f"/api/v1/courses/{world.course.id}/units/{world.ward_a.code}/sent",
                      headers=api_token(world.admin)).status_code == 404  # nothing sent


def test_who_reads_what_was_sent(client, api_token, world, ward):
    assert _send(client, api_token(world.admin), world.course, world.ward_a).status_code == 201
    url = f"/api/v1/courses/{world.course.id}/units/{world.ward_a.code}/sent"
    for who, status in (("officer_a", 200), ("reviewer", 200), ("admin", 200), ("officer_b", 404),
                        ("trainee_a", 404)):
        assert client.get(url, headers=api_token(getattr(world, who))).status_code == status, who
    assert client.get(url).status_code == 401
    missing = client.get(f"/api/v1/courses/{world.course.id}/units/NOPE/sent", headers=api_token(world.admin))
    assert missing.status_code == 404 and missing.json["error"]["message"]


# --- the Board's view -------------------------------------------------------------------------------

def test_board_sees_which_units_sent(client, api_token, auth, world, ward):
    url = f"/api/v1/courses/{world.course.id}/completeness"
    units = {u["code"]: u for u in client.get(url, headers=api_token(world.reviewer)).json["units"]}
    assert units[world.ward_a.code]["sent_at"] is None and units[world.ward_b.code]["sent_at"] is None
    sent = _send(client, api_token(world.officer_a), world.course, world.ward_a).json
    units = {u["code"]: u for u in client.get(url, headers=api_token(world.reviewer)).json["units"]}
    assert units[world.ward_a.code]["sent_at"] == sent["sent_at"]
    assert units[world.ward_a.code]["sent_version"] == 1 and units[world.ward_b.code]["sent_at"] is None
    auth.login(world.reviewer)
    html = auth.client.get(f"/completeness/{world.course.id}").get_data(as_text=True)
    assert "1 đơn vị chưa gửi báo cáo" in html and "Xã Cờ Đỏ" in html
    assert sent["docx_url"] in html and sent["xlsx_url"] in html
    assert auth.client.get(sent["docx_url"]).status_code == 200


def test_board_queue_starts_from_ward_accepted_passages(auth, world, ward):
    _accept_all(world, world.ward_a, world.officer_a)
    auth.login(world.reviewer)
    html = auth.client.get("/review/queue").get_data(as_text=True)
    block = html[html.index('id="ward-accepted"'):]
    assert "Đơn vị đã chọn" in html and "Phường Ninh Kiều" in block and "hạ tầng mạng" in block
    assert "Chủ đề 1" in block


def test_reminders_count_wards_that_have_not_sent(world, ward):
    from review.completeness.reminders import build_reminders

    messages = build_reminders(world.course)
    officer_a = [m for m in messages if m.user_id == world.officer_a.id]
    assert officer_a and "chưa gửi báo cáo" in officer_a[0].body


def test_the_officers_unit_page_says_what_was_sent(auth, client, api_token, world, ward):
    auth.login(world.officer_a)
    url = f"/completeness/{world.course.id}/units/{world.ward_a.code}"
    entry = auth.client.get(url).get_data(as_text=True)
    assert 'id="ward-entry"' in entry and "Chưa gửi báo cáo" in entry
    assert f"/ward/{world.course.id}/units/{world.ward_a.code}" in entry
    assert _send(client, api_token(world.officer_a), world.course, world.ward_a).status_code == 201
    entry = auth.client.get(url).get_data(as_text=True)
    assert "Đã gửi Ban Tổ chức lần 1" in entry and world.officer_a.full_name in entry


def test_the_settings_page_turns_names_off(auth, world, ward):
    auth.login(world.officer_a)
    url = f"/report/{world.course.id}/units/{world.ward_a.code}/settings"
    assert 'name="cite_names"' in auth.client.get(url).get_data(as_text=True)
    prose = report_prose(world.course.id, world.ward_a)
    form = {name: getattr(prose, name) for name in prose.FIELDS}  # the box left unticked
    assert auth.post(url, data=form).status_code == 302
    db.session.expire_all()
    assert report_prose(world.course.id, world.ward_a).cite_names is False
