"""The Board's compilation: a span tagged once (409), suggestions never offering tagged passages,
themes learned from tags through the worker, copied essays found and shown only to those allowed."""
from __future__ import annotations

from review.tagging import copies, theme_model
from lms.db import db
from review.tagging.models import EssayCopy, Tag

ESSAY = ("Bài thu hoạch của em.\n"
         "III. KIẾN NGHỊ, ĐỀ XUẤT\n"
         "1. Đề nghị nâng cấp đường truyền internet và máy tính cho bộ phận một cửa.\n"
         "2. Kiến nghị rút gọn thủ tục hành chính, công khai quy trình giải quyết hồ sơ đất đai.\n"
         "Kết luận\nEm xin chân thành cảm ơn.")
FIRST = "Đề nghị nâng cấp đường truyền internet và máy tính cho bộ phận một cửa."
SECOND = "Kiến nghị rút gọn thủ tục hành chính, công khai quy trình giải quyết hồ sơ đất đai."


def _post_tag(client, headers, essay, passage, theme_ids):
    start = essay.current_version.text.index(passage)
    return client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": start, "end": start + len(passage), "kind": "recommendation", "themes": theme_ids})


def test_the_same_span_of_the_same_version_is_tagged_once(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    headers = api_token(world.reviewer)
    first = _post_tag(client, headers, essay, FIRST, [world.themes["chuyển đổi số"].id])
    assert first.status_code == 201
    again = _post_tag(client, api_token(world.admin), essay, FIRST, [world.themes["cán bộ"].id])
    assert again.status_code == 409
    assert again.json["error"]["tag_id"] == first.json["id"]
    assert "đã được gắn thẻ" in again.json["error"]["message"]
    assert db.session.query(Tag).count() == 1
    other = _post_tag(client, headers, essay, SECOND, [world.themes["cải cách hành chính"].id])
    assert other.status_code == 201
    # Moving another tag onto the first one's span is refused the same way.
    moved = client.patch(f"/api/v1/tags/{other.json['id']}", headers=headers,
                         json={"start": first.json["start"], "end": first.json["end"]})
    assert moved.status_code == 409 and moved.json["error"]["tag_id"] == first.json["id"]


def test_suggestions_never_offer_a_tagged_passage(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    headers = api_token(world.reviewer)
    offered = client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=headers)
    assert offered.status_code == 200, offered.json
    assert [s["text"] for s in offered.json["suggestions"]] == [FIRST, SECOND]
    assert all(s["themes"] and {"id", "score"} == set(s["themes"][0]) for s in offered.json["suggestions"])
    assert _post_tag(client, headers, essay, FIRST, [world.themes["chuyển đổi số"].id]).status_code == 201
    after = client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=headers).json["suggestions"]
    assert [s["text"] for s in after] == [SECOND]
    page = client.get(f"/review/essays/{essay.id}", headers=headers)
    assert page.status_code in (200, 302)


def test_suggestions_are_for_the_board_and_the_essays_own_ward(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    # Issue 20: the officer of the essay's unit compiles their ward's recommendations too.
    assert client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=api_token(world.officer_a)).status_code == 200
    assert client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=api_token(world.trainee_a)).status_code == 403
    assert client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=api_token(world.officer_b)).status_code == 404


def test_a_new_tag_changes_the_ranked_themes_once_the_worker_retrains(app, client, api_token, world, essay_of):
    digital, admin_reform = world.themes["chuyển đổi số"], world.themes["cải cách hành chính"]
    teacher = essay_of(world.trainee_b, world.course,
                       "Kiến nghị\n- Rút gọn thủ tục, công khai quy trình giải quyết hồ sơ đất đai.\n"
                       "- Nâng cấp đường truyền internet cho bộ phận một cửa.")
    headers = api_token(world.reviewer)
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    assert theme_model.refresh_models(app, force=True) == 1
    text = teacher.current_version.text
    for passage, theme in (("Rút gọn thủ tục, công khai quy trình giải quyết hồ sơ đất đai.", admin_reform),
                           ("Nâng cấp đường truyền internet cho bộ phận một cửa.", digital)):
        start = text.index(passage)
        assert client.post(f"/api/v1/essays/{teacher.id}/tags", headers=headers, json={
            "start": start, "end": start + len(passage), "kind": "recommendation",
            "themes": [theme.id]}).status_code == 201
    assert theme_model.refresh_models(app, force=True) == 1
    assert theme_model.refresh_models(app, force=True) == 0  # nothing changed since
    ranked = client.get(f"/api/v1/essays/{essay.id}/suggestions", headers=headers).json["suggestions"]
    assert [s["themes"][0]["id"] for s in ranked] == [digital.id, admin_reform.id]
    assert ranked[0]["themes"][0]["score"] >= ranked[0]["themes"][-1]["score"]


def test_copied_essays_are_found_by_the_worker_and_shown_to_the_board_and_the_officer(
        app, client, auth, api_token, world, essay_of, make_user, enroll):
    from lms.models import Role

    long_text = ESSAY + "\n" + " ".join(f"Đoạn {i}: phường đã triển khai nhiều giải pháp chuyển đổi số." for i in range(30))
    original = essay_of(world.trainee_a, world.course, long_text)
    identical = essay_of(world.trainee_b, world.course, long_text)
    third = make_user(Role.trainee, unit=world.ward_a, full_name="Phạm Văn Ba")
    enroll(third, world.course)
    edited = essay_of(third, world.course, long_text.replace("nhiều giải pháp", "các giải pháp", 3))
    fourth = make_user(Role.trainee, unit=world.ward_b, full_name="Võ Thị Tư")
    enroll(fourth, world.course)
    unrelated = essay_of(fourth, world.course, "Kiến nghị tăng cường tuần tra an ninh trật tự ở khu vực 3.")
    assert copies.find_copies(app) == 4
    assert copies.find_copies(app) == 0
    pairs = {(c.essay_id, c.other_id) for c in db.session.query(EssayCopy)}
    assert (original.id, identical.id) in pairs and (identical.id, original.id) in pairs
    assert not any(unrelated.id in pair for pair in pairs)

    def same(essay, user):
        response = client.get(f"/api/v1/essays/{essay.id}", headers=api_token(user))
        assert response.status_code == 200
        return response.json.get("same_content_as")

    assert same(original, world.reviewer) == sorted([identical.id, edited.id])
    assert same(edited, world.admin) == sorted([original.id, identical.id])
    assert same(original, world.officer_a) == sorted([identical.id, edited.id])
    assert same(unrelated, world.reviewer) == []
    assert same(original, world.trainee_a) is None  # never for the trainee
    auth.login(world.reviewer)
    listed = client.get("/review/copies").get_data(as_text=True)
    assert "<strong>3</strong> cặp" in listed and "Phạm Văn Ba" in listed and "Võ Thị Tư" not in listed
    # A new version is compared again: the copy rewritten is no longer one.
    essay_of(third, world.course, "Kiến nghị mở lớp tin học cho người cao tuổi ở ấp Thạnh Lợi.")
    assert copies.find_copies(app) == 1
    assert same(original, world.reviewer) == [identical.id]


def test_search_hits_open_the_reading_view_with_the_query_highlighted(app, client, auth, world, essay_of):
    from essays import indexing

    essay = essay_of(world.trainee_a, world.course, ESSAY)
    indexing.drain_all(app)
    auth.login(world.reviewer)
    page = client.get("/search", query_string={"q": "thủ tục hành chính"}).get_data(as_text=True)
    assert f'href="/review/essays/{essay.id}?q=th%E1%BB%A7+t%E1%BB%A5c+h%C3%A0nh+ch%C3%ADnh"' in page
    reading = client.get(f"/review/essays/{essay.id}", query_string={"q": "thủ tục hành chính"}).get_data(as_text=True)
    assert 'hl-query' in reading and 'data-refs="s' in reading  # the words searched and the suggestions
    marked = [m for m in reading.split('class="seg hl ') if m.startswith("hl-query") or " hl-query" in m[:60]]
    assert marked
