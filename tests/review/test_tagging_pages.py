"""Reading view, suggestions, review state, queue, compilation (groups counted once), .xlsx, demo."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import select

from lms.db import db
from lms.models import Role
from review.tagging.models import EssayReview, Suggestion, Tag
from review.tagging.operations import assign_unit, confirm_group, mark_duplicate, tag_passage

ESSAY = ("Bài thu hoạch 📘\n"
         "\n"
         "III. KIẾN NGHỊ, ĐỀ XUẤT\n"
         "- Đề nghị thành phố đào tạo kỹ năng số cho cán bộ phường 😀.\n"
         "- Đề xuất số hoá hồ sơ một cửa.\n"
         "IV. KẾT LUẬN\n"
         "Em xin cảm ơn <b>thầy cô</b>.")
SEG_RE = re.compile(r'<(?:span|mark) class="seg[^"]*" data-offset="(\d+)"[^>]*>(.*?)</(?:span|mark)>', re.S)


def test_reading_view_renders_every_piece_at_its_code_point_offset(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    text = essay.current_version.text
    tag_passage(essay, start=text.index("số hoá"), end=text.index("một cửa") + 7, kind="proposal",
                theme_ids=[world.themes["cải cách hành chính"].id], by=world.reviewer)
    db.session.commit()
    auth.login(world.reviewer)

    page = client.get(f"/review/essays/{essay.id}").get_data(as_text=True)

    pieces = SEG_RE.findall(page)
    assert pieces
    for offset, content in pieces:
        content = html.unescape(content)
        assert text[int(offset):int(offset) + len(content)] == content
    # The whole text is there, in order, apart from the line breaks between paragraphs.
    assert "".join(html.unescape(c) for _, c in pieces) == text.replace("\n", "")
    assert "&lt;b&gt;thầy cô&lt;/b&gt;" in page  # escaped, not markup
    assert re.search(r'class="seg hl hl-proposal[^"]* hl-end"[^>]*data-label="Đề xuất: cải cách hành chính"', page)
    assert 'src="/static/review.js"' in page and "<script>" not in page and "style=" not in page


def test_opening_an_essay_computes_suggestions_once_and_marks_it_being_read(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    auth.login(world.reviewer)

    page = client.get(f"/review/essays/{essay.id}").get_data(as_text=True)
    client.get(f"/review/essays/{essay.id}")

    suggestions = db.session.scalars(select(Suggestion).order_by(Suggestion.start_offset)).all()
    text = essay.current_version.text
    assert [text[s.start_offset:s.end_offset] for s in suggestions] == [
        "Đề nghị thành phố đào tạo kỹ năng số cho cán bộ phường 😀.", "Đề xuất số hoá hồ sơ một cửa."]
    assert [s.kind for s in suggestions] == ["recommendation", "proposal"]
    assert "Gợi ý: đoạn có vẻ là kiến nghị, đề xuất (2)" in page
    review = db.session.get(EssayReview, essay.id)
    assert (review.state, review.reviewer_id) == ("in_progress", world.reviewer.id)


def test_accept_and_dismiss_suggestions_in_one_action(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    auth.login(world.reviewer)
    client.get(f"/review/essays/{essay.id}")
    first, second = db.session.scalars(select(Suggestion).order_by(Suggestion.start_offset)).all()

    auth.post(f"/review/suggestions/{first.id}/accept", {"themes": [str(world.themes["cán bộ"].id)],
                                                        "kind": "recommendation"})
    auth.post(f"/review/suggestions/{second.id}/dismiss")

    db.session.expire_all()
    tag = db.session.scalar(select(Tag))
    assert tag.text == "Đề nghị thành phố đào tạo kỹ năng số cho cán bộ phường 😀."
    assert [t.name for t in tag.themes] == ["cán bộ"]
    assert db.session.get(Suggestion, first.id).status == "accepted"
    assert db.session.get(Suggestion, first.id).tag_id == tag.id
    assert db.session.get(Suggestion, second.id).status == "dismissed"
    page = client.get(f"/review/essays/{essay.id}").get_data(as_text=True)
    assert "Không còn gợi ý nào." in page


def test_accepting_without_a_theme_keeps_the_suggestion_open(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    auth.login(world.reviewer)
    client.get(f"/review/essays/{essay.id}")
    first = db.session.scalars(select(Suggestion)).first()
    response = auth.post(f"/review/suggestions/{first.id}/accept", {}, follow_redirects=True)
    assert "Chọn ít nhất một lĩnh vực." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Suggestion, first.id).status == "open"


def test_edit_and_delete_tags_by_page(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    tag = tag_passage(essay, start=0, end=13, kind="proposal", theme_ids=[world.themes["cán bộ"].id],
                      by=world.reviewer)
    db.session.commit()
    auth.login(world.reviewer)
    auth.post(f"/review/tags/{tag.id}/edit", {"kind": "recommendation", "note": "ghi chú",
                                              "themes": [str(world.themes["chuyển đổi số"].id)]})
    db.session.expire_all()
    edited = db.session.get(Tag, tag.id)
    assert (edited.kind, edited.note, [t.name for t in edited.themes]) == ("recommendation", "ghi chú", ["chuyển đổi số"])
    tag_id = tag.id
    auth.post(f"/review/tags/{tag_id}/delete")
    db.session.expire_all()
    assert db.session.scalar(select(Tag).where(Tag.id == tag_id)) is None


def test_replaced_essay_tells_the_reviewer_a_newer_version_exists(client, auth, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    tag_passage(essay, start=0, end=13, kind="proposal", theme_ids=[world.themes["cán bộ"].id], by=world.reviewer)
    db.session.commit()
    essay_of(world.trainee_a, world.course, "Bản mới của bài thu hoạch, viết lại sau khi được góp ý về bố cục "
                                            "và bổ sung phần liên hệ thực tiễn ở phường Ninh Kiều.")
    auth.login(world.reviewer)

    current = client.get(f"/review/essays/{essay.id}").get_data(as_text=True)
    old = client.get(f"/review/essays/{essay.id}?v=1").get_data(as_text=True)

    assert "1 thẻ đã gắn vẫn nằm trên phiên bản cũ" in current
    assert "Học viên đã nộp phiên bản mới hơn (phiên bản 2)" in old
    assert 'data-label="Đề xuất: cán bộ"' in old and 'data-version="1"' in old


def test_review_state_and_queue_of_assigned_units(client, auth, world, essay_of):
    essay_a = essay_of(world.trainee_a, world.course, ESSAY)
    essay_b = essay_of(world.trainee_b, world.course, ESSAY)
    assign_unit(world.ward_a, world.reviewer)
    db.session.commit()
    auth.login(world.reviewer)

    queue = client.get("/review/queue").get_data(as_text=True)
    assert world.trainee_a.full_name in queue and world.trainee_b.full_name not in queue

    auth.post(f"/review/essays/{essay_a.id}/state", {"state": "done"})
    assert db.session.get(EssayReview, essay_a.id).state == "done"
    queue = client.get("/review/queue").get_data(as_text=True)
    assert world.trainee_a.full_name not in queue
    other = client.get("/review/queue?unit=31261").get_data(as_text=True)
    assert world.trainee_b.full_name in other and f"/review/essays/{essay_b.id}" in other
    unknown = client.get("/review/queue?unit=khong-co")
    assert unknown.status_code == 200 and "Không có đơn vị nào khớp «khong-co»" in unknown.get_data(as_text=True)
    # A ward by its typed name, accents optional; state and topic filters.
    by_name = client.get("/review/queue?unit=co do").get_data(as_text=True)
    assert world.trainee_b.full_name in by_name and "Đang xem: <strong>Xã Cờ Đỏ</strong>" in by_name
    done = client.get("/review/queue", query_string={"unit": "Ninh Kiều", "state": "done"}).get_data(as_text=True)
    assert world.trainee_a.full_name in done
    other_topic = world.course.topics[1].id
    assert world.trainee_b.full_name not in client.get(
        "/review/queue", query_string={"unit": "co do", "topic": other_topic}).get_data(as_text=True)
    everyone = client.get("/review/queue?reviewer=all&state=done").get_data(as_text=True)
    assert world.trainee_a.full_name in everyone and world.trainee_b.full_name not in everyone


def test_reading_list_is_paginated(client, auth, world, make_trainee):
    from tests.factories import write_essay
    from review.tagging.operations import READING_PER_PAGE

    for i in range(READING_PER_PAGE + 2):
        trainee = make_trainee(world.course, world.ward_b, full_name=f"Học Viên Số {i:03d}")
        write_essay(trainee, world.course, "Bài thu hoạch. Kiến nghị: tăng phụ cấp cho cán bộ không chuyên trách ở xã.")
    auth.login(world.reviewer)
    first = client.get("/review/queue?unit=31261").get_data(as_text=True)
    assert f"<strong>{READING_PER_PAGE + 2}</strong> bài · trang 1/2" in first
    assert "Học Viên Số 000" in first and "Học Viên Số 051" not in first
    second = client.get("/review/queue?unit=31261&page=2").get_data(as_text=True)
    assert "Học Viên Số 051" in second and "Học Viên Số 000" not in second


def test_board_assigns_units_by_page(client, auth, world):
    auth.login(world.admin)
    auth.post("/review/assignments", {"action": "add", "reviewer_id": str(world.reviewer.id), "units": "31135, 31261"})
    page = client.get("/review/assignments").get_data(as_text=True)
    assert "Phường Ninh Kiều (31135)" in page and "Xã Cờ Đỏ (31261)" in page


@pytest.fixture
def same_idea(world, essay_of):
    """Two wards saying nearly the same thing (grouped), a third passage marked duplicate, one other."""
    texts = {
        world.trainee_a: "Đề xuất đào tạo kỹ năng số cho cán bộ phường, xã.",
        world.trainee_b: "Đề xuất đào tạo kỹ năng số cho cán bộ xã, phường!",
    }
    theme = world.themes["chuyển đổi số"].id
    tags = []
    for trainee, text in texts.items():
        essay = essay_of(trainee, world.course, text)
        tags.append(tag_passage(essay, start=8, end=len(text), kind="proposal", theme_ids=[theme], by=world.reviewer))
    essay = essay_of(world.trainee_a, world.course, "Đề xuất tập huấn kỹ năng số cho cán bộ. =SUM(A1)", topic_index=1)
    dup = tag_passage(essay, start=8, end=38, kind="proposal", theme_ids=[theme], by=world.reviewer)
    other = tag_passage(essay, start=40, end=48, kind="recommendation", theme_ids=[world.themes["cán bộ"].id],
                        by=world.reviewer)
    db.session.commit()
    return tags, dup, other


def test_near_duplicates_are_offered_confirmed_and_counted_once(client, auth, world, same_idea):
    (first, second), dup, other = same_idea
    auth.login(world.reviewer)
    offered = client.get(f"/review/courses/{world.course.id}/groups").get_data(as_text=True)
    assert "Nhóm được gợi ý (1, nhóm lớn trước)" in offered
    assert f'name="tag_ids" value="{first.id}"' in offered and f'name="tag_ids" value="{second.id}"' in offered

    auth.post(f"/review/courses/{world.course.id}/groups", {"action": "confirm",
                                                            "tag_ids": [str(first.id), str(second.id)]})
    auth.post(f"/review/tags/{dup.id}/duplicate", {"duplicate_of": str(first.id)})

    page = client.get(f"/review/courses/{world.course.id}/compilation").get_data(as_text=True)
    assert "2 phường, xã đề xuất" in page
    assert "1 ý, 3 đoạn" in page  # the group and its duplicate count once
    assert "Nhóm được gợi ý (0, nhóm lớn trước)" in client.get(f"/review/courses/{world.course.id}/groups").get_data(as_text=True)
    searched = client.get(f"/review/courses/{world.course.id}/compilation?q=TAP HUAN").get_data(as_text=True)
    assert "tập huấn kỹ năng số" in searched and "cán bộ phường, xã" not in searched
    filtered = client.get(f"/review/courses/{world.course.id}/compilation?kind=recommendation").get_data(as_text=True)
    assert "=SUM(A1)" in filtered and "chuyển đổi số" not in filtered.split("<h1>")[1].split("</form>")[1]


def test_xlsx_export_neutralises_formulas(client, auth, world, same_idea):
    from openpyxl import load_workbook

    auth.login(world.reviewer)
    response = client.get(f"/review/courses/{world.course.id}/compilation.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    values = [c.value for row in book["Các đoạn đã gắn thẻ"].iter_rows() for c in row]
    assert "'=SUM(A1)" in values and "=SUM(A1)" not in values
    summary = [c.value for row in book["Tổng hợp"].iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith("1 phường, xã kiến nghị") for v in summary)
    assert summary[0].endswith("(toàn bộ lớp)")


def test_filtered_xlsx_names_its_filters(client, auth, world, same_idea):
    from openpyxl import load_workbook

    auth.login(world.reviewer)
    theme = world.themes["cán bộ"]
    response = client.get(f"/review/courses/{world.course.id}/compilation.xlsx",
                          query_string={"theme": theme.id, "kind": "proposal", "unit": "31135", "q": "phụ cấp"})
    first = [row[0].value for row in load_workbook(io.BytesIO(response.data))["Tổng hợp"].iter_rows(max_row=6)]
    assert first[0].endswith("(đã lọc, không phải toàn bộ)")
    assert first[1:5] == ["Bộ lọc – Lĩnh vực: cán bộ (gồm các lĩnh vực con)", "Bộ lọc – Loại: Đề xuất",
                          "Bộ lọc – Đơn vị: Phường Ninh Kiều", "Bộ lọc – Đoạn văn có: «phụ cấp»"]


@pytest.mark.parametrize("role", [Role.trainee, Role.officer])
def test_trainees_and_officers_cannot_use_the_tagging_pages(client, auth, world, essay_of, role):
    essay = essay_of(world.trainee_a, world.course, ESSAY)
    auth.login(world.trainee_a if role == Role.trainee else world.officer_a)
    for url in (f"/review/essays/{essay.id}", f"/review/courses/{world.course.id}/compilation",
                f"/review/courses/{world.course.id}/compilation.xlsx", "/review/themes", "/review/queue"):
        assert client.get(url).status_code == 403, url


def test_theme_page_adds_nests_merges_and_retires(client, auth, world):
    auth.login(world.reviewer)
    auth.post("/review/themes", {"action": "add", "name": "hạ tầng số",
                                 "parent_id": str(world.themes["chuyển đổi số"].id)})
    page = client.get("/review/themes").get_data(as_text=True)
    assert 'class="depth-1">hạ tầng số' in page
    auth.post("/review/themes", {"action": "merge", "theme_id": str(world.themes["cán bộ"].id),
                                 "into_id": str(world.themes["chuyển đổi số"].id)})
    auth.post("/review/themes", {"action": "retire", "theme_id": str(world.themes["cải cách hành chính"].id),
                                 "retired": "1"})
    page = client.get("/review/themes").get_data(as_text=True)
    assert f"đã gộp vào {world.themes['chuyển đổi số'].id}" in page and "ngừng sử dụng</span>" in page


def test_demo_creates_starting_themes_and_some_tags(runner, app):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    names = runner.invoke(args=["themes", "list"]).output
    for name in ("tổ chức bộ máy", "cán bộ", "chuyển đổi số", "cải cách hành chính", "kinh tế – xã hội",
                 "quốc phòng – an ninh"):
        assert name in names
    tags = db.session.scalars(select(Tag)).all()
    for tag in tags:
        assert tag.version.text[tag.start_offset:tag.end_offset] == tag.text
    assert len(tags) >= 1
