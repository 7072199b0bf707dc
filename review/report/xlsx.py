"""The report's workbook (lms.spreadsheets.xlsx_stream_bytes): one sheet per table, text cells neutralised."""
from __future__ import annotations

import functools
from typing import Any, Iterator, Sequence

import pandas as pd
from flask import current_app

from lms.spreadsheets import StreamSheet, xlsx_stream_bytes
from lms.timefmt import fmt_date, fmt_datetime
from review.completeness.figures import day_column
from review.report.data import ReportData, distinct_passages
from review.tagging.models import KIND_LABELS

SHEETS = ("Tổng hợp", "Theo đơn vị", "Theo chủ đề", "Lĩnh vực kiến nghị – đề xuất", "Kiến nghị – đề xuất",
          "Chưa nộp")


def _sheet(book: list[StreamSheet], title: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
           wrap: Sequence[int] = (), max_width: int = 60) -> None:
    """One sheet of the workbook: bold frozen header, widths fitted, text cells neutralised."""
    book.append(StreamSheet(title, header, rows, wrap, max_width))


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


def _columns(frame: pd.DataFrame, *names: str) -> Iterator[tuple[Any, ...]]:
    """Rows of the named columns as Python values (itertuples boxes every value through pandas)."""
    return zip(*(frame[name].tolist() for name in names))


# long: one sheet after another, in the workbook's order
def report_xlsx(data: ReportData, cite_names: bool = True) -> bytes:
    """The report's workbook: summary, per unit, per topic, per theme × kind, every passage, who has not handed in."""
    f, t = data.figures, data.totals
    topics = data.topic_rows()
    theme_totals = data.themes.totals()
    book: list[StreamSheet] = []

    summary: list[list[Any]] = [
        ["Lớp", data.course.name],
        ["Đơn vị báo cáo", data.unit.name if data.unit else f"Toàn {current_app.config['REPORT_AREA']}"],
        ["Số liệu tính đến", fmt_datetime(data.as_of)],
        ["Số điểm cầu (đơn vị)", t["units"]],
        ["Học viên ghi danh", t["enrolled"]],
        *[[f"Có mặt ngày {fmt_date(d)}", t[day_column(d)]] for d in f.days],
        ["Có mặt ít nhất một buổi", t["attended"] if t["attendance_recorded"] else "chưa ghi nhận điểm danh"],
        ["Số điểm cầu chưa ghi nhận điểm danh", t["units"] - t["attendance_recorded"]],
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
    # unit × topic → submitted, on time, late, not handed in (a dict: .loc per cell cost 3 s for a country)
    by_cell = {(unit_id, topic_id): (submitted, on_time, late, missing + extension)
               for unit_id, topic_id, submitted, on_time, late, missing, extension in _columns(
                   f.topics, "unit_id", "topic_id", "submitted", "on_time", "late", "missing", "extension")}
    rows = []
    for u in f.units.to_dict("records"):
        taken = bool(u["attendance_recorded"])
        row = [u["code"], u["name"], u["enrolled"], *[u[day_column(d)] if taken else "" for d in f.days],
               u["attended"] if taken else "chưa ghi nhận điểm danh"]
        for topic in f.topic_list:
            row += by_cell[(u["unit_id"], topic.id)]  # a unit's row has a cell for every topic
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

    _sheet(book, SHEETS[3], ["Lĩnh vực kiến nghị, đề xuất", "Loại", "Số ý kiến", "Số đoạn gắn thẻ", "Số bài",
                             "Số đơn vị", "Các đơn vị"],
           [[r.theme, r.kind_label, r.passages, r.tags, r.essays, r.units, ", ".join(r.unit_names)]
            for r in data.themes.themes.itertuples(index=False)], wrap=[6], max_width=80)

    # A ward's workbook lists each passage once, as its report does; the Board's every tag.
    passages = distinct_passages(data.themes.passages) if data.unit is not None else data.themes.passages
    _sheet(book, SHEETS[4], ["Mã thẻ", "Mã đơn vị", "Đơn vị", "Học viên", "Chủ đề bài", "Lĩnh vực kiến nghị", "Loại",
                             "Nội dung", "Nhóm"],
           [[tag_id, unit_code, unit_name, trainee if cite_names else "", f"{position}. {title}", themes,
             KIND_LABELS[kind], text, cluster]
            for tag_id, unit_code, unit_name, trainee, position, title, themes, kind, text, cluster in _columns(
                passages, "tag_id", "unit_code", "unit_name", "trainee", "topic_position", "topic_title", "themes",
                "kind", "text", "cluster")],
           wrap=[7], max_width=90)

    codes = dict(zip(f.units["unit_id"], f.units["code"]))
    names = dict(zip(f.units["unit_id"], f.units["name"]))
    state_labels = {"missing": "Chưa nộp", "extension": "Được gia hạn"}
    due_label = functools.lru_cache(maxsize=None)(fmt_datetime)  # a few deadlines over 150,000 rows
    _sheet(book, SHEETS[5], ["Mã đơn vị", "Đơn vị", "Họ và tên", "Tên đăng nhập", "Chủ đề", "Tình trạng",
                             "Hạn nộp đang áp dụng"],
           [[codes.get(unit_id, ""), names.get(unit_id, ""), full_name, username, f"{position}. {title}",
             state_labels.get(state, state), due_label(due_at)]
            for unit_id, full_name, username, position, title, state, due_at in _columns(
                data.missing, "unit_id", "full_name", "username", "topic_position", "topic_title", "state", "due_at")])
    return xlsx_stream_bytes(book)

