"""The Board's codebook: add, nest, rename, retire, merge with tags moved; by CLI and operations."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent
from review.tagging.models import Tag, Theme
from review.tagging.operations import TaggingError, merge_themes, tag_passage, update_theme

TEXT = "Kiến nghị: đào tạo cán bộ về chuyển đổi số. Đề xuất: số hoá thủ tục một cửa."


def test_cli_adds_nested_themes_prints_ids_and_lists_a_tree(runner, app):
    result = runner.invoke(args=["themes", "add", "chuyển đổi số"])
    assert result.exit_code == 0, result.output
    parent_id = int(result.output.strip())
    child = runner.invoke(args=["themes", "add", "hạ tầng số", "--parent", str(parent_id)])
    child_id = int(child.output.strip())
    assert db.session.get(Theme, child_id).parent_id == parent_id

    listing = runner.invoke(args=["themes", "list"]).output.splitlines()
    assert listing == [f"{parent_id:>5}  chuyển đổi số", f"{child_id:>5}    hạ tầng số"]
    duplicate = runner.invoke(args=["themes", "add", "chuyển đổi số"])
    assert duplicate.exit_code == 1 and "Đã có lĩnh vực" in duplicate.output
    missing_parent = runner.invoke(args=["themes", "add", "x", "--parent", "999"])
    assert missing_parent.exit_code == 1 and "Không có lĩnh vực số 999" in missing_parent.output


def test_cli_merge_moves_tags_keeps_one_link_and_is_audited(runner, world, essay_of):
    essay = essay_of(world.trainee_a, world.course, TEXT)
    source, target, other = (world.themes["cải cách hành chính"], world.themes["chuyển đổi số"],
                             world.themes["cán bộ"])
    only_source = tag_passage(essay, start=0, end=9, kind="recommendation", theme_ids=[source.id], by=world.reviewer)
    both = tag_passage(essay, start=11, end=43, kind="recommendation", theme_ids=[source.id, target.id, other.id],
                       by=world.reviewer)
    untouched = tag_passage(essay, start=45, end=52, kind="proposal", theme_ids=[other.id], by=world.reviewer)
    db.session.commit()

    result = runner.invoke(args=["themes", "merge", str(source.id), str(target.id)])

    assert result.exit_code == 0, result.output
    assert "2 thẻ" in result.output
    db.session.expire_all()
    assert [t.name for t in db.session.get(Tag, only_source.id).themes] == ["chuyển đổi số"]
    assert sorted(t.name for t in db.session.get(Tag, both.id).themes) == ["chuyển đổi số", "cán bộ"]
    assert [t.name for t in db.session.get(Tag, untouched.id).themes] == ["cán bộ"]
    merged = db.session.get(Theme, source.id)
    assert merged.is_retired and merged.merged_into_id == target.id
    assert db.session.query(Tag).count() == 3  # nothing lost
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "theme.merged"))
    assert event.target == f"theme={source.id}" and f"into={target.id}" in event.detail
    listing = runner.invoke(args=["themes", "list"]).output
    assert "cải cách hành chính" not in listing
    assert "(đã gộp)" in runner.invoke(args=["themes", "list", "--all"]).output


def test_merge_into_itself_or_unknown_theme_fails(runner, world):
    theme = world.themes["cán bộ"]
    assert runner.invoke(args=["themes", "merge", str(theme.id), str(theme.id)]).exit_code == 1
    assert runner.invoke(args=["themes", "merge", str(theme.id), "4242"]).exit_code == 1


def test_merge_reparents_children_of_the_merged_theme(world):
    parent, target = world.themes["cải cách hành chính"], world.themes["chuyển đổi số"]
    child = Theme(name="một cửa", parent=parent)
    db.session.add(child)
    db.session.flush()
    merge_themes(parent, target)
    assert db.session.get(Theme, child.id).parent_id == target.id


def test_nesting_cannot_make_a_loop(world):
    a, b = world.themes["cán bộ"], world.themes["chuyển đổi số"]
    update_theme(b, parent_id=a.id)
    with pytest.raises(TaggingError):
        update_theme(a, parent_id=b.id)
    with pytest.raises(TaggingError):
        update_theme(a, parent_id=a.id)


def test_cli_rename_and_retire(runner, world):
    theme = world.themes["cán bộ"]
    assert runner.invoke(args=["themes", "rename", str(theme.id), "công tác cán bộ"]).exit_code == 0
    assert runner.invoke(args=["themes", "retire", str(theme.id)]).exit_code == 0
    db.session.expire_all()
    renamed = db.session.get(Theme, theme.id)
    assert renamed.name == "công tác cán bộ" and renamed.is_retired
