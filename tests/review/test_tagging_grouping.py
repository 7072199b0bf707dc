"""Near-duplicate passages: MinHash LSH on folded syllables, groups offered, duplicates via API."""
from __future__ import annotations

from lms.db import db
from lms.text import fold
from review.tagging.compilation import CompilationFilter, compile_course
from review.tagging.grouping import offered_groups, similar_clusters
from review.tagging.operations import tag_passage


def test_similar_passages_cluster_regardless_of_accents_and_word_order():
    texts = [fold(t) for t in (
        "Đào tạo kỹ năng số cho cán bộ phường, xã",
        "dao tao ky nang so cho can bo phuong xa",          # typed without accents
        "Đào tạo cho cán bộ phường, xã về kỹ năng số",       # same words, another order
        "Tăng phụ cấp cho cán bộ không chuyên trách",
        "cán bộ",                                            # too short to join anything
    )]
    assert similar_clusters(texts, threshold=80) == [[0, 1, 2]]


def test_offered_groups_skip_what_is_already_one(world, essay_of):
    theme = world.themes["cán bộ"].id
    tags = []
    for trainee, text in ((world.trainee_a, "Đề xuất tăng phụ cấp cho cán bộ không chuyên trách."),
                          (world.trainee_b, "Đề xuất tăng phụ cấp cho cán bộ không chuyên trách ở xã.")):
        essay = essay_of(trainee, world.course, text)
        tags.append(tag_passage(essay, start=8, end=len(text), kind="proposal", theme_ids=[theme], by=world.reviewer))
    db.session.commit()
    assert [[t.id for t in g] for g in offered_groups(world.course.id)] == [[tags[0].id, tags[1].id]]

    [section] = compile_course(world.course.id, CompilationFilter())
    assert len(section.clusters) == 2


def test_duplicate_of_by_api_counts_once_with_both_wards(client, api_token, world, essay_of):
    theme = world.themes["cán bộ"].id
    headers = api_token(world.reviewer)
    ids = []
    for trainee in (world.trainee_a, world.trainee_b):
        essay = essay_of(trainee, world.course, "Kiến nghị: tăng phụ cấp cho cán bộ không chuyên trách.")
        ids.append(client.post(f"/api/v1/essays/{essay.id}/tags", headers=headers, json={
            "start": 11, "end": 54, "kind": "recommendation", "themes": [theme]}).json["id"])

    marked = client.patch(f"/api/v1/tags/{ids[1]}", headers=headers, json={"duplicate_of": ids[0]})
    assert marked.status_code == 200 and marked.json["duplicate_of"] == ids[0]
    assert client.patch(f"/api/v1/tags/{ids[0]}", headers=headers, json={"duplicate_of": ids[1]}).status_code == 422

    [section] = compile_course(world.course.id, CompilationFilter())
    [cluster] = section.clusters
    assert [u.name for u in cluster.units] == ["Phường Ninh Kiều", "Xã Cờ Đỏ"]
    assert cluster.summary == "2 phường, xã kiến nghị"
