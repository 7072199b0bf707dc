"""Operations on the codebook, tags, review state and work sharing; they flush and log, callers commit."""
from __future__ import annotations

import logging
from types import EllipsisType
from typing import Iterable

from sqlalchemy import delete, or_, select, update
from werkzeug.exceptions import NotFound

from essays.access import essay_or_404
from essays.models import Essay, EssayVersion
from lms.db import db, rows_changed, utcnow
from lms.models import Unit, User
from lms.params import parse_id
from lms.security import audit
from lms.text import fold, vn_sort_key
from lms.timefmt import iso
from review.tagging.models import (
    KIND_LABELS,
    REVIEW_STATES,
    TAG_KINDS,
    EssayReview,
    PassageGroup,
    ReviewAssignment,
    Suggestion,
    Tag,
    TagTheme,
    Theme,
    can_tag,
)
from review.tagging.search_themes import reindex_essays, reindex_theme

logger = logging.getLogger(__name__)
NAME_MAX = 200
NOTE_MAX = 2000


class TaggingError(ValueError):
    """A tagging or codebook request that cannot be done; the message is for the user."""


class DuplicateTag(TaggingError):
    """The same span of the same version is already tagged: the existing tag is named."""

    def __init__(self, tag_id: int) -> None:
        super().__init__(f"Đoạn này của phiên bản này đã được gắn thẻ (thẻ số {tag_id}); hãy sửa thẻ đó.")
        self.tag_id = tag_id


def _refuse_same_span(version_id: int, start: int, end: int, except_id: int | None = None) -> None:
    query = select(Tag.id).where(Tag.version_id == version_id, Tag.start_offset == start, Tag.end_offset == end)
    if except_id is not None:
        query = query.where(Tag.id != except_id)
    existing = db.session.scalar(query.order_by(Tag.id).limit(1))
    if existing is not None:
        raise DuplicateTag(existing)


def settle_suggestions(tag: Tag, by: User) -> None:
    """Open suggestions overlapping a new tag's span are taken by it: they are never offered again."""

    db.session.execute(update(Suggestion).where(
        Suggestion.version_id == tag.version_id, Suggestion.status == "open",
        Suggestion.start_offset < tag.end_offset, Suggestion.end_offset > tag.start_offset,
    ).values(status="accepted", tag_id=tag.id, decided_by_id=by.id, decided_at=utcnow()))


# --- fetch helpers (the rules: essays.models.can_see_essay, review.tagging.models.can_tag) ------

def tag_or_404(tag_id: int, user: User) -> Tag:
    """A tag on an essay the user may see; 404 otherwise (whether the user may tag is asked apart)."""
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise NotFound()
    essay_or_404(tag.essay_id, user)
    return tag


def suggestion_or_404(suggestion_id: int, user: User) -> tuple[Suggestion, Essay]:
    """A suggestion and its essay, if the user may see the essay; 404 otherwise."""
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound()
    version = db.session.get(EssayVersion, suggestion.version_id)
    if version is None:
        raise NotFound()
    return suggestion, essay_or_404(version.essay_id, user)


# --- codebook --------------------------------------------------------------------------------

def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TaggingError("Vui lòng nhập tên lĩnh vực.")
    if len(name) > NAME_MAX:
        raise TaggingError(f"Tên lĩnh vực không quá {NAME_MAX} ký tự.")
    return name


def _live_name_taken(name: str, except_id: int | None = None) -> bool:
    query = select(Theme.id).where(Theme.name == name, Theme.is_retired.is_(False))
    if except_id is not None:
        query = query.where(Theme.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def theme_or_error(theme_id: int) -> Theme:
    """The theme with this id or a TaggingError."""
    theme = db.session.get(Theme, theme_id)
    if theme is None:
        raise TaggingError(f"Không có lĩnh vực số {theme_id}.")
    return theme


def _check_parent(theme: Theme | None, parent_id: int | None) -> Theme | None:
    if parent_id is None:
        return None
    parent = theme_or_error(parent_id)
    # Walk up from the new parent: meeting the theme itself would make a loop.
    node: Theme | None = parent
    while node is not None:
        if theme is not None and node.id == theme.id:
            raise TaggingError("Không thể đặt lĩnh vực làm con của chính nó hoặc của lĩnh vực con của nó.")
        node = node.parent
    return parent


def create_theme(name: str, *, parent_id: int | None = None, description: str | None = None) -> Theme:
    """Add a theme to the codebook."""
    name = _clean_name(name)
    if _live_name_taken(name):
        raise TaggingError(f"Đã có lĩnh vực “{name}”.")
    parent = _check_parent(None, parent_id)
    theme = Theme(name=name, parent=parent, description=(description or "").strip() or None)
    db.session.add(theme)
    db.session.flush()
    logger.info("theme %s created: %s", theme.id, name)
    return theme


def update_theme(theme: Theme, *, name: str | None = None, description: str | None = None,
                 parent_id: int | None | EllipsisType = ...) -> Theme:
    """Rename, describe or move a theme (parent_id=None makes it top-level; ... leaves it)."""
    if name is not None:
        name = _clean_name(name)
        if _live_name_taken(name, except_id=theme.id):
            raise TaggingError(f"Đã có lĩnh vực “{name}”.")
        theme.name = name
    if description is not None:
        theme.description = description.strip() or None
    if parent_id is not ...:
        theme.parent = _check_parent(theme, parent_id)
    db.session.flush()
    return theme


def retire_theme(theme: Theme, retired: bool = True) -> Theme:
    """Hide a theme from choosing (it stays on existing tags), or bring it back."""
    if not retired and theme.merged_into_id is not None:
        raise TaggingError("Chủ đề đã được gộp, không thể dùng lại.")
    theme.is_retired = retired
    db.session.flush()
    return theme


def merge_themes(source: Theme, target: Theme) -> int:
    """Move every tag of `source` to `target` and retire `source`; returns how many tags it had."""
    if source.id == target.id:
        raise TaggingError("Không thể gộp một lĩnh vực vào chính nó.")
    if target.merged_into_id is not None:
        raise TaggingError(f"Lĩnh vực “{target.name}” đã được gộp vào lĩnh vực khác.")
    reindex_theme(source.id)  # the search index filters by theme: these essays change
    # Tags that carry both keep a single link to the target.
    already = select(TagTheme.tag_id).where(TagTheme.theme_id == target.id)
    moved = rows_changed(db.session.execute(delete(TagTheme).where(TagTheme.theme_id == source.id,
                                                                   TagTheme.tag_id.in_(already))))
    moved += rows_changed(db.session.execute(update(TagTheme).where(TagTheme.theme_id == source.id)
                                             .values(theme_id=target.id)))
    if target.parent_id == source.id:
        target.parent_id = source.parent_id
    db.session.execute(update(Theme).where(Theme.parent_id == source.id, Theme.id != target.id)
                       .values(parent_id=target.id))
    source.is_retired = True
    source.merged_into_id = target.id
    db.session.flush()
    db.session.expire_all()
    audit("theme.merged", target=f"theme={source.id}", detail=f"into={target.id} tags_moved={moved}")
    logger.info("theme %s merged into %s (%s tags moved)", source.id, target.id, moved)
    return moved


def choosable_themes() -> list[Theme]:
    """Themes a reviewer may put on a tag, in codebook order (parents before children)."""
    themes = db.session.scalars(select(Theme).where(Theme.is_retired.is_(False))).all()
    return ordered_tree(themes)


def ordered_tree(themes: Iterable[Theme]) -> list[Theme]:
    """Themes depth-first (parent, then its children), siblings by name; `depth` set on each."""

    themes = list(themes)
    ids = {t.id for t in themes}
    children: dict[int | None, list[Theme]] = {}
    for theme in themes:
        parent = theme.parent_id if theme.parent_id in ids else None
        children.setdefault(parent, []).append(theme)
    out: list[Theme] = []

    def walk(parent: int | None, depth: int) -> None:
        for theme in sorted(children.get(parent, []), key=lambda t: vn_sort_key(t.name)):
            theme.depth = depth  # type: ignore[attr-defined]
            out.append(theme)
            walk(theme.id, depth + 1)

    walk(None, 0)
    return out


def theme_with_descendants(theme_id: int) -> set[int]:
    """The theme's id and those of all themes nested below it."""
    pairs = db.session.execute(select(Theme.id, Theme.parent_id)).all()
    found, frontier = {theme_id}, [theme_id]
    while frontier:
        current = frontier.pop()
        for child, parent in pairs:
            if parent == current and child not in found:
                found.add(child)
                frontier.append(child)
    return found


# --- tags ------------------------------------------------------------------------------------

def _themes_for_tag(theme_ids: object, keep: Iterable[int] = (), optional: bool = False) -> list[Theme]:
    if optional and (theme_ids is None or theme_ids == []):
        return []  # a ward's tag: the Board adds the themes later
    if not isinstance(theme_ids, list) or not theme_ids:
        raise TaggingError("Chọn ít nhất một lĩnh vực.")
    if not all(isinstance(i, int) and parse_id(i) is not None for i in theme_ids):
        raise TaggingError("Mã lĩnh vực phải là số nguyên dương.")
    wanted = set(theme_ids)
    themes = db.session.scalars(select(Theme).where(Theme.id.in_(wanted))).all()
    if len(themes) != len(wanted):
        raise TaggingError("Có lĩnh vực không tồn tại.")
    # A retired theme already on the tag may stay; it cannot be newly chosen.
    retired = [t.name for t in themes if t.is_retired and t.id not in set(keep)]
    if retired:
        raise TaggingError(f"Chủ đề đã ngừng sử dụng: {', '.join(retired)}.")
    return list(themes)


def _check_kind(kind: object) -> str:
    if kind not in TAG_KINDS:
        raise TaggingError("Loại phải là “recommendation” (kiến nghị) hoặc “proposal” (đề xuất).")
    return kind


def _check_note(note: object) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise TaggingError("Ghi chú phải là văn bản.")
    if len(note) > NOTE_MAX:
        raise TaggingError(f"Ghi chú không quá {NOTE_MAX} ký tự.")
    return note.strip() or None


def _check_span(text: str, start: object, end: object) -> tuple[int, int]:
    for value in (start, end):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TaggingError("Vị trí đầu và cuối phải là số nguyên.")
    if not 0 <= start < end <= len(text):  # type: ignore[operator]
        raise TaggingError(f"Đoạn được chọn không hợp lệ: cần 0 ≤ đầu < cuối ≤ {len(text)}.")
    if not text[start:end].strip():  # type: ignore[index]
        raise TaggingError("Đoạn được chọn chỉ có khoảng trắng.")
    # A mouse selection often takes the line break or space around the passage: drop them.
    while text[start].isspace():  # type: ignore[index]
        start += 1  # type: ignore[operator]
    while text[end - 1].isspace():  # type: ignore[operator]
        end -= 1  # type: ignore[operator]
    return start, end  # type: ignore[return-value]


def essay_version(essay: Essay, number: int | None = None) -> EssayVersion:
    """The essay's current version, or the one with this number."""
    if number is None:
        version = essay.current_version
        if version is None:
            raise TaggingError("Bài chưa có phiên bản nào để gắn thẻ.")
        return version
    if not isinstance(number, int) or parse_id(number) is None:
        raise TaggingError("Phiên bản phải là số nguyên dương.")
    version = db.session.scalar(select(EssayVersion).where(
        EssayVersion.essay_id == essay.id, EssayVersion.number == number))
    if version is None:
        raise TaggingError(f"Bài không có phiên bản {number}.")
    return version


def tag_passage(essay: Essay, *, start: object, end: object, kind: object, theme_ids: object,
                note: object = None, by: User, version_number: int | None = None,
                by_ward: bool | None = None) -> Tag:
    """Tag text[start:end] of one version (the current one unless a number is given).

    A ward's tag (an officer's, or one made on the ward's page) is marked `by_ward` and needs no theme.
    """
    version = essay_version(essay, version_number)
    text = version.text
    start, end = _check_span(text, start, end)
    by_ward = not can_tag(by) if by_ward is None else by_ward
    kind, note, themes = _check_kind(kind), _check_note(note), _themes_for_tag(theme_ids, optional=by_ward)
    # Only a request that is otherwise valid is told the span is taken.
    _refuse_same_span(version.id, start, end)
    tag = Tag(by_ward=by_ward, essay_id=essay.id, version_id=version.id, course_id=essay.course_id,
              unit_id=essay.unit_id, start_offset=start, end_offset=end, text=text[start:end],
              folded=fold(text[start:end]), kind=kind, note=note, created_by_id=by.id, themes=themes)
    db.session.add(tag)
    if not by_ward:  # the Board's reading state is the Board's
        mark_review(essay, "in_progress", by, only_if_new=True)
    reindex_essays([essay.id])
    db.session.flush()
    settle_suggestions(tag, by)
    logger.info("tag %s on essay %s v%s [%s:%s] by %s", tag.id, essay.id, version.number, start, end, by.username)
    return tag


def update_tag(tag: Tag, fields: dict) -> Tag:
    """Change a tag's kind, themes, note or span (on the same version)."""
    if "kind" in fields:
        tag.kind = _check_kind(fields["kind"])
    if "themes" in fields:
        tag.themes = _themes_for_tag(fields["themes"], keep=[t.id for t in tag.themes])
    if "note" in fields:
        tag.note = _check_note(fields["note"])
    if "start" in fields or "end" in fields:
        text = tag.version.text
        start, end = _check_span(text, fields.get("start", tag.start_offset), fields.get("end", tag.end_offset))
        _refuse_same_span(tag.version_id, start, end, except_id=tag.id)
        tag.start_offset, tag.end_offset, tag.text = start, end, text[start:end]
        tag.folded = fold(tag.text)
    if "duplicate_of" in fields:
        mark_duplicate(tag, fields["duplicate_of"])
    if "themes" in fields:
        reindex_essays([tag.essay_id])
    db.session.flush()
    return tag


def delete_tag(tag: Tag) -> None:
    """Remove a tag (suggestions it came from become open again)."""
    db.session.execute(update(Suggestion).where(Suggestion.tag_id == tag.id)
                       .values(status="open", tag_id=None, decided_by_id=None, decided_at=None))
    db.session.execute(update(Tag).where(Tag.duplicate_of_id == tag.id).values(duplicate_of_id=None))
    reindex_essays([tag.essay_id])
    db.session.delete(tag)
    db.session.flush()


def mark_duplicate(tag: Tag, original_id: object) -> None:
    """Record that a tagged passage repeats another (same course); None clears it."""
    if original_id is None:
        tag.duplicate_of_id = None
        return
    if not isinstance(original_id, int) or parse_id(original_id) is None:
        raise TaggingError("Mã thẻ gốc phải là số nguyên dương.")
    original = db.session.get(Tag, original_id)
    if original is None or original.course_id != tag.course_id or original.id == tag.id:
        raise TaggingError("Thẻ gốc không hợp lệ.")
    # Point at the root so chains stay one level deep.
    while original.duplicate_of_id is not None:
        original = db.session.get(Tag, original.duplicate_of_id)
        if original is None or original.id == tag.id:
            raise TaggingError("Thẻ gốc không hợp lệ.")
    tag.duplicate_of_id = original.id


def confirm_group(course_id: int, tag_ids: list[int], by: User) -> PassageGroup:
    """Confirm that these tagged passages say the same thing; they will be counted once."""
    tags = db.session.scalars(select(Tag).where(Tag.id.in_(tag_ids), Tag.course_id == course_id)).all()
    if len(tags) < 2:
        raise TaggingError("Một nhóm cần ít nhất hai đoạn.")
    group = PassageGroup(course_id=course_id, confirmed_by_id=by.id)
    db.session.add(group)
    db.session.flush()
    # Tags already in other groups bring those groups along: one passage belongs to one group.
    old_groups = {t.group_id for t in tags if t.group_id}
    if old_groups:
        db.session.execute(update(Tag).where(Tag.group_id.in_(old_groups)).values(group_id=group.id))
        db.session.execute(delete(PassageGroup).where(PassageGroup.id.in_(old_groups)))
    for tag in tags:
        tag.group_id = group.id
    db.session.flush()
    return group


def ungroup(group: PassageGroup) -> None:
    """Undo a confirmed group."""
    db.session.execute(update(Tag).where(Tag.group_id == group.id).values(group_id=None))
    db.session.delete(group)
    db.session.flush()


def tag_json(tag: Tag) -> dict:
    """A tag as the API answers it."""

    essay = tag.essay
    return {
        "id": tag.id,
        "essay_id": tag.essay_id,
        "version": tag.version.number,
        "is_current_version": essay.current_version_id == tag.version_id,
        "start": tag.start_offset,
        "end": tag.end_offset,
        "text": tag.text,
        "kind": tag.kind,
        "kind_label": KIND_LABELS[tag.kind],
        "themes": [{"id": t.id, "name": t.name} for t in tag.themes],
        "note": tag.note,
        "group_id": tag.group_id,
        "duplicate_of": tag.duplicate_of_id,
        "created_by": tag.created_by.username,
        "created_at": iso(tag.created_at),
        "updated_at": iso(tag.updated_at),
        "trainee": essay.trainee.full_name,
        "unit": {"code": tag.unit.code, "name": tag.unit.name},
        "topic_id": essay.topic_id,
        "by_ward": tag.by_ward,
    }


# --- review state and work sharing -------------------------------------------------------------

def review_of(essay: Essay) -> EssayReview | None:
    """The essay's review state row, if reading has started."""
    return db.session.get(EssayReview, essay.id)


def mark_review(essay: Essay, state: str, by: User, *, only_if_new: bool = False) -> EssayReview:
    """Set the essay's review state (chưa xem / đang xem / đã xem) and who reviews it."""
    if state not in REVIEW_STATES:
        raise TaggingError("Trạng thái không hợp lệ.")
    review = review_of(essay)
    if review is None:
        review = EssayReview(essay_id=essay.id, state="new")
        db.session.add(review)
    if only_if_new and review.state != "new":
        return review
    review.state, review.reviewer_id, review.updated_at = state, by.id, utcnow()
    db.session.flush()
    return review


def assign_unit(unit: Unit, reviewer: User, by: User | None = None) -> ReviewAssignment:
    """Give a unit's essays to a reviewer (a unit may be shared by several)."""
    if not reviewer.is_board:
        raise TaggingError("Chỉ giao đơn vị cho cán bộ Ban Tổ chức.")
    existing = db.session.scalar(select(ReviewAssignment).where(
        ReviewAssignment.unit_id == unit.id, ReviewAssignment.reviewer_id == reviewer.id))
    if existing:
        return existing
    assignment = ReviewAssignment(unit_id=unit.id, reviewer_id=reviewer.id, assigned_by_id=by.id if by else None)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def unassign_unit(assignment: ReviewAssignment) -> None:
    """Take a unit back from a reviewer."""
    db.session.delete(assignment)
    db.session.flush()


def ward_accepted_tags(unit_id: int | None = None, limit: int = 200) -> list[Tag]:
    """Passages wards accepted for their compilation that have no theme yet: the Board starts from these."""
    themed = select(TagTheme.tag_id).where(TagTheme.tag_id == Tag.id)
    query = (select(Tag).where(Tag.by_ward.is_(True), ~themed.exists())
             .order_by(Tag.unit_id, Tag.essay_id, Tag.start_offset).limit(limit))
    if unit_id is not None:
        query = query.where(Tag.unit_id == unit_id)
    return list(db.session.scalars(query))


def review_queue(reviewer: User, course_id: int | None = None, limit: int = 500,
                 unit_id: int | None = None) -> list[tuple[Essay, EssayReview | None]]:
    """Essays of the reviewer's units (or of one chosen unit) with a version, not yet marked done."""
    assigned = (select(ReviewAssignment.unit_id).where(ReviewAssignment.reviewer_id == reviewer.id)
                if unit_id is None else select(Unit.id).where(Unit.id == unit_id))
    not_done = or_(EssayReview.state.is_(None), EssayReview.state != "done")
    query = (select(Essay, EssayReview).outerjoin(EssayReview, EssayReview.essay_id == Essay.id)
             .where(Essay.unit_id.in_(assigned), Essay.current_version_id.is_not(None), not_done)
             .order_by(Essay.unit_id, Essay.id).limit(limit))
    if course_id is not None:
        query = query.where(Essay.course_id == course_id)
    return [(essay, review) for essay, review in db.session.execute(query).all()]


READING_PER_PAGE = 50


def units_matching(typed: str) -> list[Unit]:
    """Units whose code is the text, or whose name holds it with or without accents ("ninh kieu")."""
    typed = " ".join(typed.split())
    if not typed:
        return []
    wanted = fold(typed)
    units = db.session.scalars(select(Unit).order_by(Unit.name)).all()
    exact = [u for u in units if u.code == typed]
    return exact or [u for u in units if wanted in fold(u.name)]


def reading_list(reviewer: User, *, unit_ids: list[int] | None = None, topic_id: int | None = None,
                 state: str | None = None, assigned_to: int | None = None, page: int = 1,
                 per_page: int = READING_PER_PAGE) -> tuple[list[tuple[Essay, EssayReview | None]], int]:
    """One page of "Bài cần đọc" and the number of essays in all: essays with a version in the given units
    (default: the reviewer's assigned ones; assigned_to=0: every unit), not done unless state says."""
    from sqlalchemy import func

    query = (select(Essay, EssayReview).outerjoin(EssayReview, EssayReview.essay_id == Essay.id)
             .where(Essay.current_version_id.is_not(None)))
    if unit_ids is not None:
        query = query.where(Essay.unit_id.in_(unit_ids))
    elif assigned_to != 0:
        owner = reviewer.id if assigned_to is None else assigned_to
        query = query.where(Essay.unit_id.in_(select(ReviewAssignment.unit_id)
                                              .where(ReviewAssignment.reviewer_id == owner)))
    if topic_id is not None:
        query = query.where(Essay.topic_id == topic_id)
    if state == "new":
        query = query.where(or_(EssayReview.state.is_(None), EssayReview.state == "new"))
    elif state in ("in_progress", "done"):
        query = query.where(EssayReview.state == state)
    else:
        query = query.where(or_(EssayReview.state.is_(None), EssayReview.state != "done"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.execute(query.order_by(Essay.unit_id, Essay.id)
                              .limit(per_page).offset((max(1, page) - 1) * per_page)).all()
    return [(essay, review) for essay, review in rows], total
