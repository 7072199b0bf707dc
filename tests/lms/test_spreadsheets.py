"""lms.spreadsheets.xlsx_stream_bytes reads back, cell by cell, as openpyxl's own write-only workbook does."""
from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np
import openpyxl
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from lms.spreadsheets import StreamSheet, safe_cell, xlsx_stream_bytes

ROWS: list[list[Any]] = [
    ["Phường Ninh Kiều", 1250, 97.5, None, "Nguyễn Văn An", True],
    ["=HYPERLINK(\"x\")", -3, 0.1 + 0.2, "", "+84 912", False],
    ["@SUM(A1)", 10**16, 1e-7, "a & b < c > d", "  có khoảng trắng ", None],
    ["-5", 0, 12345.678, "dòng 1\ndòng 2\tcột", "#N/A", 7],
    ["\"trích dẫn\" và 'nháy'", 2**40, -0.0, "x" * 70, "Ngày 27/5/2026 08:00", "Đặc khu Phú Quốc"],
    [None, None, None, None, None, None],
]


def _reference(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], wrap: Sequence[int],
               max_width: int) -> bytes:
    """The report's former sheet writer (openpyxl write-only), kept here as the yardstick."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title)
    widths = [len(str(h)) for h in header]
    for row in rows:
        for i, value in enumerate(row[:len(widths)]):
            if value is not None:
                widths[i] = max(widths[i], min(len(str(value)), max_width))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width + 2
    sheet.freeze_panes = "A2"
    cells = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=safe_cell(h))
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        out: list[Any] = []
        for i, value in enumerate(row):
            if i in wrap:
                cell = WriteOnlyCell(sheet, value=safe_cell(value))
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                out.append(cell)
            else:
                out.append(safe_cell(value))
        sheet.append(out)
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()


def _cells(content: bytes, title: str) -> tuple[list[list[tuple]], dict[str, float], str | None]:
    sheet = openpyxl.load_workbook(io.BytesIO(content))[title]
    rows = [[(c.value, c.data_type, bool(c.font.bold), bool(c.alignment.wrap_text), c.alignment.vertical)
             for c in row] for row in sheet.iter_rows()]
    widths = {k: round(v.width, 3) for k, v in sheet.column_dimensions.items()}
    return rows, widths, sheet.freeze_panes


def test_stream_workbook_reads_back_as_openpyxls_own():
    header = ["Đơn vị", "=Số", "Tỉ lệ (%)", "Nội dung", "Ghi chú", "Khác"]
    ours = xlsx_stream_bytes([StreamSheet("Theo đơn vị", header, ROWS, wrap=[3], max_width=40)])
    theirs = _reference("Theo đơn vị", header, ROWS, wrap=[3], max_width=40)
    assert _cells(ours, "Theo đơn vị") == _cells(theirs, "Theo đơn vị")
    rows, widths, frozen = _cells(ours, "Theo đơn vị")
    assert frozen == "A2" and rows[0][0][2] is True  # bold header
    assert rows[2][0][0] == "'=HYPERLINK(\"x\")"  # a formula is text
    assert widths["D"] == 42  # 70 characters, cut at max_width


def test_stream_workbook_several_sheets_through_pandas():
    frame_rows = [[i, f"Học viên {i}", i * 0.5] for i in range(2500)]
    content = xlsx_stream_bytes([StreamSheet("Tổng hợp", ["Chỉ tiêu", "Giá trị"], [["Lớp", "Lớp A"], ["Số", 3]]),
                                 StreamSheet("Danh sách & ghi chú", ["STT", "Họ tên", "Điểm"], frame_rows)])
    book = pd.read_excel(io.BytesIO(content), sheet_name=None, engine="openpyxl")
    assert list(book) == ["Tổng hợp", "Danh sách & ghi chú"]
    assert book["Danh sách & ghi chú"].shape == (2500, 3)
    assert book["Danh sách & ghi chú"].iloc[2499].tolist() == [2499, "Học viên 2499", 1249.5]
    assert book["Tổng hợp"]["Giá trị"].tolist() == ["Lớp A", 3]


def test_stream_workbook_numpy_values_and_characters_xml_cannot_carry():
    rows = [[np.int64(5), np.float64(2.5), np.bool_(True), "a\x00b\x1fc\rd"], [float("nan"), None, 1, 2]]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_stream_bytes([StreamSheet("S", ["a", "b", "c", "d"], rows)])))["S"]
    assert [c.value for c in sheet[2]] == [5, 2.5, True, "abc\rd"]
    assert [c.value for c in sheet[3]] == [None, None, 1, 2]
