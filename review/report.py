"""The report to the Standing Committee: figures per ward and recommendations by theme, and its builders.

Unit and topic figures come from `review.completeness.completeness` (the one function behind the
overview page, the completeness API and its exports): this module never recounts them. Tagged
passages are aggregated next to it by `theme_figures`. The builders are pure: `ReportData` in,
bytes out (openpyxl for .xlsx, python-docx + matplotlib for .docx).
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pandas as pd
from sqlalchemy import select

from essays.models import Essay, EssayVersion
from lms.db import db, utcnow
from lms.models import Course, Topic, Unit, User
from lms.text import vn_sort_key
from lms.timefmt import fmt_date, fmt_datetime, to_local
from review.completeness import Completeness, completeness, day_column, trainee_states
from review.models.report import ReportSettings
from review.models.tagging import KIND_LABELS, TAG_KINDS, Tag, TagTheme, Theme
from lms.spreadsheets import safe_cell

logger = logging.getLogger(__name__)

WARD_KINDS = {"phường", "xã", "đặc khu"}
FORMATS = ("xlsx", "docx")
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
SHEETS = ("Tổng hợp", "Theo đơn vị", "Theo chủ đề", "Chủ đề kiến nghị – đề xuất", "Kiến nghị – đề xuất",
          "Chưa nộp")
# Charts list every unit up to this many; above it a distribution is clearer than 3,000 bars.
CHART_MAX_UNITS = 120
# Section IV quotes at most this many distinct passages per theme; the .xlsx lists them all.
QUOTES_PER_THEME = 5


# --- the theme aggregation (next to completeness) ------------------------------------------------

@dataclass
class ThemeFigures:
    """Tagged passages as of a time: `passages` (one row per tag), `pairs` (tag × theme), `clusters` and
    `themes` (per theme × kind, most frequent first)."""

    passages: pd.DataFrame
    pairs: pd.DataFrame
    clusters: pd.DataFrame
    themes: pd.DataFrame

    def totals(self) -> dict[str, int]:
        """Tags, distinct passages (confirmed groups once), essays and units over every theme."""
        p = self.passages
        return {"tags": int(len(p)), "passages": int(p["cluster"].nunique()) if len(p) else 0,
                "essays": int(p["essay_id"].nunique()) if len(p) else 0,
                "units": int(p["unit_id"].nunique()) if len(p) else 0}

    def cluster_units(self, theme_id: int, kind: str, cluster: str) -> list[str]:
        """Names of the units a passage (cluster) of a theme comes from, in Vietnamese order."""
        p = self.pairs
        part = p[(p["theme_id"] == theme_id) & (p["kind"] == kind) & (p["cluster"] == cluster)]
        return sorted(part.drop_duplicates("unit_id")["unit_name"].tolist(), key=vn_sort_key)


_PASSAGE_COLUMNS = ["tag_id", "cluster", "is_duplicate", "kind", "text", "essay_id", "unit_id", "unit_code",
                    "unit_name", "unit_kind", "trainee", "topic_position", "topic_title", "themes", "theme_ids"]


def _cluster_keys(course_id: int) -> dict[int, str]:
    """Each tag's cluster: its confirmed group, its original's cluster, or itself (as in the compilation)."""
    rows = db.session.execute(select(Tag.id, Tag.group_id, Tag.duplicate_of_id)
                              .where(Tag.course_id == course_id)).all()
    info = {r.id: (r.group_id, r.duplicate_of_id) for r in rows}
    keys: dict[int, str] = {}
    for tag_id in info:
        current, seen = tag_id, set()
        while info[current][0] is None and info[current][1] in info and current not in seen:
            seen.add(current)
            current = info[current][1]
        group = info[current][0]
        keys[tag_id] = f"g{group}" if group is not None else f"t{current}"
    return keys


def theme_figures(course: Course, as_of: dt.datetime | None = None, unit_ids: Iterable[int] | None = None,
                  theme_ids: Iterable[int] | None = None) -> ThemeFigures:
    """Tagged passages per theme and kind as of a time: passages (confirmed near-duplicates once), essays, units.

    A tag counts when the version it marks was handed in by then. When the tag itself was made does
    not matter: the Board reads and tags after the deadline, and a report "as of the deadline" built a
    week later must show what was said by the deadline, not an empty section IV.
    """
    as_of = (as_of or utcnow()).astimezone(dt.timezone.utc)
    trainee = User.__table__.alias("trainee")
    query = (select(Tag.id, Tag.kind, Tag.text, Tag.essay_id, Tag.unit_id, Tag.duplicate_of_id, Unit.code,
                    Unit.name, Unit.kind.label("unit_kind"), trainee.c.full_name, Topic.position, Topic.title)
             .join(EssayVersion, EssayVersion.id == Tag.version_id)
             .join(Essay, Essay.id == Tag.essay_id)
             .join(Topic, Topic.id == Essay.topic_id)
             .join(trainee, trainee.c.id == Essay.trainee_id)
             .join(Unit, Unit.id == Tag.unit_id)
             .where(Tag.course_id == course.id, EssayVersion.submitted_at <= as_of))
    if unit_ids is not None:
        query = query.where(Tag.unit_id.in_(list(unit_ids)))
    links_query = (select(TagTheme.tag_id, Theme.id, Theme.name).join(Theme, Theme.id == TagTheme.theme_id)
                   .join(Tag, Tag.id == TagTheme.tag_id).where(Tag.course_id == course.id))
    wanted = None if theme_ids is None else set(theme_ids)
    if wanted is not None:
        query = query.where(Tag.id.in_(select(TagTheme.tag_id).where(TagTheme.theme_id.in_(wanted))))
    tags = db.session.execute(query).all()
    links = pd.DataFrame.from_records([tuple(r) for r in db.session.execute(links_query).all()],
                                      columns=["tag_id", "theme_id", "theme"])
    keys = _cluster_keys(course.id) if tags else {}
    # Sort keys once per theme, not once per tag (vn_sort_key is pure Python).
    names = dict(zip(links["theme_id"], links["theme"]))
    rank = {theme_id: i for i, theme_id in enumerate(sorted(names, key=lambda t: vn_sort_key(names[t])))}
    per_tag_themes: dict[int, list[tuple[int, str]]] = {}
    for tag_id, theme_id, name in links.itertuples(index=False):
        per_tag_themes.setdefault(tag_id, []).append((theme_id, name))
    records = []
    for r in tags:
        themes = sorted(per_tag_themes.get(r.id, []), key=lambda t: rank[t[0]])
        records.append((r.id, keys.get(r.id, f"t{r.id}"), r.duplicate_of_id is not None, r.kind, r.text, r.essay_id,
                        r.unit_id, r.code, r.name, r.unit_kind, r.full_name, r.position, r.title,
                        ", ".join(t[1] for t in themes), [t[0] for t in themes]))
    passages = pd.DataFrame.from_records(records, columns=_PASSAGE_COLUMNS)
    passages = passages.sort_values(["unit_code", "topic_position", "tag_id"], kind="stable").reset_index(drop=True)

    # One row per tag × theme, the unit of every count below.
    pairs = passages[["tag_id", "cluster", "is_duplicate", "kind", "text", "essay_id", "unit_id", "unit_name",
                      "unit_kind"]].merge(links, on="tag_id", how="inner")
    if wanted is not None:
        pairs = pairs[pairs["theme_id"].isin(wanted)]
    clusters = _clusters(pairs)
    themes = _themes(pairs)
    return ThemeFigures(passages=passages, pairs=pairs, clusters=clusters, themes=themes)


def _unit_list(frame: pd.DataFrame) -> tuple[list[str], bool]:
    units = frame.drop_duplicates("unit_id")
    names = sorted(units["unit_name"].tolist(), key=vn_sort_key)
    return names, bool(len(units)) and all(k in WARD_KINDS for k in units["unit_kind"])


def _clusters(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per theme × kind × cluster: lead text, tags, essays, units (set-based: 20,000 tags in well under a second)."""
    columns = ["theme_id", "theme", "kind", "cluster", "text", "tags", "essays", "units", "all_wards"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    keys = ["theme_id", "kind", "cluster"]
    # The lead passage: an original before its duplicates, then the oldest tag.
    lead = (pairs.sort_values(["is_duplicate", "tag_id"], kind="stable")
            .drop_duplicates(keys)[[*keys, "theme", "text"]])
    grouped = pairs.assign(is_ward=pairs["unit_kind"].isin(WARD_KINDS)).groupby(keys)
    counts = pd.DataFrame({"tags": grouped["tag_id"].nunique(), "essays": grouped["essay_id"].nunique(),
                           "units": grouped["unit_id"].nunique(), "all_wards": grouped["is_ward"].all()}).reset_index()
    frame = lead.merge(counts, on=keys)[columns]
    return frame.sort_values(["theme_id", "units", "tags"], ascending=[True, False, False],
                             kind="stable").reset_index(drop=True)


def _themes(pairs: pd.DataFrame) -> pd.DataFrame:
    columns = ["theme_id", "theme", "kind", "kind_label", "passages", "tags", "essays", "units", "unit_names",
               "all_wards"]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (theme_id, kind), part in pairs.groupby(["theme_id", "kind"], sort=False):
        names, all_wards = _unit_list(part)
        rows.append((theme_id, part["theme"].iloc[0], kind, KIND_LABELS[kind], int(part["cluster"].nunique()),
                     int(part["tag_id"].nunique()), int(part["essay_id"].nunique()), len(names), names, all_wards))
    frame = pd.DataFrame.from_records(rows, columns=columns)
    # Most frequent theme first (its passages over both kinds), then recommendations before proposals.
    weight = frame.groupby("theme_id")["passages"].transform("sum")
    frame = frame.assign(_w=weight, _k=frame["kind"].map({k: i for i, k in enumerate(TAG_KINDS)}),
                         _n=[vn_sort_key(n) for n in frame["theme"]])
    frame = frame.sort_values(["_w", "_n", "_k"], ascending=[False, True, True], kind="stable")
    return frame.drop(columns=["_w", "_k", "_n"]).reset_index(drop=True)


# --- the report's data ---------------------------------------------------------------------------

@dataclass
class ReportData:
    """Everything a report shows, computed once as of a time (for the city, or one unit)."""

    course: Course
    as_of: dt.datetime
    figures: Completeness
    themes: ThemeFigures
    missing: pd.DataFrame
    unit: Unit | None = None
    theme_filter: list[int] | None = None
    unit_filter: list[int] | None = None
    unit_kinds: dict[int, str] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, Any]:
        """City (or unit) totals of the unit figures."""
        sums = self.figures.totals()
        sums["units"] = int(len(self.figures.units))
        return sums

    def topic_rows(self) -> list[dict[str, Any]]:
        """Per topic over the units of the report, in topic order."""
        frame = self.figures.topic_totals().set_index("topic_id") if len(self.figures.topics) else None
        rows = []
        for topic in self.figures.topic_list:
            base = {"topic_id": topic.id, "position": topic.position, "title": topic.title}
            if frame is not None and topic.id in frame.index:
                r = frame.loc[topic.id]
                base.update({c: int(r[c]) for c in ("expected", "submitted", "on_time", "late", "extension",
                                                    "missing", "exempt")})
                base["percent"] = None if pd.isna(r["percent"]) else float(r["percent"])
            else:
                base.update({c: 0 for c in ("expected", "submitted", "on_time", "late", "extension", "missing",
                                            "exempt")})
                base["percent"] = None
            rows.append(base)
        return rows

    @property
    def place_word(self) -> str:
        """“phường, xã” when every unit of the report is a ward, else “đơn vị”."""
        kinds = set(self.unit_kinds.values())
        return "phường, xã" if kinds and kinds <= WARD_KINDS else "điểm cầu"


def build_report_data(course: Course, as_of: dt.datetime | None = None, unit_ids: Iterable[int] | None = None,
                      theme_ids: Iterable[int] | None = None, unit: Unit | None = None,
                      with_missing: bool = True) -> ReportData:
    """Compute the report's figures: units and topics from `completeness`, themes from `theme_figures`.

    `with_missing=False` skips the per-trainee list of who has not handed in (pages' previews).
    """
    unit_ids = [unit.id] if unit is not None else (None if unit_ids is None else sorted(set(unit_ids)))
    theme_list = None if theme_ids is None else sorted(set(theme_ids))
    figures = completeness(course, as_of, unit_ids)
    themes = theme_figures(course, figures.as_of, unit_ids, theme_list)
    ids = figures.units["unit_id"].tolist()
    missing = trainee_states(course, ids, figures.as_of, states=("missing", "extension")) if ids and with_missing else \
        pd.DataFrame(columns=["unit_id", "full_name", "username", "topic_position", "topic_title", "state",
                              "due_at"])
    kinds = dict(db.session.execute(select(Unit.id, Unit.kind).where(Unit.id.in_(ids))).all()) if ids else {}
    return ReportData(course=course, as_of=figures.as_of, figures=figures, themes=themes, missing=missing,
                      unit=unit, theme_filter=theme_list, unit_filter=unit_ids, unit_kinds=kinds)


# --- the editable prose ----------------------------------------------------------------------------

@dataclass
class ReportProse:
    """Header names, number, place, signatory and recipients of one report."""

    parent_org: str
    org_name: str
    number: str
    place: str
    signer_for: str
    signer_title: str
    signer_name: str = ""
    recipients: str = ""
    intro: str = ""

    FIELDS = ("parent_org", "org_name", "number", "place", "signer_for", "signer_title", "signer_name",
              "recipients", "intro")


def default_prose(unit: Unit | None = None) -> ReportProse:
    """What a report says before anyone edits it: the City Organisation Board's, or the ward committee's."""
    if unit is None:
        return ReportProse(
            parent_org="ĐẢNG BỘ THÀNH PHỐ CẦN THƠ", org_name="BAN TỔ CHỨC THÀNH ỦY", number="     -BC/BTCTU",
            place="Cần Thơ", signer_for="T/M BAN TỔ CHỨC THÀNH ỦY", signer_title="TRƯỞNG BAN",
            recipients="Thường trực Thành ủy (để báo cáo),\nCác đồng chí Thành ủy viên,\n"
                       "Các đảng bộ phường, xã, đặc khu,\nLưu Văn phòng Ban.")
    return ReportProse(
        parent_org="ĐẢNG BỘ THÀNH PHỐ CẦN THƠ", org_name=f"ĐẢNG ỦY {unit.name.upper()}", number="     -BC/ĐU",
        place=unit.name.split(" ", 1)[-1] if unit.kind in WARD_KINDS else "Cần Thơ",
        signer_for="T/M ĐẢNG ỦY", signer_title="BÍ THƯ",
        recipients="Ban Tổ chức Thành ủy (để báo cáo),\nThường trực Đảng ủy,\nLưu Văn phòng Đảng ủy.")


def settings_row(course_id: int, unit_id: int | None) -> ReportSettings | None:
    """The stored prose of a course's report (unit_id None: the city's)."""
    query = select(ReportSettings).where(ReportSettings.course_id == course_id)
    query = query.where(ReportSettings.unit_id.is_(None) if unit_id is None else ReportSettings.unit_id == unit_id)
    return db.session.scalar(query.order_by(ReportSettings.id).limit(1))


def report_prose(course_id: int, unit: Unit | None = None) -> ReportProse:
    """The stored prose, or the defaults."""
    row = settings_row(course_id, unit.id if unit else None)
    if row is None:
        return default_prose(unit)
    return ReportProse(**{name: getattr(row, name) or "" for name in ReportProse.FIELDS})


class ReportError(ValueError):
    """Report settings or a report request that cannot be accepted; the message is for the user."""


_LIMITS = {"parent_org": 200, "org_name": 200, "number": 60, "place": 100, "signer_for": 200, "signer_title": 200,
           "signer_name": 200, "recipients": 3000, "intro": 5000}
_REQUIRED = ("parent_org", "org_name", "place", "signer_for", "signer_title")


def save_prose(course_id: int, unit: Unit | None, values: dict[str, str], by: User) -> ReportSettings:
    """Store a report's prose (flushes; the caller commits)."""
    clean: dict[str, str] = {}
    for name in ReportProse.FIELDS:
        raw = values.get(name) or ""
        value = raw.strip() if name in ("recipients", "intro") else " ".join(raw.split())
        if name in _REQUIRED and not value:
            raise ReportError("Vui lòng nhập đủ tên cơ quan, địa danh và người ký.")
        if len(value) > _LIMITS[name]:
            raise ReportError(f"Nội dung quá dài (tối đa {_LIMITS[name]} ký tự).")
        clean[name] = value
    row = settings_row(course_id, unit.id if unit else None)
    if row is None:
        row = ReportSettings(course_id=course_id, unit_id=unit.id if unit else None)
        db.session.add(row)
    for name, value in clean.items():
        setattr(row, name, value)
    row.updated_by_id = by.id
    db.session.flush()
    logger.info("report settings of course %s unit %s saved by %s", course_id, unit.id if unit else "-",
                by.username)
    return row


# --- formatting ------------------------------------------------------------------------------------

def vn_int(n: int | float | None) -> str:
    """5000 → “5.000” (Vietnamese thousands separator)."""
    return f"{int(n or 0):,}".replace(",", ".")


def vn_pct(value: float | None) -> str:
    """87.5 → “87,5%”; no figure → “–”."""
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.1f}".replace(".", ",") + "%"


def share(part: int, whole: int) -> float | None:
    """part / whole in percent with one decimal, None when whole is 0."""
    return round(100.0 * part / whole, 1) if whole else None


def date_line(place: str, when: dt.datetime) -> str:
    """“Cần Thơ, ngày 05 tháng 02 năm 2026”: day and month below 10 (months 1, 2) get a leading zero."""
    local = to_local(when)
    month = f"{local.month:02d}" if local.month < 3 else str(local.month)
    return f"{place}, ngày {local.day:02d} tháng {month} năm {local.year}"


def file_name(data: ReportData, fmt: str) -> str:
    """Download name: bao-cao-lop-<id>[-<unit code>]-<yyyymmdd-HHMM>.<fmt>."""
    stamp = to_local(data.as_of).strftime("%Y%m%d-%H%M")
    unit = f"-{data.unit.code}" if data.unit is not None else ""
    return f"bao-cao-lop-{data.course.id}{unit}-{stamp}.{fmt}"


# --- .xlsx -----------------------------------------------------------------------------------------

def _sheet(book, title: str, header: Sequence[str], rows: list[Sequence[Any]], wrap: Sequence[int] = (),
           max_width: int = 60) -> None:
    """One sheet of a write-only workbook: bold frozen header, widths fitted, text cells neutralised."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title=title[:31])
    widths = [len(str(h)) for h in header]
    for row in rows:
        for i, value in enumerate(row[:len(widths)]):
            if value is not None:
                widths[i] = max(widths[i], min(len(str(value)), max_width))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width + 2
    sheet.freeze_panes = "A2"
    bold, wrapped = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    cells = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=safe_cell(h))
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    wrap = set(wrap)
    for row in rows:
        out = []
        for i, value in enumerate(row):
            value = safe_cell(value)
            if i in wrap:
                cell = WriteOnlyCell(sheet, value=value)
                cell.alignment = wrapped
                out.append(cell)
            else:
                out.append(value)
        sheet.append(out)


def _num(value: Any) -> Any:
    """numpy/pandas numbers as plain Python numbers (openpyxl writes them as numbers); NaN as empty."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return value.item()
    return value


def report_xlsx(data: ReportData) -> bytes:
    """The report's workbook: summary, per unit, per topic, per theme × kind, every passage, who has not handed in."""
    from openpyxl import Workbook

    f, t = data.figures, data.totals
    topics = data.topic_rows()
    theme_totals = data.themes.totals()
    book = Workbook(write_only=True)

    summary: list[list[Any]] = [
        ["Lớp", data.course.name],
        ["Đơn vị báo cáo", data.unit.name if data.unit else "Toàn thành phố"],
        ["Số liệu tính đến", fmt_datetime(data.as_of)],
        ["Số điểm cầu (đơn vị)", t["units"]],
        ["Học viên ghi danh", t["enrolled"]],
        *[[f"Có mặt ngày {fmt_date(d)}", t[day_column(d)]] for d in f.days],
        ["Có mặt ít nhất một buổi", t["attended"]],
        ["Học viên miễn nộp", t["exempt_trainees"]],
        ["Số bài phải nộp", t["expected"]],
        ["Số bài đã nộp", t["submitted"]],
        ["Nộp đúng hạn", t["on_time"]],
        ["Nộp muộn", t["late"]],
        ["Được gia hạn, chưa nộp", t["extension"]],
        ["Chưa nộp", t["missing"]],
        ["Tỉ lệ hoàn thành (%)", t["percent"]],
        *[[f"Chủ đề {r['position']}: đã nộp", r["submitted"]] for r in topics],
        ["Số đoạn kiến nghị, đề xuất được gắn thẻ", theme_totals["tags"]],
        ["Số ý kiến (nhóm trùng lặp tính một lần)", theme_totals["passages"]],
        ["Số bài có kiến nghị, đề xuất", theme_totals["essays"]],
        ["Số đơn vị có kiến nghị, đề xuất", theme_totals["units"]],
    ]
    _sheet(book, SHEETS[0], ["Chỉ tiêu", "Giá trị"], summary)

    header = ["Mã đơn vị", "Đơn vị", "Ghi danh", *[f"Có mặt {d:%d/%m}" for d in f.days], "Có mặt (≥1 buổi)"]
    for topic in f.topic_list:
        header += [f"CĐ{topic.position} đã nộp", f"CĐ{topic.position} đúng hạn", f"CĐ{topic.position} muộn",
                   f"CĐ{topic.position} chưa nộp"]
    header += ["Đã nộp", "Đúng hạn", "Nộp muộn", "Được gia hạn", "Chưa nộp", "Miễn nộp", "Phải nộp",
               "Tỉ lệ hoàn thành (%)"]
    by_cell = f.topics.set_index(["unit_id", "topic_id"]) if len(f.topics) else None
    rows = []
    for u in f.units.to_dict("records"):
        row = [u["code"], u["name"], u["enrolled"], *[u[day_column(d)] for d in f.days], u["attended"]]
        for topic in f.topic_list:
            cell = by_cell.loc[(u["unit_id"], topic.id)]
            row += [cell["submitted"], cell["on_time"], cell["late"], cell["missing"] + cell["extension"]]
        row += [u["submitted"], u["on_time"], u["late"], u["extension"], u["missing"], u["exempt"], u["expected"],
                u["percent"]]
        rows.append([_num(v) for v in row])
    total_row: list[Any] = ["", "Tổng cộng", t["enrolled"], *[t[day_column(d)] for d in f.days], t["attended"]]
    for r in topics:
        total_row += [r["submitted"], r["on_time"], r["late"], r["missing"] + r["extension"]]
    total_row += [t["submitted"], t["on_time"], t["late"], t["extension"], t["missing"], t["exempt"], t["expected"],
                  t["percent"]]
    rows.append([_num(v) for v in total_row])
    _sheet(book, SHEETS[1], header, rows)

    _sheet(book, SHEETS[2], ["Chủ đề số", "Tên chủ đề", "Phải nộp", "Đã nộp", "Đúng hạn", "Nộp muộn",
                             "Được gia hạn", "Chưa nộp", "Miễn nộp", "Tỉ lệ hoàn thành (%)"],
           [[r["position"], r["title"], r["expected"], r["submitted"], r["on_time"], r["late"], r["extension"],
             r["missing"], r["exempt"], r["percent"]] for r in topics], wrap=[1], max_width=70)

    _sheet(book, SHEETS[3], ["Chủ đề kiến nghị, đề xuất", "Loại", "Số ý kiến", "Số đoạn gắn thẻ", "Số bài",
                             "Số đơn vị", "Các đơn vị"],
           [[r.theme, r.kind_label, r.passages, r.tags, r.essays, r.units, ", ".join(r.unit_names)]
            for r in data.themes.themes.itertuples(index=False)], wrap=[6], max_width=80)

    _sheet(book, SHEETS[4], ["Mã thẻ", "Mã đơn vị", "Đơn vị", "Học viên", "Chủ đề bài", "Chủ đề kiến nghị", "Loại",
                             "Nội dung", "Nhóm"],
           [[r.tag_id, r.unit_code, r.unit_name, r.trainee, f"{r.topic_position}. {r.topic_title}", r.themes,
             KIND_LABELS[r.kind], r.text, r.cluster] for r in data.themes.passages.itertuples(index=False)],
           wrap=[7], max_width=90)

    codes = dict(zip(f.units["unit_id"], f.units["code"]))
    names = dict(zip(f.units["unit_id"], f.units["name"]))
    state_labels = {"missing": "Chưa nộp", "extension": "Được gia hạn"}
    _sheet(book, SHEETS[5], ["Mã đơn vị", "Đơn vị", "Họ và tên", "Tên đăng nhập", "Chủ đề", "Tình trạng",
                             "Hạn nộp đang áp dụng"],
           [[codes.get(r.unit_id, ""), names.get(r.unit_id, ""), r.full_name, r.username,
             f"{r.topic_position}. {r.topic_title}", state_labels.get(r.state, r.state), fmt_datetime(r.due_at)]
            for r in data.missing.itertuples(index=False)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- charts ----------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # DejaVu Sans ships with matplotlib and has every Vietnamese glyph.
    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=200, bbox_inches="tight")
    _pyplot().close(fig)
    return out.getvalue()


def completeness_chart_png(units: pd.DataFrame) -> bytes:
    """Completeness per unit as horizontal bars (highest first); a distribution above CHART_MAX_UNITS units."""
    plt = _pyplot()
    values = [0.0 if p is None or pd.isna(p) else float(p) for p in units["percent"]]
    if len(units) > CHART_MAX_UNITS:
        bands = [0] * 11
        for v in values:
            bands[min(int(v // 10), 10)] += 1
        labels = [f"{10 * i}–{10 * i + 10}%" if i < 10 else "100%" for i in range(11)]
        labels[9] = "90–<100%"
        fig, ax = plt.subplots(figsize=(6.3, 3.2))
        ax.bar(range(11), bands, color="#2b5d8a")
        ax.set_xticks(range(11), labels, rotation=45, ha="right")
        ax.set_ylabel("Số đơn vị")
        for i, n in enumerate(bands):
            if n:
                ax.text(i, n, vn_int(n), ha="center", va="bottom", fontsize=7)
        ax.set_title("Số đơn vị theo tỉ lệ hoàn thành bài thu hoạch")
        return _png(fig)
    order = sorted(range(len(units)), key=lambda i: (-values[i], vn_sort_key(units["name"].iloc[i])))
    names = [units["name"].iloc[i] for i in order][::-1]
    vals = [values[i] for i in order][::-1]
    n = max(len(names), 1)
    small = n > 40
    fig, ax = plt.subplots(figsize=(6.3, min(9.0, 0.8 + n * (0.085 if small else 0.22))))
    colours = ["#b3261e" if v < 80 else "#2b5d8a" for v in vals]
    ax.barh(range(len(vals)), vals, color=colours, height=0.75)
    ax.set_yticks(range(len(names)), names, fontsize=4.6 if small else 7.5)
    ax.set_xlim(0, 112)
    ax.set_xlabel("Tỉ lệ hoàn thành (%)")
    ax.axvline(80, color="#a86400", linestyle="--", linewidth=0.7)
    ax.margins(y=0.005)
    if not small:
        for i, v in enumerate(vals):
            ax.text(v + 1, i, vn_pct(v), va="center", fontsize=6.5)
    ax.set_title("Tỉ lệ hoàn thành bài thu hoạch theo đơn vị (đỏ: dưới 80%)")
    return _png(fig)


def themes_chart_png(themes: pd.DataFrame, limit: int = 15) -> bytes:
    """Passages per theme (most first), kiến nghị and đề xuất stacked."""
    plt = _pyplot()
    if themes.empty:
        per = pd.DataFrame(columns=["theme", "recommendation", "proposal"])
    else:
        per = themes.pivot_table(index="theme", columns="kind", values="passages", aggfunc="sum", fill_value=0)
        for kind in TAG_KINDS:
            if kind not in per.columns:
                per[kind] = 0
        per = per.assign(_total=per["recommendation"] + per["proposal"]).sort_values("_total", ascending=False)
        per = per.head(limit).iloc[::-1].reset_index()
    n = max(len(per), 1)
    fig, ax = plt.subplots(figsize=(6.3, 0.9 + 0.3 * n))
    rec = [int(v) for v in per.get("recommendation", [])]
    pro = [int(v) for v in per.get("proposal", [])]
    y = range(len(per))
    ax.barh(y, rec, color="#2b5d8a", label="Kiến nghị", height=0.7)
    ax.barh(y, pro, left=rec, color="#d08c2c", label="Đề xuất", height=0.7)
    ax.set_yticks(list(y), [_short(t, 45) for t in per.get("theme", [])])
    for i, (a, b) in enumerate(zip(rec, pro)):
        ax.text(a + b, i, f" {vn_int(a + b)}", va="center", fontsize=7)
    ax.set_xlabel("Số ý kiến (nhóm trùng lặp tính một lần)")
    ax.set_title("Kiến nghị, đề xuất theo chủ đề")
    if len(per):
        ax.legend(loc="lower right", frameon=False)
    else:
        ax.text(0.5, 0.5, "Chưa có kiến nghị, đề xuất nào được gắn thẻ", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_yticks([])
    return _png(fig)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- .docx -----------------------------------------------------------------------------------------

FONT = "Times New Roman"


def _set_run_font(run, size: float | None = None, bold: bool | None = None, italic: bool | None = None,
                  underline: bool | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    run.font.name = FONT
    r_fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    # East Asian and complex-script names too, or Word falls back to its own font for Vietnamese.
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        r_fonts.set(qn(attr), FONT)
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold
    if italic is not None:
        run.italic = italic
    if underline is not None:
        run.underline = underline


def _setup_document():
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance = section.footer_distance = Mm(10)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    r_fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        r_fonts.set(qn(attr), FONT)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.1
    # The document defaults as well, so tables and Word's own styles use Times New Roman.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            fonts = rpr.find(qn("w:rFonts"))
            if fonts is None:
                fonts = OxmlElement("w:rFonts")
                rpr.insert(0, fonts)
            for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
                fonts.set(qn(attr), FONT)
            for theme_attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
                fonts.attrib.pop(qn(theme_attr), None)
    _page_numbers(section)
    return doc


def _page_numbers(section) -> None:
    """Page number centred in the header from the second page (Party documents leave page 1 bare)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    section.different_first_page_header_footer = True
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    _set_run_font(run, 13)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._element.append(element)


def _para(container, text: str = "", *, size: float = 14, bold: bool = False, italic: bool = False,
          align: str = "justify", indent: bool = False, before: float = 0, after: float = 6,
          underline: bool = False, keep_next: bool = False, paragraph=None):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    paragraph = paragraph if paragraph is not None else container.add_paragraph()
    paragraph.alignment = {"justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "center": WD_ALIGN_PARAGRAPH.CENTER,
                           "left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Cm(1.27)
    if keep_next:
        fmt.keep_with_next = True
    if text:
        run = paragraph.add_run(text)
        _set_run_font(run, size, bold, italic, underline or None)
    return paragraph


def _cell_para(cell, text: str, **kwargs):
    """Write into a table cell: its first paragraph while still bare, then new ones."""
    paragraphs = cell.paragraphs
    first = paragraphs[0] if len(paragraphs) == 1 and not paragraphs[0].runs else None
    return _para(cell, text, paragraph=first, **kwargs)


def _no_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._element.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    tbl_pr.append(borders)


def _widths(table, widths_mm: Sequence[float]) -> None:
    """Fixed column widths, in the grid as well as on each cell (LibreOffice reads the grid, Word the cells)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    table.autofit = False
    grid = table._tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(int(Mm(width).twips)))
    tbl_pr = table._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:type"), "dxa")
    tbl_w.set(qn("w:w"), str(int(Mm(sum(widths_mm)).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm):
            cell.width = Mm(width)


def _cant_split(row) -> None:
    """Keep a table row on one page (the signature block must not be cut)."""
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _header_block(doc, prose: ReportProse, as_of: dt.datetime) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    # Slightly wider than the text block: the two headings fit on one line each, as in printed reports.
    _widths(table, [85, 83])
    left, right = table.rows[0].cells
    _cell_para(left, prose.parent_org.upper(), align="center", after=0)
    _cell_para(left, prose.org_name.upper(), bold=True, align="center", after=0)
    _cell_para(left, "*", align="center", after=0)
    number = prose.number.strip() or "-BC"
    _cell_para(left, f"Số {number}", align="center", after=0)
    _cell_para(right, "ĐẢNG CỘNG SẢN VIỆT NAM", size=15, bold=True, underline=True, align="center", after=12)
    _cell_para(right, date_line(prose.place, as_of), italic=True, align="right", after=0)


def _signature_block(doc, prose: ReportProse) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    _widths(table, [80, 85])
    _cant_split(table.rows[0])
    left, right = table.rows[0].cells
    p = _cell_para(left, "", align="left", after=0)
    run = p.add_run("Nơi nhận:")
    _set_run_font(run, 12, bold=True, italic=True, underline=True)
    for line in [x.strip() for x in prose.recipients.splitlines() if x.strip()]:
        _cell_para(left, line if line.startswith("-") else f"- {line}", size=12, align="left", after=0)
    _cell_para(right, prose.signer_for.upper(), bold=True, align="center", after=0)
    _cell_para(right, prose.signer_title.upper(), bold=True, align="center", after=0)
    for _ in range(4):
        _cell_para(right, "", align="center", after=0)
    _cell_para(right, prose.signer_name, bold=True, align="center", after=0)


def _issuer(data: ReportData) -> str:
    """Who reports, in running text (the header's capitals do not lower-case reliably)."""
    return f"Đảng ủy {data.unit.name}" if data.unit is not None else "Ban Tổ chức Thành ủy"


def _heading(doc, text: str) -> None:
    _para(doc, text, bold=True, before=6, indent=True, keep_next=True, align="left")


def _bullet(doc, text: str) -> None:
    _para(doc, f"- {text}", indent=True)


def _unit_names(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" và {vn_int(len(names) - limit)} đơn vị khác"


def _who(n_units: int, names: list[str], all_wards: bool) -> str:
    if n_units == 1:
        return names[0]
    return f"{vn_int(n_units)} {'phường, xã' if all_wards else 'đơn vị'}"


def report_docx(data: ReportData, prose: ReportProse) -> bytes:
    """The report as a Party body's report (Hướng dẫn 36-HD/VPTW): header, sections I–IV, signature, appendix."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Mm

    f, t = data.figures, data.totals
    doc = _setup_document()
    _header_block(doc, prose, data.as_of)

    _para(doc, "BÁO CÁO", size=16, bold=True, align="center", before=18, after=0)
    title = _para(doc, "Kết quả tổ chức lớp bồi dưỡng và tổng hợp bài thu hoạch,", bold=True, align="center",
                  after=0)
    # The subject breaks where the sense does, not wherever the line runs out.
    title.runs[0].add_break()
    _set_run_font(title.add_run("kiến nghị, đề xuất"), 14, bold=True)
    if data.unit is not None:
        _para(doc, f"của {data.unit.name}", bold=True, align="center", after=0)
    _para(doc, "-----", align="center", after=12)

    place = data.place_word
    who = _issuer(data)
    intro = prose.intro.strip() or (
        f"Thực hiện chương trình bồi dưỡng năm {to_local(data.as_of).year}, {who} báo cáo "
        f"kết quả tổ chức lớp “{data.course.name}” và tổng hợp bài thu hoạch, kiến nghị, đề xuất của học viên "
        f"(số liệu tính đến {to_local(data.as_of):%H} giờ {to_local(data.as_of):%M} ngày "
        f"{fmt_date(to_local(data.as_of).date())}) như sau:")
    for line in intro.splitlines():
        if line.strip():
            _para(doc, line.strip(), indent=True)

    # I. Organisation
    _heading(doc, "I. TÌNH HÌNH TỔ CHỨC LỚP BỒI DƯỠNG")
    _para(doc, (f"Lớp được tổ chức từ ngày {fmt_date(data.course.starts_on)} đến ngày {fmt_date(data.course.ends_on)} "
                f"theo hình thức trực tuyến, kết nối tới {vn_int(t['units'])} điểm cầu "
                f"{'phường, xã, đặc khu' if place == 'phường, xã' else ''}".rstrip() +
                f"; tổng số học viên được triệu tập là {vn_int(t['enrolled'])} đồng chí."), indent=True)
    if data.course.description:
        _para(doc, data.course.description.strip(), indent=True)
    _para(doc, (f"Học viên viết bài thu hoạch theo {vn_int(len(f.topic_list))} chủ đề; hạn nộp bài "
                f"{fmt_datetime(data.course.essay_due_at)}, hạn chót nhận bài {fmt_datetime(data.course.cutoff_at)}."),
          indent=True)
    for r in data.topic_rows():
        _bullet(doc, f"Chủ đề {r['position']}: {r['title']}.")

    # II. Participation
    _heading(doc, "II. TÌNH HÌNH THAM GIA HỌC TẬP TẠI CÁC ĐIỂM CẦU")
    _para(doc, (f"Số học viên có mặt ít nhất một buổi: {vn_int(t['attended'])}/{vn_int(t['enrolled'])} đồng chí "
                f"(đạt {vn_pct(share(t['attended'], t['enrolled']))})."), indent=True)
    for d in f.days:
        n = t[day_column(d)]
        _bullet(doc, f"Ngày {fmt_date(d)}: có mặt {vn_int(n)} đồng chí ({vn_pct(share(n, t['enrolled']))}).")
    if t["units"] > 1 and t["enrolled"]:
        rates = [(share(int(u["attended"]), int(u["enrolled"])), u["name"]) for u in f.units.to_dict("records")
                 if u["enrolled"]]
        full = [name for rate, name in rates if rate == 100.0]
        low = sorted([(rate, name) for rate, name in rates if rate is not None and rate < 80],
                     key=lambda x: (x[0], vn_sort_key(x[1])))
        if full:
            _bullet(doc, f"{vn_int(len(full))} điểm cầu có 100% học viên tham gia.")
        if low:
            _bullet(doc, f"{vn_int(len(low))} điểm cầu có tỉ lệ tham gia dưới 80%: "
                         + _unit_names([f"{name} ({vn_pct(rate)})" for rate, name in low], 15) + ".")

    # III. Essays
    _heading(doc, "III. KẾT QUẢ NỘP BÀI THU HOẠCH")
    _para(doc, (f"Tổng số bài phải nộp: {vn_int(t['expected'])} bài ({vn_int(t['enrolled'])} học viên × "
                f"{vn_int(len(f.topic_list))} chủ đề, trừ {vn_int(t['exempt'])} bài được miễn nộp). "
                f"Đã nộp {vn_int(t['submitted'])} bài, đạt {vn_pct(t['percent'])}; trong đó nộp đúng hạn "
                f"{vn_int(t['on_time'])} bài, nộp muộn {vn_int(t['late'])} bài. Chưa nộp "
                f"{vn_int(t['missing'] + t['extension'])} bài (trong đó {vn_int(t['extension'])} bài đang được "
                f"gia hạn)."), indent=True)
    for r in data.topic_rows():
        _bullet(doc, f"Chủ đề {r['position']}: đã nộp {vn_int(r['submitted'])}/{vn_int(r['expected'])} bài "
                     f"({vn_pct(r['percent'])}), đúng hạn {vn_int(r['on_time'])}, muộn {vn_int(r['late'])}, "
                     f"chưa nộp {vn_int(r['missing'] + r['extension'])}.")
    if t["units"] > 1:
        records = [u for u in f.units.to_dict("records") if u["expected"]]
        done = [u["name"] for u in records if u["percent"] == 100.0]
        below = sorted([u for u in records if u["percent"] is not None and u["percent"] < 80],
                       key=lambda u: (u["percent"], vn_sort_key(u["name"])))
        if done:
            _bullet(doc, f"{vn_int(len(done))} điểm cầu đã hoàn thành 100% bài thu hoạch.")
        if below:
            _bullet(doc, f"{vn_int(len(below))} điểm cầu đạt dưới 80%: "
                         + _unit_names([f"{u['name']} ({vn_pct(u['percent'])})" for u in below], 15) + ".")
        _para(doc, "(Tỉ lệ hoàn thành của từng đơn vị: xem Phụ lục và Biểu đồ 2 kèm theo.)", italic=True, indent=True)

    # IV. Recommendations by theme
    totals = data.themes.totals()
    _heading(doc, "IV. KIẾN NGHỊ, ĐỀ XUẤT CỦA HỌC VIÊN (TỔNG HỢP THEO CHỦ ĐỀ)")
    if totals["tags"] == 0:
        _para(doc, "Đến thời điểm báo cáo, chưa có kiến nghị, đề xuất nào được tổng hợp từ bài thu hoạch.", indent=True)
    else:
        _para(doc, (f"Qua nghiên cứu các bài thu hoạch, Ban Tổ chức đã tổng hợp {vn_int(totals['passages'])} ý kiến "
                    f"kiến nghị, đề xuất (các ý kiến trùng lặp được tính một lần; {vn_int(totals['tags'])} đoạn trích) "
                    f"từ {vn_int(totals['essays'])} bài thu hoạch của {vn_int(totals['units'])} {place}, "
                    f"tập trung vào các nhóm vấn đề sau (xếp theo số ý kiến, nhiều nhất trước):"), indent=True)
        _recommendations(doc, data)
        _picture(doc, themes_chart_png(data.themes.themes), "Biểu đồ 1. Số ý kiến kiến nghị, đề xuất theo chủ đề")

    _para(doc, (f"Trên đây là báo cáo kết quả tổ chức lớp bồi dưỡng và tổng hợp bài thu hoạch, kiến nghị, "
                f"đề xuất của học viên{' ' + data.unit.name if data.unit else ''}./."), indent=True, before=6, after=12,
          keep_next=True)
    _signature_block(doc, prose)

    # Appendix: one row per unit, on landscape pages.
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(20), Mm(15)
    _para(doc, "PHỤ LỤC", bold=True, align="center", after=0)
    _para(doc, "SỐ LIỆU THAM GIA HỌC TẬP VÀ NỘP BÀI THU HOẠCH THEO ĐƠN VỊ", bold=True, align="center", after=0)
    _para(doc, (f"(Kèm theo Báo cáo số {prose.number.strip()} của {_issuer(data)}; "
                f"số liệu tính đến {fmt_datetime(data.as_of)})"), italic=True, align="center", after=6)
    _appendix_table(doc, data)
    if t["units"] > 1:
        # The per-unit chart on its own portrait page after the table: 103 bars need a full page.
        chart = doc.add_section(WD_SECTION.NEW_PAGE)
        chart.orientation = WD_ORIENT.PORTRAIT
        chart.page_width, chart.page_height = Mm(210), Mm(297)
        chart.top_margin, chart.bottom_margin = Mm(20), Mm(20)
        chart.left_margin, chart.right_margin = Mm(30), Mm(15)
        _picture(doc, completeness_chart_png(f.units), "Biểu đồ 2. Tỉ lệ hoàn thành bài thu hoạch theo đơn vị")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _recommendations(doc, data: ReportData) -> None:
    themes = data.themes.themes
    clusters = data.themes.clusters
    order: list[int] = []
    for theme_id in themes["theme_id"]:
        if theme_id not in order:
            order.append(theme_id)
    for i, theme_id in enumerate(order, start=1):
        rows = themes[themes["theme_id"] == theme_id]
        name = rows["theme"].iloc[0]
        counts = {r.kind: r.passages for r in rows.itertuples(index=False)}
        pairs = data.themes.pairs
        unit_count = pairs[pairs["theme_id"] == theme_id]["unit_id"].nunique()
        parts = [f"{vn_int(counts[k])} {KIND_LABELS[k].lower()}" for k in TAG_KINDS if counts.get(k)]
        _para(doc, f"{i}. {name[0].upper() + name[1:]} ({', '.join(parts)}; từ {vn_int(unit_count)} {data.place_word})",
              bold=True, italic=True, indent=True, keep_next=True)
        mine = clusters[clusters["theme_id"] == theme_id]
        mine = mine.sort_values(["units", "tags"], ascending=False, kind="stable")
        for r in mine.head(QUOTES_PER_THEME).itertuples(index=False):
            verb = "kiến nghị" if r.kind == "recommendation" else "đề xuất"
            text = " ".join(str(r.text).split()).rstrip(" .;")
            names = data.themes.cluster_units(theme_id, r.kind, r.cluster)
            # Name the wards when they are few; “103 phường, xã” says enough on its own.
            where = f" ({_unit_names(names)})" if 1 < r.units <= 12 else ""
            _bullet(doc, f"{_who(r.units, names, r.all_wards)} {verb}: “{_short(text, 600)}”{where}.")
        if len(mine) > QUOTES_PER_THEME:
            _para(doc, f"(Và {vn_int(len(mine) - QUOTES_PER_THEME)} ý kiến khác, xem tệp tổng hợp .xlsx kèm theo.)",
                  italic=True, indent=True)


def _picture(doc, png: bytes, caption: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    paragraph = _para(doc, align="center", after=0, keep_next=True)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run().add_picture(io.BytesIO(png), width=Mm(160))
    _para(doc, caption, size=12, italic=True, align="center", after=8)


def _appendix_table(doc, data: ReportData) -> None:
    """The per-unit table, written row by row on lxml copies (python-docx cell access is quadratic)."""
    import copy

    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    f, t = data.figures, data.totals
    header = ["TT", "Đơn vị", "Ghi danh", *[f"Có mặt {d:%d/%m}" for d in f.days], "Có mặt ≥1 buổi",
              *[f"Đã nộp CĐ{topic.position}" for topic in f.topic_list], "Đúng hạn", "Muộn", "Chưa nộp",
              "Tỉ lệ hoàn thành"]
    by_cell = f.topics.set_index(["unit_id", "topic_id"])["submitted"].to_dict() if len(f.topics) else {}
    body = []
    for i, u in enumerate(f.units.to_dict("records"), start=1):
        body.append([str(i), u["name"], vn_int(u["enrolled"]), *[vn_int(u[day_column(d)]) for d in f.days],
                     vn_int(u["attended"]), *[vn_int(by_cell.get((u["unit_id"], tp.id), 0)) for tp in f.topic_list],
                     vn_int(u["on_time"]), vn_int(u["late"]), vn_int(u["missing"] + u["extension"]),
                     vn_pct(u["percent"])])
    topics = data.topic_rows()
    body.append(["", "Tổng cộng", vn_int(t["enrolled"]), *[vn_int(t[day_column(d)]) for d in f.days],
                 vn_int(t["attended"]), *[vn_int(r["submitted"]) for r in topics], vn_int(t["on_time"]),
                 vn_int(t["late"]), vn_int(t["missing"] + t["extension"]), vn_pct(t["percent"])])
    table = doc.add_table(rows=2, cols=len(header))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    usable = 262.0
    name_w = 62.0
    other = (usable - name_w - 10) / (len(header) - 2)
    _widths(table, [10, name_w, *[other] * (len(header) - 2)])
    for cell, text in zip(table.rows[0].cells, header):
        _cell_para(cell, text, size=11, bold=True, align="center", after=0)
    template_cells = table.rows[1].cells
    for j, cell in enumerate(template_cells):
        _cell_para(cell, "x", size=11, align="left" if j == 1 else "center", after=0)
    # Repeat the header row on every page.
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    tr_pr.append(repeat)
    template = table.rows[1]._tr
    tbl = table._tbl
    tbl.remove(template)
    for k, values in enumerate(body):
        tr = copy.deepcopy(template)
        for tc, value in zip(tr.iter(qn("w:tc")), values):
            text_el = next(tc.iter(qn("w:t")))
            text_el.text = value
        if k == len(body) - 1:
            for r_pr in tr.iter(qn("w:rPr")):
                # <w:b> goes right after <w:rFonts>: Word validates the order of run properties.
                fonts = r_pr.find(qn("w:rFonts"))
                bold = OxmlElement("w:b")
                if fonts is not None:
                    fonts.addnext(bold)
                else:
                    r_pr.insert(0, bold)
        tbl.append(tr)
