"""Tagging passages through /api/v1: offsets in NFC code points, edits, versions, permissions."""
from __future__ import annotations

import unicodedata

import pytest

from lms.db import db
from lms.models import Role
from review.tagging.models import Tag

ESSAY = ("Bài thu hoạch\n"
         "Em học được nhiều điều về chuyển đổi số 🚀 ở phường.\n"
         "Kiến nghị: tăng cường đào tạo kỹ năng số cho cán bộ 💻📱 phường, xã.\n"
         "Kết luận.")
PASSAGE = "tăng cường đào tạo kỹ năng số cho cán bộ 💻📱 phường, xã"


def span_of(text: str, passage: str) -> tuple[int, int]:
    """Offsets of the passage in code points of the text (Python str indices are code points)."""
    start = text.index(passage)
    return start, start + len(passage)


def stored_text(essay) -> str:
    db.session.refresh(essay)
    return essay.current_version.text


def test_reviewer_tags_a_passage_with_emoji_and_vietnamese(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    start, end = span_of(stored_text(essay), PASSAGE)
    theme = world.themes["cán bộ"]

    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer), json={
        "start": start, "end": end, "kind": "recommendation", "themes": [theme.id], "note": "hay"})

    assert response.status_code == 201, response.json
    body = response.json
    assert body["text"] == PASSAGE
    assert (body["start"], body["end"], body["version"], body["kind"]) == (start, end, 1, "recommendation")
    assert body["themes"] == [{"id": theme.id, "name": "cán bộ"}]
    assert body["note"] == "hay" and body["is_current_version"] is True
    assert body["unit"] == {"code": "31135", "name": "Phường Ninh Kiều"}
    # The emoji before the passage counts as one code point, not two UTF-16 units.
    assert stored_text(essay)[start:end] == PASSAGE
    listed = client.get(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.admin)).json
    assert [t["text"] for t in listed["tags"]] == [PASSAGE]
    assert listed["current_version"] == 1


def test_nfd_input_is_stored_nfc_and_offsets_count_nfc_code_points(client, api_token, world, essay_of):
    nfd = unicodedata.normalize("NFD", ESSAY)
    assert len(nfd) > len(ESSAY)
    essay = essay_of(world.trainee_a, world.course, nfd)
    text = stored_text(essay)
    assert text == unicodedata.normalize("NFC", text)
    start, end = span_of(text, PASSAGE)

    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer), json={
        "start": start, "end": end, "kind": "proposal", "themes": [world.themes["chuyển đổi số"].id]})

    assert response.status_code == 201
    assert response.json["text"] == PASSAGE
    assert unicodedata.is_normalized("NFC", response.json["text"])
    # The offsets fit the text the essay API hands out.
    served = client.get(f"/api/v1/essays/{essay.id}", headers=api_token(world.reviewer)).json["text"]
    assert served[response.json["start"]:response.json["end"]] == PASSAGE


@pytest.mark.parametrize("start, end", [(-1, 5), (5, 5), (7, 3), (0, 10_000), ("0", 4), (None, 4), (1.5, 4), (True, 4)])
def test_offsets_outside_the_text_are_refused(client, api_token, world, essay_of, start, end):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer), json={
        "start": start, "end": end, "kind": "proposal", "themes": [world.themes["cán bộ"].id]})
    assert response.status_code == 422
    assert db.session.query(Tag).count() == 0


def test_end_equal_to_length_is_allowed(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    length = len(stored_text(essay))
    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer), json={
        "start": length - 9, "end": length, "kind": "proposal", "themes": [world.themes["cán bộ"].id]})
    assert response.status_code == 201 and response.json["text"] == "Kết luận."


@pytest.mark.parametrize("body, message", [
    ({"kind": "idea"}, "Loại"),
    ({"themes": []}, "ít nhất một lĩnh vực"),
    ({"themes": [99999]}, "không tồn tại"),
])
def test_kind_and_themes_are_checked(client, api_token, world, essay_of, body, message):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    payload = {"start": 0, "end": 4, "kind": "proposal", "themes": [world.themes["cán bộ"].id], **body}
    response = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer), json=payload)
    assert response.status_code == 422
    assert message in response.json["error"]["message"]


def test_edit_and_remove_a_tag(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    headers = api_token(world.reviewer)
    start, end = span_of(stored_text(essay), PASSAGE)
    tag = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": start, "end": end, "kind": "recommendation", "themes": [world.themes["cán bộ"].id]}).json

    edited = client.patch(f"/api/v1/tags/{tag['id']}", headers=headers, json={
        "kind": "proposal", "note": "gộp với ý của xã Cờ Đỏ", "end": start + 9,
        "themes": [world.themes["chuyển đổi số"].id, world.themes["cán bộ"].id]})

    assert edited.status_code == 200, edited.json
    assert edited.json["kind"] == "proposal" and edited.json["note"] == "gộp với ý của xã Cờ Đỏ"
    assert edited.json["text"] == "tăng cườ"[:0] + PASSAGE[:9]
    assert sorted(t["name"] for t in edited.json["themes"]) == ["chuyển đổi số", "cán bộ"]
    assert client.patch(f"/api/v1/tags/{tag['id']}", headers=headers, json={"essay_id": 3}).status_code == 422

    assert client.delete(f"/api/v1/tags/{tag['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/essays/{essay.id}/tags", headers=headers).json["tags"] == []
    assert client.delete(f"/api/v1/tags/{tag['id']}", headers=headers).status_code == 404


def test_replaced_essay_keeps_tags_on_the_old_version(client, api_token, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    headers = api_token(world.reviewer)
    start, end = span_of(stored_text(essay), PASSAGE)
    theme = world.themes["cán bộ"].id
    old = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": start, "end": end, "kind": "recommendation", "themes": [theme]}).json

    new_text = "Phiên bản mới 😀.\nĐề xuất: mở lớp tin học cho cán bộ."
    essay_of(world.trainee_a, world.course, new_text)

    listed = client.get(f"/api/v1/essays/{essay.id}/tags", headers=headers).json
    assert listed["current_version"] == 2 and listed["has_tags_on_older_versions"] is True
    [kept] = listed["tags"]
    assert (kept["id"], kept["version"], kept["text"], kept["is_current_version"]) == (old["id"], 1, PASSAGE, False)
    # New tags go on the current version; the old one can still be tagged by number.
    s, e = span_of(new_text, "mở lớp tin học cho cán bộ")
    fresh = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": s, "end": e, "kind": "proposal", "themes": [theme]}).json
    assert (fresh["version"], fresh["text"]) == (2, "mở lớp tin học cho cán bộ")
    twice = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": start, "end": end, "kind": "proposal", "themes": [theme], "version": 1})
    assert twice.status_code == 409 and twice.json["error"]["tag_id"] == old["id"]  # that span is tagged
    again = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": start, "end": end - 1, "kind": "proposal", "themes": [theme], "version": 1}).json
    assert (again["version"], again["text"]) == (1, PASSAGE[:-1])
    assert client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": 0, "end": 2, "kind": "proposal", "themes": [theme], "version": 7}).status_code == 422


def test_retired_theme_cannot_be_chosen_but_stays_on_tags(client, api_token, world, essay_of):
    from review.tagging.operations import retire_theme

    essay = essay_of(world.trainee_a, world.course, ESSAY)
    headers = api_token(world.reviewer)
    theme = world.themes["cải cách hành chính"]
    tag = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": 0, "end": 4, "kind": "proposal", "themes": [theme.id]}).json
    retire_theme(theme)
    db.session.commit()

    refused = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
        "start": 0, "end": 4, "kind": "proposal", "themes": [theme.id]})
    assert refused.status_code == 422 and "ngừng sử dụng" in refused.json["error"]["message"]
    kept = client.patch(f"/api/v1/tags/{tag['id']}", headers=headers, json={"note": "vẫn giữ"})
    assert kept.status_code == 200 and kept.json["themes"] == [{"id": theme.id, "name": "cải cách hành chính"}]
    names = [t["name"] for t in client.get("/api/v1/themes", headers=headers).json["themes"]]
    assert "cải cách hành chính" not in names and "cán bộ" in names


def test_themes_api_answers_the_contract(client, api_token, world):
    body = client.get("/api/v1/themes", headers=api_token(world.reviewer)).json
    assert set(body) == {"themes"}
    assert all(set(t) == {"id", "name", "parent_id"} for t in body["themes"])
    assert {t["name"] for t in body["themes"]} == {"cán bộ", "chuyển đổi số", "cải cách hành chính"}


class TestPermissions:
    def tag_payload(self, world):
        return {"start": 0, "end": 4, "kind": "proposal", "themes": [world.themes["cán bộ"].id]}

    def test_trainee_cannot_tag_or_read_tags_of_their_own_essay(self, client, api_token, world, essay_of):
        essay = essay_of(world.trainee_a, world.course, ESSAY)
        headers = api_token(world.trainee_a)
        assert client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers,
                           json=self.tag_payload(world)).status_code == 403
        assert client.get(f"/api/v1/essays/{essay.id}/tags", headers=headers).status_code == 403

    def test_essays_they_may_not_see_are_404(self, client, api_token, world, essay_of):
        essay = essay_of(world.trainee_b, world.course, ESSAY)
        for user in (world.trainee_a, world.officer_a):
            headers = api_token(user)
            assert client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers,
                               json=self.tag_payload(world)).status_code == 404
            assert client.get(f"/api/v1/essays/{essay.id}/tags", headers=headers).status_code == 404
        assert client.get("/api/v1/essays/999999/tags", headers=api_token(world.reviewer)).status_code == 404

    def test_officer_tags_own_unit_but_not_the_boards_tags(self, client, api_token, world, essay_of):
        essay = essay_of(world.trainee_a, world.course, ESSAY)
        tag = client.post(f"/api/v1/essays/{essay.id}/tags", headers=api_token(world.reviewer),
                          json=self.tag_payload(world)).json
        headers = api_token(world.officer_a)
        # Issue 20: the ward compiles its own unit (a by_ward tag); the Board's tags stay the Board's.
        own = client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers,
                          json={**self.tag_payload(world), "start": 5, "end": 9})
        assert own.status_code == 201 and own.json["by_ward"] is True
        assert client.patch(f"/api/v1/tags/{own.json['id']}", headers=headers,
                            json={"themes": [world.themes["cán bộ"].id]}).status_code == 422
        assert client.patch(f"/api/v1/tags/{own.json['id']}", headers=headers, json={"note": "x"}).status_code == 200
        assert client.patch(f"/api/v1/tags/{tag['id']}", headers=headers, json={"note": "x"}).status_code == 403
        assert client.delete(f"/api/v1/tags/{tag['id']}", headers=headers).status_code == 403
        assert client.get(f"/api/v1/essays/{essay.id}/tags", headers=headers).status_code == 200
        other = api_token(world.officer_b)
        assert client.patch(f"/api/v1/tags/{tag['id']}", headers=other, json={"note": "x"}).status_code == 404

    def test_compilation_of_other_units_is_refused(self, client, api_token, world, essay_of):
        essay_a = essay_of(world.trainee_a, world.course, ESSAY)
        essay_b = essay_of(world.trainee_b, world.course, ESSAY)
        reviewer = api_token(world.reviewer)
        for essay in (essay_a, essay_b):
            client.post(f"/api/v1/essays/{essay.id}/tags", headers=reviewer, json=self.tag_payload(world))
        url = f"/api/v1/courses/{world.course.id}/tags"

        assert len(client.get(url, headers=reviewer).json["tags"]) == 2
        assert client.get(url, headers=api_token(world.trainee_a)).status_code == 403
        assert client.get(url + "?unit=31135", headers=api_token(world.trainee_a)).status_code == 403
        officer = api_token(world.officer_a)
        assert client.get(url + "?unit=31261", headers=officer).status_code == 403
        own = client.get(url, headers=officer).json["tags"]
        assert [t["unit"]["code"] for t in own] == ["31135"]

    def test_anonymous_gets_401(self, client, world, essay_of):
        essay = essay_of(world.trainee_a, world.course, ESSAY)
        bogus = {"Authorization": "Bearer khong-hop-le"}
        assert client.post(f"/api/v1/essays/{essay.id}/tags", headers=bogus,
                           json=self.tag_payload(world)).status_code == 401
        assert client.get(f"/api/v1/essays/{essay.id}/tags").status_code == 401
        assert client.get(f"/api/v1/courses/{world.course.id}/tags").status_code == 401


def test_course_tags_filter_by_theme_unit_kind_and_text(client, api_token, world, essay_of):
    headers = api_token(world.reviewer)
    essay_a = essay_of(world.trainee_a, world.course, ESSAY)
    essay_b = essay_of(world.trainee_b, world.course, "Đề xuất số hoá hồ sơ một cửa.")
    s, e = span_of(stored_text(essay_a), PASSAGE)
    client.post(f"/api/v1/essays/{essay_a.id}/tags", headers=headers, json={
        "start": s, "end": e, "kind": "recommendation", "themes": [world.themes["cán bộ"].id]})
    client.post(f"/api/v1/essays/{essay_b.id}/tags", headers=headers, json={
        "start": 8, "end": 29, "kind": "proposal",
        "themes": [world.themes["chuyển đổi số"].id, world.themes["cải cách hành chính"].id]})
    url = f"/api/v1/courses/{world.course.id}/tags"

    def texts(query: str) -> list[str]:
        response = client.get(url + query, headers=headers)
        assert response.status_code == 200, response.json
        return [t["text"] for t in response.json["tags"]]

    assert texts(f"?theme={world.themes['chuyển đổi số'].id}") == ["số hoá hồ sơ một cửa."]
    assert texts("?kind=recommendation") == [PASSAGE]
    assert texts("?unit=31261") == ["số hoá hồ sơ một cửa."]
    assert texts("?q=KY NANG SO") == [PASSAGE]  # accents and case ignored
    assert client.get(url + "?kind=idea", headers=headers).status_code == 422
    assert client.get(url + "?unit=nope", headers=headers).status_code == 422
    assert client.get("/api/v1/courses/99999/tags", headers=headers).status_code == 404
