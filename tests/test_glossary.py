"""docs/GLOSSARY.md is followed: templates never use the word retired for the other meaning."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lms.models import Role, Topic, topic_title_bare

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
# Text a user reads: drop Jinja comments/expressions/statements and HTML comments first.
_CODE = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}|<!--.*?-->", re.S)


def _visible(path: Path) -> str:
    return _CODE.sub(" ", path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_no_template_calls_a_class_topic_chuyen_de(path):
    assert not re.search(r"chuyên đề", _visible(path), re.I), (
        f"{path.name}: the class topics are «chủ đề» (docs/GLOSSARY.md); «chuyên đề» is retired")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_no_template_calls_a_board_theme_chu_de(path):
    text = path.read_text(encoding="utf-8")
    # A label, legend, heading or column about a theme field says «lĩnh vực».
    for match in re.finditer(r'<label for="[^"]*theme[^"]*">([^<]*)</label>|<legend>([^<]*)</legend>', text):
        words = (match.group(1) or match.group(2) or "")
        if "theme" in text[max(0, match.start() - 200):match.end() + 200]:
            assert "chủ đề" not in words.lower(), f"{path.name}: a theme is «lĩnh vực», not {words!r}"
    visible = _visible(path).lower()
    for phrase in ("chủ đề kiến nghị", "bộ chủ đề", "gộp chủ đề", "thẻ chủ đề", "theo chủ đề kiến nghị"):
        assert phrase not in visible, f"{path.name}: «{phrase}» names a Board theme; write «lĩnh vực»"


def test_a_topic_is_shown_once_as_chu_de_n():
    assert Topic(position=1, title="Chuyên đề 1: Những điểm mới").label == "Chủ đề 1: Những điểm mới"
    assert Topic(position=2, title="Chủ đề 2 - Chính quyền hai cấp").label == "Chủ đề 2: Chính quyền hai cấp"
    assert Topic(position=3, title="Chuyển đổi số ở cơ sở").label == "Chủ đề 3: Chuyển đổi số ở cơ sở"
    assert Topic(position=1, title="Chủ đề 1").label == "Chủ đề 1"
    assert topic_title_bare("Chuyên đề") == "Chuyên đề"  # nothing left: keep the title


def test_the_glossary_names_both_words():
    text = (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8")
    assert "**chủ đề**" in text and "**lĩnh vực**" in text


def test_the_audit_log_reads_in_vietnamese(client, auth, make_user):
    from lms.db import db
    from lms.security import audit

    admin = make_user(Role.admin)
    audit("report.exported", target="course:1", detail="format=docx as_of=now", user=admin)
    db.session.commit()
    auth.login(admin)
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "Xuất báo cáo" in html and "định dạng: docx; tính đến: hiện tại" in html


def test_the_board_menu_calls_the_themes_page_linh_vuc(client, auth, make_user):
    auth.login(make_user(Role.reviewer))
    html = client.get("/review/themes").get_data(as_text=True)
    link = re.search(r'<a[^>]*href="/review/themes"[^>]*>([^<]*)</a>', html)
    assert link and link.group(1).strip() == "Lĩnh vực", link and link.group(0)
