"""Times as Vietnamese offices read them: Asia/Ho_Chi_Minh, dd/mm/yyyy, ISO 8601 with +07:00 in the API."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def to_local(value: dt.datetime) -> dt.datetime:
    """The same instant in Vietnam's time zone."""
    return value.astimezone(LOCAL_TZ)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 with the +07:00 offset, as the API answers."""
    return to_local(value).isoformat(timespec="seconds") if value else None


def fmt_datetime(value: dt.datetime | None) -> str:
    """dd/mm/yyyy HH:MM in local time."""
    return to_local(value).strftime("%d/%m/%Y %H:%M") if value else ""


def fmt_date(value: dt.date | None) -> str:
    """dd/mm/yyyy."""
    return value.strftime("%d/%m/%Y") if value else ""


def parse_iso(text: str) -> dt.datetime:
    """An ISO 8601 time; without an offset it is read as Vietnam time. Raises ValueError."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(dt.timezone.utc)


def parse_local(value: dt.datetime) -> dt.datetime:
    """A naive datetime typed in a form, read as Vietnam time."""
    return value.replace(tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def parse_vn_date(text: str) -> dt.date:
    """A date typed as dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy). Raises ValueError."""
    cleaned = text.strip().replace("-", "/").replace(".", "/")
    day, month, year = (int(p) for p in cleaned.split("/"))
    if year < 100:
        raise ValueError("two-digit year")
    return dt.date(year, month, day)


def fmt_remaining(delta: dt.timedelta) -> str:
    """Time left in words, to the hour or minute: "còn 2 ngày 3 giờ", "còn 45 phút"; past: "đã quá …"."""
    seconds = int(delta.total_seconds())
    prefix = "còn" if seconds >= 0 else "đã quá"
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        parts = [f"{days} ngày"] + ([f"{hours} giờ"] if hours else [])
    elif hours:
        parts = [f"{hours} giờ"] + ([f"{minutes} phút"] if minutes else [])
    else:
        parts = [f"{max(minutes, 1)} phút"]
    return f"{prefix} {' '.join(parts)}"
