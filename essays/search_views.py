"""The search page and `GET /api/v1/search`: Whoosh finds ids, SQL applies permissions and loads rows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from essays.access import essay_or_404, record_view
from essays.indexing import (
    SearchTimeout,
    get_index,
    has_marks,
    highlight_all,
    notes_for,
    pending_count,
    unmarked_query,
)
from essays.models import Essay
from lms.api import ApiError, add_openapi_paths, error_response, register_api_blueprint, std_responses
from lms.db import db
from lms.hooks import ESSAY_READING_URL, NAV, THEME_CHOICES
from lms.models import Course, Role, Unit, User
from lms.params import parse_id
from lms.throttle import hit_rate
from lms.transaction import write_after_reads

bp = Blueprint("essay_search", __name__)
api_bp = Blueprint("essay_search_api", __name__, url_prefix="/api/v1")

PER_PAGE = 20
STATES = {"on_time": "Đúng hạn", "late": "Nộp muộn", "extension": "Được gia hạn"}
SORTS = {"relevance": "Mức độ phù hợp", "date": "Mới nhất"}


def init_app(app: Flask) -> None:
    """Register the search page and its API."""
    app.register_blueprint(bp)
    register_api_blueprint(app, api_bp)
    add_openapi_paths(app, _OPENAPI_PATHS)
    NAV.register(app, _nav)


def _nav(user: User) -> list[tuple[str, str]]:
    return [(url_for("essay_search.search"), "Tìm kiếm")] if user.role != Role.trainee else []


class SearchDenied(Exception):
    """Trainees do not search other people's essays."""


@dataclass
class SearchPage:
    """What one search shows: rows in order, counts per unit and topic, paging."""

    query: str
    hits: list[tuple[Essay, float, Markup]]
    total: int  # essays holding every word as typed
    phrase_total: int  # of those, essays holding each run of words in a row
    total_is_exact: bool
    is_phrase: bool
    has_more: bool
    page: int
    by_unit: dict[str, int]
    by_topic: dict[str, int]
    pending: int
    unmarked_query: str | None = None  # the query without marks, offered when it differs
    unmarked_total: int = 0
    notes: list[str] = field(default_factory=list)  # what was not read as typed, in Vietnamese
    timed_out: bool = False  # the time budget ran out: the hits found by then, counts left out


def allowed_unit_codes(user: User) -> list[str] | None:
    """Units whose essays the user may find: None for every unit (Board), one for an officer."""
    if user.is_board:
        return None
    if user.role == Role.officer and user.unit is not None:
        return [user.unit.code]
    raise SearchDenied()


def run_search(user: User, q: str, *, course_id: int | None = None, topic_id: int | None = None,
               unit_code: str | None = None, state: str | None = None, theme: str | None = None,
               page: int = 1, sort: str = "relevance", per_page: int = PER_PAGE,
               with_counts: bool = True) -> SearchPage:
    """Search as this user may: scoped by unit in the index and again in SQL."""
    scope = allowed_unit_codes(user)
    units = scope
    if unit_code:
        units = [unit_code] if scope is None or unit_code in scope else []
    filters: dict[str, Any] = {"course_id": course_id, "topic_id": topic_id, "unit_codes": units,
                               "state": state, "themes": [theme] if theme else None}
    index = get_index()
    notes = notes_for(q)
    try:
        result = index.search(q, page=page, per_page=per_page, sort=sort if sort in SORTS else "relevance",
                              **filters)
    except SearchTimeout:  # PostgreSQL cancelled the statement: nothing to show but the reason
        return SearchPage(query=q, hits=[], total=0, phrase_total=0, total_is_exact=False, is_phrase=False,
                          has_more=False, page=page, by_unit={}, by_topic={}, pending=pending_count(db.session),
                          notes=[*notes, _timeout_note()], timed_out=True)
    ids = [int(i) for i in result.ids]
    rows: dict[int, Essay] = {}
    if ids:
        query = select(Essay).where(Essay.id.in_(ids))
        if scope is not None:
            query = query.join(Unit, Unit.id == Essay.unit_id).where(Unit.code.in_(scope))
        rows = {e.id: e for e in db.session.scalars(query)}
    snippets = index.snippets([str(i) for i in rows], q) if rows else {}
    hits = [(rows[int(i)], score, Markup(snippets.get(i, ""))) for i, score in result.hits if int(i) in rows]
    page_ = SearchPage(query=q, hits=hits, total=result.total, phrase_total=result.total, total_is_exact=False,
                       is_phrase=result.is_phrase, has_more=result.has_more, page=result.page, by_unit={},
                       by_topic={}, pending=pending_count(db.session), notes=notes, timed_out=result.timed_out)
    try:
        if not result.timed_out:
            _count(page_, index, q, filters, with_counts)
    except SearchTimeout:
        page_.timed_out = True  # the hits stand; the counts could not be finished in time
    if page_.timed_out:
        page_.notes.append(_timeout_note())
    return page_


def _count(page_: SearchPage, index: Any, q: str, filters: dict[str, Any], with_counts: bool) -> None:
    """Fill the page's exact totals, the side panel's counts and the unmarked alternative."""
    counts = index.count_by_fields(("unit_code", "topic_id"), q, **filters) if with_counts else {}
    page_.by_unit, page_.by_topic = counts.get("unit_code", {}), counts.get("topic_id", {})
    if with_counts:
        # The side panel's counts already walked every match: count only the phrase holders again.
        page_.total, page_.phrase_total = sum(page_.by_unit.values()), index.totals(q, phrase_only=True, **filters)[1]
    else:
        page_.total, page_.phrase_total = index.totals(q, **filters)
    page_.total_is_exact = True
    if has_marks(q):
        page_.unmarked_query = unmarked_query(q)
        page_.unmarked_total = index.totals(page_.unmarked_query, **filters)[0]


def _timeout_note() -> str:
    seconds = current_app.config.get("SEARCH_TIME_BUDGET", 2)
    return (f"Tìm kiếm này tốn quá nhiều thời gian (quá {seconds:g} giây) nên dừng lại: chỉ hiện những bài tìm được "
            "đến lúc đó, số bài có thể chưa đủ. Hãy thêm từ, bỏ tiền tố* ngắn hoặc chọn lớp, đơn vị để thu hẹp.")


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    number = parse_id(value)
    if number is None:
        raise ValueError(name)
    return number


def _rate_limited(user: User) -> float | None:
    """Seconds this user must wait before searching again, or None (SEARCH_RATE_LIMIT: count, seconds).

    Counted in the database, so the limit holds across worker processes and app servers; the read
    transaction ends first and the counter is written in its own short one (as audit_read does).
    """
    count, per = current_app.config.get("SEARCH_RATE_LIMIT", (30, 30))
    user_id = user.id
    with write_after_reads():
        wait = hit_rate(f"search:{user_id}", count, per)
    return wait


@bp.route("/search")
@login_required
def search():
    user = current_user._get_current_object()
    try:
        allowed_unit_codes(user)
    except SearchDenied:
        abort(403)
    q = request.args.get("q", "").strip()
    try:
        course_id, topic_id, page = _int_arg("course"), _int_arg("topic"), _int_arg("page") or 1
    except ValueError:
        abort(400)
    wait = _rate_limited(user) if q else None
    if wait is not None:
        return render_template("errors/error.html", code=429, message=(
            f"Bạn tìm kiếm quá nhanh. Vui lòng thử lại sau {max(1, math.ceil(wait))} giây.")), 429, {
            "Retry-After": str(max(1, math.ceil(wait)))}
    unit_code = request.args.get("unit", "").strip() or None
    state = request.args.get("state") if request.args.get("state") in STATES else None
    theme = request.args.get("theme", "").strip() or None
    sort = request.args.get("sort", "relevance")
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc())).all()
    units_query = select(Unit).where(Unit.id.in_(select(Essay.unit_id).distinct())).order_by(Unit.name)
    if user.role == Role.officer:
        units_query = units_query.where(Unit.id == user.unit_id)
    units = db.session.scalars(units_query).all()
    result = None
    if q:
        result = run_search(user, q, course_id=course_id, topic_id=topic_id, unit_code=unit_code, state=state,
                            theme=theme, page=page, sort=sort)
    topics = {str(t.id): t for c in courses for t in c.topics}
    unit_names = {u.code: u.name for u in units}
    themes = _theme_choices()
    args = {k: v for k, v in request.args.items() if k != "page"}
    def open_url(essay: Essay) -> str:
        """The reading and tagging view when a feature offers one to this user, else the plain text."""
        return ESSAY_READING_URL.first(essay.id, user, q) or url_for("essay_search.essay", essay_id=essay.id, q=q)

    return render_template("essays/search.html", open_url=open_url, q=q, result=result, courses=courses, units=units,
                           topics=topics, unit_names=unit_names, states=STATES, sorts=SORTS, themes=themes,
                           selected={"course": course_id, "topic": topic_id, "unit": unit_code, "state": state,
                                     "theme": theme, "sort": sort}, args=args)


def _theme_choices() -> list[tuple[str, str]]:
    """Themes to filter by, offered by the review feature when it is loaded."""
    return THEME_CHOICES.first() or []


@bp.route("/search/essays/<int:essay_id>")
@login_required
def essay(essay_id: int):
    user = current_user._get_current_object()
    found = essay_or_404(essay_id, user)
    record_view(found, user)
    q = request.args.get("q", "")
    version = found.current_version
    body = Markup(highlight_all(version.text, q)) if version else Markup("")
    return render_template("essays/search_essay.html", essay=found, version=version, body=body, q=q)


@api_bp.get("/search")
@login_required
def api_search():
    user = current_user._get_current_object()
    try:
        course_id, topic_id, page = _int_arg("course"), _int_arg("topic"), _int_arg("page") or 1
    except ValueError as exc:
        raise ApiError(400, f"Tham số {exc.args[0]} phải là số nguyên.") from exc
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ApiError(422, "Tham số state phải là một trong: " + ", ".join(STATES) + ".")
    wait = _rate_limited(user)
    if wait is not None:
        return error_response(429, f"Bạn tìm kiếm quá nhanh. Vui lòng thử lại sau {max(1, math.ceil(wait))} giây.")[0], \
            429, {"Retry-After": str(max(1, math.ceil(wait)))}
    try:
        result = run_search(user, request.args.get("q", ""), course_id=course_id, topic_id=topic_id,
                            unit_code=request.args.get("unit") or None, page=page,
                            state=state, theme=request.args.get("theme") or None, with_counts=True)
    except SearchDenied as exc:
        raise ApiError(403, "Học viên không dùng được chức năng tìm kiếm.") from exc
    return jsonify({
        "total": result.total,
        "phrase_total": result.phrase_total,
        "page": result.page,
        "has_more": result.has_more,
        "is_phrase": result.is_phrase,
        "total_is_exact": result.total_is_exact,
        "timed_out": result.timed_out,
        "notes": result.notes,
        "hits": [{"essay_id": e.id, "trainee": e.trainee.full_name, "unit_code": e.unit.code,
                  "topic_id": e.topic_id, "score": round(score, 4), "snippet": str(snippet)}
                 for e, score, snippet in result.hits],
    })


_OPENAPI_PATHS = {
    "/api/v1/search": {"get": {
        "summary": "Tìm bài thu hoạch (theo quyền: cán bộ đơn vị chỉ thấy đơn vị mình; học viên không được dùng)",
        "parameters": [
            {"name": "q", "in": "query", "schema": {"type": "string"},
             "description": "Từ khóa. Từ gõ có dấu chỉ khớp đúng từ có dấu đó (không phân biệt hoa thường, "
                            "vị trí dấu thanh: hoà = hòa); từ gõ không dấu khớp mọi dạng có dấu (so: số, sở, sổ…). "
                            "Nhiều từ: các bài có đủ các từ, bài có các từ liền nhau xếp trước; \"…\" tìm các từ "
                            "liền nhau; OR, NOT, -từ, tiền tố*"},
            {"name": "course", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
            {"name": "topic", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
            {"name": "unit", "in": "query", "schema": {"type": "string"}},
            {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
            {"name": "theme", "in": "query", "schema": {"type": "string"}},
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
        ],
        "responses": std_responses({"type": "object", "required": ["total", "phrase_total", "hits"], "properties": {
            "total": {"type": "integer", "description": "Số bài có đủ mọi từ như đã gõ (trong phạm vi được xem)"},
            "phrase_total": {"type": "integer", "description": "Trong số đó, số bài có các từ liền nhau "
                             "(bằng total khi chỉ gõ một từ)"},
            "page": {"type": "integer"}, "has_more": {"type": "boolean"},
            "is_phrase": {"type": "boolean"},
            "total_is_exact": {"type": "boolean", "description": "false: total là số tối thiểu (hết thời gian)"},
            "timed_out": {"type": "boolean", "description": "Hết thời gian cho một truy vấn "
                          "(THUHOACH_SEARCH_TIME_BUDGET): hits là những bài tìm được đến lúc đó"},
            "notes": {"type": "array", "items": {"type": "string"}, "description": (
                "Điều tìm kiếm không đọc đúng như đã gõ (tiền tố quá ngắn, từ khóa quá dài), hết thời gian")},
            "hits": {"type": "array", "items": {"type": "object", "required": [
                "essay_id", "trainee", "unit_code", "topic_id", "score", "snippet"], "properties": {
                "essay_id": {"type": "integer"}, "trainee": {"type": "string"}, "unit_code": {"type": "string"},
                "topic_id": {"type": "integer"}, "score": {"type": "number"},
                "snippet": {"type": "string", "description": "HTML đã thoát ký tự, từ khớp trong <mark>"}}}}}},
            400, 401, 403, 422, 429),
    }},
}
