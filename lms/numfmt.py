"""Numbers as Vietnamese documents write them: 37.542 (dot for thousands), 66,7 % (comma for decimals)."""
from __future__ import annotations


def fmt_int(value: int | float | None) -> str:
    """A whole number with dots between thousands: 37542 -> "37.542"."""
    if value is None or value != value:  # NaN: pandas' missing value
        return "—"
    return f"{int(value):,}".replace(",", ".")


def fmt_decimal(value: float | None, digits: int = 1) -> str:
    """A decimal with a comma: 66.666 -> "66,7" (thousands with dots)."""
    if value is None or value != value:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_percent(value: float | None, digits: int = 1) -> str:
    """A percentage with a comma and a space before the sign: 66.666 -> "66,7 %"; None -> "—"."""
    if value is None or value != value:
        return "—"
    return f"{fmt_decimal(value, digits)} %"
