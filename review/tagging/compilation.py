"""The compilation of tagged passages: by theme, near-duplicates counted once, and its .xlsx export."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Mapping

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from essays.models import Essay
from lms.db import db
from lms.models import Topic, Unit
from lms.params import parse_id
from lms.spreadsheets import safe_cell as _safe_cell
from lms.text import fold, vn_sort_key
from review.tagging.models import KIND_LABELS, TAG_KINDS, Tag, TagTheme, Theme
from review.tagging.operations import ordered_tree, theme_with_descendants

WARD_KINDS = {"phường", "xã", "đặc khu"}


@dataclass
class CompilationFilter:
    """What the reader narrowed the compilation to."""

    theme_id: int | None = None
    kind: str | None = None
    topic_id: int | None = None
    unit_id: int | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], unit_id: int | None = None) -> "CompilationFilter":
        """Read theme, kind, topic and q from query arguments (ValueError with a user message)."""
        def number(name: str) -> int | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            value = parse_id(raw)
            if value is None:
                raise ValueError(f"Tham số {name} phải là số.")
            return value

        kind = (args.get("kind") or "").strip() or None
        if kind is not None and kind not in TAG_KINDS:
            raise ValueError("Tham số kind phải là recommendation hoặc proposal.")
        return cls(theme_id=number("theme"), kind=kind, topic_id=number("topic"), unit_id=unit_id,
                   q=(args.get("q") or "").strip())

    def describe(self) -> list[str]:
        """The filters in words ("Lĩnh vực: Y tế", …), empty when the whole course is compiled."""
        out = []
        if self.theme_id is not None:
            theme = db.session.get(Theme, self.theme_id)
            out.append(f"Lĩnh vực: {theme.name if theme else self.theme_id} (gồm các lĩnh vực con)")
        if self.kind is not None:
            out.append(f"Loại: {KIND_LABELS[self.kind]}")
        if self.topic_id is not None:
            topic = db.session.get(Topic, self.topic_id)
            out.append(f"Chủ đề: {topic.title if topic else self.topic_id}")
        if self.unit_id is not None:
            unit = db.session.get(Unit, self.unit_id)
            out.append(f"Đơn vị: {unit.name if unit else self.unit_id}")
        if self.q:
            out.append(f"Đoạn văn có: «{self.q}»")
        return out


def tags_query(course_id: int, filters: CompilationFilter) -> Select:
    """Tags of a course narrowed by the filters, filtered in SQL."""
    query = (select(Tag).where(Tag.course_id == course_id)
             .options(selectinload(Tag.themes), selectinload(Tag.essay).selectinload(Essay.trainee),
                      selectinload(Tag.unit), selectinload(Tag.version), selectinload(Tag.created_by))
             .order_by(Tag.unit_id, Tag.essay_id, Tag.start_offset, Tag.id))
    if filters.kind:
        query = query.where(Tag.kind == filters.kind)
    if filters.unit_id is not None:
        query = query.where(Tag.unit_id == filters.unit_id)
    if filters.topic_id is not None:
        query = query.where(Tag.essay.has(Essay.topic_id == filters.topic_id))
    if filters.theme_id is not None:
        themes = theme_with_descendants(filters.theme_id)
        query = query.where(Tag.id.in_(select(TagTheme.tag_id).where(TagTheme.theme_id.in_(themes))))
    if filters.q:
        query = query.where(Tag.folded.contains(fold(filters.q), autoescape=True))
    return query


@dataclass
class Cluster:
    """One thing said: a single tagged passage, or a confirmed group / duplicates counted once."""

    key: tuple[str, int]
    tags: list[Tag] = field(default_factory=list)

    @property
    def lead(self) -> Tag:
        return min(self.tags, key=lambda t: (t.duplicate_of_id is not None, t.id))

    @property
    def units(self) -> list:
        seen: dict[int, object] = {}
        for tag in self.tags:
            seen.setdefault(tag.unit_id, tag.unit)
        return sorted(seen.values(), key=lambda u: vn_sort_key(u.name))

    @property
    def summary(self) -> str:
        """“17 phường, xã đề xuất …”: how many units said it, and what."""
        units = self.units
        where = "phường, xã" if all(u.kind in WARD_KINDS for u in units) else "đơn vị"
        verb = "kiến nghị" if self.lead.kind == "recommendation" else "đề xuất"
        return f"{len(units)} {where} {verb}"


@dataclass
class ThemeSection:
    """A theme with the clusters tagged with it."""

    theme: Theme
    depth: int
    clusters: list[Cluster]

    @property
    def tag_count(self) -> int:
        return sum(len(c.tags) for c in self.clusters)


def cluster_key(tag: Tag, by_id: dict[int, Tag]) -> tuple[str, int]:
    """The cluster a tag counts in: its group, its original's cluster, or itself."""
    seen: set[int] = set()
    while tag.group_id is None and tag.duplicate_of_id is not None and tag.id not in seen:
        seen.add(tag.id)
        original = by_id.get(tag.duplicate_of_id) or db.session.get(Tag, tag.duplicate_of_id)
        if original is None:
            break
        tag = original
    return ("group", tag.group_id) if tag.group_id is not None else ("tag", tag.id)


def compile_course(course_id: int, filters: CompilationFilter) -> list[ThemeSection]:
    """The compilation: a section per theme (codebook order) with its clusters, largest first."""
    tags = db.session.scalars(tags_query(course_id, filters)).unique().all()
    by_id = {t.id: t for t in tags}
    wanted = theme_with_descendants(filters.theme_id) if filters.theme_id is not None else None
    per_theme: dict[int, dict[tuple[str, int], Cluster]] = {}
    themes: dict[int, Theme] = {}
    for tag in tags:
        key = cluster_key(tag, by_id)
        for theme in tag.themes:
            if wanted is not None and theme.id not in wanted:
                continue
            themes[theme.id] = theme
            per_theme.setdefault(theme.id, {}).setdefault(key, Cluster(key)).tags.append(tag)
    sections = []
    for theme in ordered_tree(themes.values()):
        clusters = sorted(per_theme[theme.id].values(), key=lambda c: (-len(c.units), -len(c.tags), c.lead.id))
        sections.append(ThemeSection(theme, getattr(theme, "depth", 0), clusters))
    return sections


def build_xlsx(course_name: str, sections: list[ThemeSection], filters: list[str] | None = None) -> bytes:
    """The compilation as an .xlsx workbook: one row per theme and cluster, then every tag.

    A filtered compilation says so in its title and names each filter in the rows below it.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Tổng hợp"
    filters = filters or []
    scope = " (đã lọc, không phải toàn bộ)" if filters else " (toàn bộ lớp)"
    sheet.append([_safe_cell(f"Tổng hợp kiến nghị, đề xuất – {course_name}{scope}")])
    sheet["A1"].font = Font(bold=True, size=13)
    for line in filters:
        sheet.append([_safe_cell("Bộ lọc – " + line)])
    header = ["Chủ đề", "Loại", "Tổng hợp", "Đoạn văn", "Số đơn vị", "Đơn vị", "Học viên", "Số đoạn"]
    sheet.append(header)
    for section in sections:
        for cluster in section.clusters:
            lead = cluster.lead
            sheet.append([_safe_cell(v) for v in (
                "  " * section.depth + section.theme.name, KIND_LABELS[lead.kind], cluster.summary, lead.text,
                len(cluster.units), ", ".join(u.name for u in cluster.units),
                ", ".join(sorted({t.essay.trainee.full_name for t in cluster.tags})), len(cluster.tags))])
    details = book.create_sheet("Các đoạn đã gắn thẻ")
    details.append(["Mã thẻ", "Chủ đề", "Loại", "Đoạn văn", "Ghi chú", "Học viên", "Đơn vị", "Mã đơn vị",
                    "Phiên bản", "Nhóm", "Trùng với thẻ", "Người gắn"])
    seen: set[int] = set()
    for section in sections:
        for cluster in section.clusters:
            for tag in cluster.tags:
                if tag.id in seen:
                    continue
                seen.add(tag.id)
                details.append([_safe_cell(v) for v in (
                    tag.id, ", ".join(t.name for t in tag.themes), KIND_LABELS[tag.kind], tag.text, tag.note or "",
                    tag.essay.trainee.full_name, tag.unit.name, tag.unit.code, tag.version.number,
                    tag.group_id or "", tag.duplicate_of_id or "", tag.created_by.username)])
    for ws, widths in ((sheet, [28, 11, 24, 80, 10, 40, 40, 9]),
                       (details, [8, 30, 11, 80, 30, 26, 26, 10, 9, 7, 12, 14])):
        for i, width in enumerate(widths):
            ws.column_dimensions[chr(ord("A") + i)].width = width
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
