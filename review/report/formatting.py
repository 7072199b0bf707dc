"""Numbers, shares and dates the Vietnamese way, as the report's files write them."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from lms.timefmt import to_local


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
