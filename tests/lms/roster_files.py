"""Build real roster files (.xlsx with openpyxl, .csv in the encodings offices use) for the tests."""
from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from typing import Any, Sequence

from openpyxl import Workbook

HEADER = ["STT", "Họ và tên", "Ngày sinh", "Chức vụ", "Đơn vị", "Số điện thoại", "Email"]


def xlsx(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER,
         title_rows: Sequence[Sequence[Any]] = ()) -> bytes:
    """A workbook whose first sheet holds the title rows, the header, then the rows (dates stay dates)."""
    wb = Workbook()
    ws = wb.active
    for row in title_rows:
        ws.append(list(row))
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER, *, sep: str = ",",
              encoding: str = "utf-8", title_rows: Sequence[Sequence[Any]] = ()) -> bytes:
    """A CSV file; dates are written dd/mm/yyyy as Excel does for Vietnamese settings."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    for row in title_rows:
        writer.writerow(row)
    writer.writerow(header)
    for row in rows:
        writer.writerow([v.strftime("%d/%m/%Y") if isinstance(v, dt.date) else v for v in row])
    text = out.getvalue()
    return _cp1258(text) if encoding == "cp1258" else text.encode(encoding)


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: letters precomposed, tones as combining marks."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in decomposed if c in _TONES)
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
            out += (base + tones).encode("cp1258")
    return bytes(out)


def person(n: int, unit: str = "31135", **over: Any) -> list[Any]:
    """A valid row in HEADER order for person number n."""
    row = {"stt": n, "name": f"Nguyễn Văn Thử {n}", "birth": dt.datetime(1970 + n % 30, 1 + n % 12, 1 + n % 28),
           "position": "Chuyên viên", "unit": unit, "phone": f"09{n:08d}", "email": f"hv{n}@cantho.gov.vn"}
    row.update(over)
    return [row["stt"], row["name"], row["birth"], row["position"], row["unit"], row["phone"], row["email"]]
