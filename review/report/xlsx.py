"""The report's workbook (openpyxl, write-only): one sheet per table, text cells neutralised."""
from __future__ import annotations

import io
from typing import Any, Sequence

import pandas as pd

from lms.spreadsheets import safe_cell
from lms.timefmt import fmt_date, fmt_datetime
from review.completeness.figures import day_column
from review.report.data import ReportData, distinct_passages
from review.tagging.models import KIND_LABELS

SHEETS = ("Tổng hợp", "Theo đơn vị", "Theo chủ đề", "Lĩnh vực kiến nghị – đề xuất", "Kiến nghị – đề xuất",
          "Chưa nộp")


def _sheet(book, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], wrap: Sequence[int] = (),
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
    wrapped_columns = set(wrap)
    for row in rows:
        out = []
        for i, value in enumerate(row):
            value = safe_cell(value)
            if i in wrapped_columns:
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


# long: one sheet after another, in the workbook's order
def report_xlsx(data: ReportData, cite_names: bool = True) -> bytes:
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
    by_cell = f.topics.set_index(["unit_id", "topic_id"]) if len(f.topics) else None
    rows = []
    for u in f.units.to_dict("records"):
        taken = bool(u["attendance_recorded"])
        row = [u["code"], u["name"], u["enrolled"], *[u[day_column(d)] if taken else "" for d in f.days],
               u["attended"] if taken else "chưa ghi nhận điểm danh"]
        for topic in f.topic_list:
            assert by_cell is not None  # a unit's row has a cell for every topic
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

    _sheet(book, SHEETS[3], ["Lĩnh vực kiến nghị, đề xuất", "Loại", "Số ý kiến", "Số đoạn gắn thẻ", "Số bài",
                             "Số đơn vị", "Các đơn vị"],
           [[r.theme, r.kind_label, r.passages, r.tags, r.essays, r.units, ", ".join(r.unit_names)]
            for r in data.themes.themes.itertuples(index=False)], wrap=[6], max_width=80)

    # A ward's workbook lists each passage once, as its report does; the Board's every tag.
    passages = distinct_passages(data.themes.passages) if data.unit is not None else data.themes.passages
    _sheet(book, SHEETS[4], ["Mã thẻ", "Mã đơn vị", "Đơn vị", "Học viên", "Chủ đề bài", "Lĩnh vực kiến nghị", "Loại",
                             "Nội dung", "Nhóm"],
           [[r.tag_id, r.unit_code, r.unit_name, r.trainee if cite_names else "", f"{r.topic_position}. {r.topic_title}",
             r.themes, KIND_LABELS[r.kind], r.text, r.cluster] for r in passages.itertuples(index=False)],
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

