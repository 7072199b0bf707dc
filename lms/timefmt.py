"""Times as Vietnamese offices read them: Asia/Ho_Chi_Minh, dd/mm/yyyy, ISO 8601 with +07:00 in the API."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def to_local(value: dt.datetime) -> dt.datetime:
    """The same instant in Vietnam's time zone."""
    return value.astimezone(LOCAL_TZ)


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 with the +07:00 offset, as the API answers.

    Before 1906 the zone's offset was local mean time, +07:06:40: RFC 3339 has no seconds in an
    offset, so such an instant is written in UTC instead.
    """
    if value is None:
        return None
    local = to_local(value)
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60:
        return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    return local.isoformat(timespec="seconds")


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


_VN_DATETIME = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ ,T]+(\d{1,2})[:hg.](\d{2}))?$")


def parse_vn_datetime(text: str) -> dt.datetime:
    """A naive local time typed as dd/mm/yyyy HH:MM (also d/m/yyyy, 17h00, or ISO 2026-05-27T17:00). Raises ValueError."""
    text = " ".join(text.split())
    match = _VN_DATETIME.match(text)
    if match:
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        hour, minute = int(match.group(4) or 0), int(match.group(5) or 0)
        return dt.datetime(year, month, day, hour, minute)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value
