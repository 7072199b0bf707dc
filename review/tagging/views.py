"""Tagging pages: codebook, reading view, suggestions, queue and assignments, compilation, groups."""
from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from essays.access import essay_or_404
from essays.indexing import match_spans
from essays.models import Essay, EssayVersion
from lms.db import db, utcnow
from lms.forms import EmptyForm
from lms.hooks import DEMO, ESSAY_READING_URL, NAV
from lms.models import BOARD_ROLES, Course, Unit, User
from lms.params import parse_id, parse_int
from lms.security import audit, audit_read, course_or_404, role_required
from lms.transaction import committed, write_after_reads
from review.tagging import api as tagging_api
from review.tagging.cli import themes_cli
from review.tagging.compilation import CompilationFilter, build_xlsx, compile_course
from review.tagging.demo import tag_demo_essays
from review.tagging.grouping import DEFAULT_THRESHOLD, offered_groups
from review.tagging.models import (
    KIND_LABELS,
    REVIEW_STATE_LABELS,
    EssayCopy,
    PassageGroup,
    ReviewAssignment,
    Tag,
    TagTheme,
    Theme,
)
from review.tagging.operations import (
    READING_PER_PAGE,
    TaggingError,
    assign_unit,
    choosable_themes,
    confirm_group,
    create_theme,
    delete_tag,
    mark_duplicate,
    mark_review,
    merge_themes,
    ordered_tree,
    reading_list,
    retire_theme,
    review_of,
    suggestion_or_404,
    tag_or_404,
    tag_passage,
    theme_or_error,
    unassign_unit,
    ungroup,
    units_matching,
    update_tag,
    update_theme,
    ward_accepted_tags,
)
from review.tagging.reading import Highlight, render_text
from review.tagging.suggestions import suggestions_for

bp = Blueprint("tagging", __name__, url_prefix="/review")
GROUPS_PER_PAGE = 20
COPIES_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def init_app(app: Flask) -> None:
    """Register the tagging pages, API, CLI, menu entries and demo step."""

    app.register_blueprint(bp)
    tagging_api.init_app(app)
    app.cli.add_command(themes_cli)
    NAV.register(app, _nav)
    DEMO.register(app, tag_demo_essays)
    ESSAY_READING_URL.register(app, _reading_url)


def _reading_url(essay_id: int, user: User, q: str = "") -> str | None:
    """Where a search hit or list entry opens: the reading and tagging view, for the Board."""
    if not user.is_board:
        return None
    return url_for("tagging.read", essay_id=essay_id, q=q or None)


def _nav(user: User) -> list[tuple[str, str]]:
    if not user.is_board:
        return []
    return [(url_for("tagging.queue"), "Bài cần đọc"), (url_for("tagging.triage"), "Xử lý nhanh gợi ý"),
            (url_for("tagging.compilation_home"), "Tổng hợp kiến nghị"), (url_for("tagging.copies"), "Bài trùng nội dung"),
            (url_for("tagging.themes"), "Lĩnh vực")]


def _back(default: str) -> ResponseReturnValue:
    # Only same-site paths: a crafted "next" must not send the reviewer elsewhere.
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else default)


def _int_list(values: list[str]) -> list[int]:
    return [i for i in (parse_id(v) for v in values) if i is not None]


# --- codebook ----------------------------------------------------------------------------------

@bp.route("/themes", methods=["GET", "POST"])
@role_required(*BOARD_ROLES)
def themes():
    if request.method == "POST":
        form = EmptyForm()
        if not form.validate_on_submit():
            abort(400)
        with committed(TaggingError, ValueError, message=_theme_error) as outcome:
            outcome.success = _theme_action(request.form.get("action"))
        return redirect(url_for("tagging.themes"))
    all_themes = ordered_tree(db.session.scalars(select(Theme)).all())
    counts = dict(db.session.execute(select(TagTheme.theme_id, func.count()).group_by(TagTheme.theme_id)).all())
    live = [t for t in all_themes if not t.is_retired]
    return render_template("review/themes.html", themes=all_themes, live=live, counts=counts, form=EmptyForm())


def _theme_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TaggingError) else "Dữ liệu không hợp lệ."


def _theme_action(action: str | None) -> str:
    form = request.form
    parent = parse_id(form.get("parent_id", ""))
    if action == "add":
        theme = create_theme(form.get("name", ""), parent_id=parent, description=form.get("description"))
        audit("theme.created", target=f"theme={theme.id}", detail=theme.name)
        return f"Đã thêm lĩnh vực “{theme.name}”."
    theme = theme_or_error(parse_id(form.get("theme_id", "")) or 0)
    if action == "edit":
        update_theme(theme, name=form.get("name", theme.name), description=form.get("description", ""),
                     parent_id=parent)
        audit("theme.updated", target=f"theme={theme.id}", detail=theme.name)
        return f"Đã lưu lĩnh vực “{theme.name}”."
    if action == "retire":
        retire_theme(theme, retired=form.get("retired", "1") == "1")
        audit("theme.retired" if theme.is_retired else "theme.restored", target=f"theme={theme.id}")
        return f"Đã {'ngừng sử dụng' if theme.is_retired else 'dùng lại'} lĩnh vực “{theme.name}”."
    if action == "merge":
        target = theme_or_error(parse_id(form.get("into_id", "")) or 0)
        moved = merge_themes(theme, target)
        return f"Đã gộp “{theme.name}” vào “{target.name}” ({moved} thẻ)."
    raise TaggingError("Thao tác không hợp lệ.")


# --- reading view ------------------------------------------------------------------------------

@bp.route("/essays/<int:essay_id>")
@role_required(*BOARD_ROLES)
def read(essay_id: int):

    essay = essay_or_404(essay_id, current_user)
    versions = db.session.scalars(select(EssayVersion).where(EssayVersion.essay_id == essay.id)
                                  .order_by(EssayVersion.number)).all()
    if not versions:
        abort(404)
    # A version number that is no number (or beyond any column) is a version that does not exist.
    number = parse_int(request.args["v"], low=1) if request.args.get("v") else None
    if request.args.get("v") and number is None:
        abort(404)
    version = next((v for v in versions if v.number == number), None) if number else essay.current_version
    if version is None:
        abort(404)
    is_current = version.id == essay.current_version_id
    with write_after_reads():
        suggestions = suggestions_for(version) if is_current else []
        mark_review(essay, "in_progress", current_user, only_if_new=True)

    tags = db.session.scalars(select(Tag).where(Tag.essay_id == essay.id).options(selectinload(Tag.themes))
                              .order_by(Tag.start_offset)).all()
    here = [t for t in tags if t.version_id == version.id]
    older = [t for t in tags if t.version_id != version.id]
    highlights = [Highlight(t.start_offset, t.end_offset, f"t{t.id}", f"hl-{t.kind}",
                            f"{KIND_LABELS[t.kind]}: {', '.join(th.name for th in t.themes)}") for t in here]
    # Never offer a passage already tagged (tags made before suggestions were settled included).
    open_suggestions = [s for s in suggestions if s.status == "open"
                        and not any(t.start_offset < s.end_offset and t.end_offset > s.start_offset for t in here)]
    highlights += [Highlight(s.start_offset, s.end_offset, f"s{s.id}", "hl-suggestion", "") for s in open_suggestions]
    text = version.text
    q = request.args.get("q", "")
    # The words searched for, marked as the search matched them (marks honoured per word).
    highlights += [Highlight(a, b, "q", "hl-query", "") for a, b in match_spans(text, q)] if q else []
    for s in suggestions:
        s.passage = text[s.start_offset:s.end_offset]
    course_tags = db.session.scalars(select(Tag).where(Tag.course_id == essay.course_id, Tag.essay_id != essay.id)
                                     .order_by(Tag.id.desc()).limit(200)).all()
    return render_template(
        "review/read.html", essay=essay, version=version, versions=versions, is_current=is_current,
        body=render_text(text, highlights), tags=here, older_tags=older, suggestions=open_suggestions,
        themes=choosable_themes(), review=review_of(essay), kinds=KIND_LABELS, states=REVIEW_STATE_LABELS,
        course_tags=course_tags, form=EmptyForm(), q=q)


@bp.route("/essays/<int:essay_id>/state", methods=["POST"])
@role_required(*BOARD_ROLES)
def set_state(essay_id: int):
    essay = essay_or_404(essay_id, current_user)
    if EmptyForm().validate_on_submit():
        with committed(TaggingError) as outcome:
            mark_review(essay, request.form.get("state", ""), current_user)
            outcome.success = f"Đã chuyển bài sang “{REVIEW_STATE_LABELS[request.form['state']]}”."
    return _back(url_for("tagging.read", essay_id=essay.id))


@bp.route("/tags/<int:tag_id>/edit", methods=["POST"])
@role_required(*BOARD_ROLES)
def edit_tag(tag_id: int):
    tag = tag_or_404(tag_id, current_user)
    if EmptyForm().validate_on_submit():
        fields: dict = {"kind": request.form.get("kind"), "themes": _int_list(request.form.getlist("themes")),
                        "note": request.form.get("note", "")}
        if "duplicate_of" in request.form:
            raw = request.form["duplicate_of"].strip().lstrip("#")
            fields["duplicate_of"] = parse_id(raw)
        with committed(TaggingError, success="Đã lưu thẻ."):
            update_tag(tag, fields)
    return _back(url_for("tagging.read", essay_id=tag.essay_id))


@bp.route("/tags/<int:tag_id>/delete", methods=["POST"])
@role_required(*BOARD_ROLES)
def remove_tag(tag_id: int):
    tag = tag_or_404(tag_id, current_user)
    essay_id = tag.essay_id
    if EmptyForm().validate_on_submit():
        with committed(TaggingError, success="Đã xoá thẻ."):
            delete_tag(tag)
    return _back(url_for("tagging.read", essay_id=essay_id))


# --- suggestions -------------------------------------------------------------------------------

@bp.route("/suggestions/<int:suggestion_id>/accept", methods=["POST"])
@role_required(*BOARD_ROLES)
def accept_suggestion(suggestion_id: int):
    suggestion, essay = suggestion_or_404(suggestion_id, current_user)
    if EmptyForm().validate_on_submit() and suggestion.status == "open":
        version = db.session.get(EssayVersion, suggestion.version_id)
        if version is None:
            abort(404)
        with committed(TaggingError, success="Đã nhận gợi ý thành thẻ."):
            tag = tag_passage(essay, start=suggestion.start_offset, end=suggestion.end_offset,
                              kind=request.form.get("kind") or suggestion.kind,
                              theme_ids=_int_list(request.form.getlist("themes")), note=request.form.get("note"),
                              by=current_user, version_number=version.number)
            suggestion.status, suggestion.tag_id = "accepted", tag.id
            suggestion.decided_by_id, suggestion.decided_at = current_user.id, utcnow()
    return _back(url_for("tagging.read", essay_id=essay.id))


@bp.route("/suggestions/<int:suggestion_id>/dismiss", methods=["POST"])
@role_required(*BOARD_ROLES)
def dismiss_suggestion(suggestion_id: int):
    suggestion, essay = suggestion_or_404(suggestion_id, current_user)
    if EmptyForm().validate_on_submit() and suggestion.status == "open":
        with committed(TaggingError):
            suggestion.status = "dismissed"
            suggestion.decided_by_id, suggestion.decided_at = current_user.id, utcnow()
    return _back(url_for("tagging.read", essay_id=essay.id))


# --- work sharing ------------------------------------------------------------------------------

@bp.route("/queue")
@role_required(*BOARD_ROLES)
def queue():
    """"Bài cần đọc": the reviewer's units by default; any ward (typed name, accents optional), topic,
    state or assigned reviewer on request; paginated."""

    args = request.args
    typed = args.get("unit", "").strip()
    matches = units_matching(typed) if typed else []
    topic_id, page = parse_id(args.get("topic", "")), parse_int(args.get("page", "1"), low=1, high=100_000) or 1
    state = args.get("state") if args.get("state") in REVIEW_STATE_LABELS else None
    reviewer_arg = args.get("reviewer", "")
    assigned_to = 0 if reviewer_arg == "all" else parse_id(reviewer_arg)
    rows, total = ([], 0) if typed and not matches else reading_list(
        current_user, unit_ids=[u.id for u in matches] if typed else None, topic_id=topic_id, state=state,
        assigned_to=assigned_to, page=page)
    units = db.session.scalars(select(Unit).join(ReviewAssignment, ReviewAssignment.unit_id == Unit.id)
                               .where(ReviewAssignment.reviewer_id == current_user.id).order_by(Unit.name)).all()
    reviewers = db.session.scalars(select(User).where(User.role.in_(BOARD_ROLES)).order_by(User.full_name)).all()
    courses = db.session.scalars(select(Course).order_by(Course.id.desc())).all()
    kept = {k: v for k, v in args.items() if k != "page"}
    return render_template("review/queue.html", rows=rows, units=units, matches=matches, typed=typed,
                           states=REVIEW_STATE_LABELS, total=total, page=page,
                           pages=max(1, -(-total // READING_PER_PAGE)), reviewers=reviewers, courses=courses,
                           selected={"topic": topic_id, "state": state, "reviewer": reviewer_arg}, kept=kept,
                           ward_tags=ward_accepted_tags(matches[0].id if len(matches) == 1 else None))


@bp.route("/triage")
@role_required(*BOARD_ROLES)
def triage():
    """Suggested passages across essays, keyboard first (the reviewer's assigned units first)."""
    courses = db.session.scalars(select(Course).order_by(Course.id.desc())).all()
    course_id = parse_id(request.args.get("course", "")) or (courses[0].id if courses else None)
    course = course_or_404(course_id) if course_id else None
    unit = request.args.get("unit", "").strip()
    scope = {"items": url_for("review_tagging_api.triage", course=course.id, unit=unit or None) if course else "",
             "title": "Xử lý nhanh các đoạn kiến nghị, đề xuất được gợi ý"}
    return render_template("review/triage.html", course=course, courses=courses, scope=scope, form=EmptyForm())


@bp.route("/copies")
@role_required(*BOARD_ROLES)
def copies():
    """Pairs of essays of different trainees with the same text, as the worker found them."""
    from sqlalchemy.orm import aliased


    page = parse_int(request.args.get("page", "1"), low=1, high=100_000) or 1
    other = aliased(Essay)
    base = (select(EssayCopy, Essay, other).join(Essay, Essay.id == EssayCopy.essay_id)
            .join(other, other.id == EssayCopy.other_id).where(EssayCopy.essay_id < EssayCopy.other_id))
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.session.execute(base.order_by(EssayCopy.found_at.desc(), EssayCopy.essay_id)
                              .limit(COPIES_PER_PAGE).offset((page - 1) * COPIES_PER_PAGE)).all()
    return render_template("review/copies.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // COPIES_PER_PAGE)))


@bp.route("/assignments", methods=["GET", "POST"])
@role_required(*BOARD_ROLES)
def assignments():
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        with committed(TaggingError, success="Đã cập nhật phân công."):
            if request.form.get("action") == "remove":
                assignment_id = parse_id(request.form.get("assignment_id"))
                assignment = db.session.get(ReviewAssignment, assignment_id) if assignment_id else None
                if assignment is None:
                    abort(404)
                audit("review.unassigned", target=f"unit={assignment.unit_id}",
                      detail=f"reviewer={assignment.reviewer.username}")
                unassign_unit(assignment)
            else:
                reviewer_id = parse_id(request.form.get("reviewer_id"))
                reviewer = db.session.get(User, reviewer_id) if reviewer_id else None
                codes = [c.strip() for c in request.form.get("units", "").replace(";", ",").split(",") if c.strip()]
                found = db.session.scalars(select(Unit).where(Unit.code.in_(codes))).all()
                missing = set(codes) - {u.code for u in found}
                if reviewer is None or missing or not codes:
                    raise TaggingError("Không tìm thấy mã đơn vị: " + ", ".join(sorted(missing))
                                       if missing else "Chọn cán bộ và nhập mã đơn vị.")
                for unit in found:
                    assign_unit(unit, reviewer, by=current_user)
                audit("review.assigned", target=f"reviewer={reviewer.username}", detail=",".join(codes))
        return redirect(url_for("tagging.assignments"))
    rows = db.session.scalars(select(ReviewAssignment).order_by(ReviewAssignment.reviewer_id)).all()
    reviewers = db.session.scalars(select(User).where(User.role.in_(BOARD_ROLES)).order_by(User.full_name)).all()
    return render_template("review/assignments.html", rows=rows, reviewers=reviewers, form=EmptyForm())


# --- compilation and groups --------------------------------------------------------------------

@bp.route("/compilation")
@role_required(*BOARD_ROLES)
def compilation_home():
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc())).all()
    if len(courses) == 1:
        return redirect(url_for("tagging.compilation", course_id=courses[0].id))
    return render_template("review/compilation_home.html", courses=courses)


def _filters(course: Course):

    unit_id = None
    code = request.args.get("unit", "").strip()
    if code:
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == code))
        if unit_id is None:
            abort(404)
    try:
        return CompilationFilter.from_args(request.args, unit_id=unit_id)
    except ValueError:
        abort(400)


@bp.route("/courses/<int:course_id>/compilation")
@role_required(*BOARD_ROLES)
def compilation(course_id: int):

    course = course_or_404(course_id)
    filters = _filters(course)
    sections = compile_course(course.id, filters)
    units = db.session.scalars(select(Unit).where(Unit.id.in_(select(Tag.unit_id).where(Tag.course_id == course.id)))
                               .order_by(Unit.name)).all()
    all_themes = ordered_tree(db.session.scalars(select(Theme).where(Theme.merged_into_id.is_(None))).all())
    return render_template("review/compilation.html", course=course, sections=sections, filters=filters,
                           units=units, themes=all_themes, kinds=KIND_LABELS, args=request.args)


@bp.route("/courses/<int:course_id>/compilation.xlsx")
@role_required(*BOARD_ROLES)
def compilation_xlsx(course_id: int):

    course = course_or_404(course_id)
    filters = _filters(course)
    data = build_xlsx(course.name, compile_course(course.id, filters), filters.describe())
    audit_read("compilation.exported", target=f"course={course.id}")
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="tong-hop-kien-nghi-lop-{course.id}.xlsx"'})


@bp.route("/courses/<int:course_id>/groups", methods=["GET", "POST"])
@role_required(*BOARD_ROLES)
def groups(course_id: int):

    course = course_or_404(course_id)
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        with committed(TaggingError) as outcome:
            if request.form.get("action") == "ungroup":
                group_id = parse_id(request.form.get("group_id"))
                group = db.session.get(PassageGroup, group_id) if group_id else None
                if group is None or group.course_id != course.id:
                    abort(404)
                ungroup(group)
                outcome.success = "Đã bỏ nhóm."
            else:
                group = confirm_group(course.id, _int_list(request.form.getlist("tag_ids")), current_user)
                audit("group.confirmed", target=f"group={group.id}")
                outcome.success = "Đã xác nhận nhóm: các đoạn này được tính là một ý."
        return redirect(url_for("tagging.groups", course_id=course.id))
    asked = parse_int(request.args.get("nguong", ""))
    threshold = DEFAULT_THRESHOLD if asked is None else max(50, min(asked, 100))
    every = offered_groups(course.id, threshold=threshold)
    page = parse_int(request.args.get("trang", "1"), low=1, high=100_000) or 1
    offered = every[(page - 1) * GROUPS_PER_PAGE:page * GROUPS_PER_PAGE]
    confirmed: dict[int | None, list[Tag]] = {}
    for tag in db.session.scalars(select(Tag).where(Tag.course_id == course.id, Tag.group_id.is_not(None))
                                  .order_by(Tag.group_id, Tag.id)):
        confirmed.setdefault(tag.group_id, []).append(tag)
    return render_template("review/groups.html", course=course, offered=offered, confirmed=confirmed,
                           threshold=threshold, form=EmptyForm(), page=page, total=len(every),
                           pages=max(1, -(-len(every) // GROUPS_PER_PAGE)))


@bp.route("/tags/<int:tag_id>/duplicate", methods=["POST"])
@role_required(*BOARD_ROLES)
def duplicate(tag_id: int):
    tag = tag_or_404(tag_id, current_user)
    if EmptyForm().validate_on_submit():
        raw = request.form.get("duplicate_of", "").strip().lstrip("#")
        with committed(TaggingError) as outcome:
            mark_duplicate(tag, parse_id(raw))
            outcome.success = "Đã đánh dấu đoạn trùng." if tag.duplicate_of_id else "Đã bỏ đánh dấu trùng."
    return _back(url_for("tagging.read", essay_id=tag.essay_id))
