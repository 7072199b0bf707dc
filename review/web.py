"""View helpers shared by the review pages: the as-of time of a page, attachments."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response, flash, request

from lms.timefmt import LOCAL_TZ, parse_vn_date


def parse_as_of(text: str | None) -> dt.datetime | None:
    """"27/5/2026 08:00" (Vietnam time) → aware UTC; empty → None (now). Raises ValueError."""
    text = (text or "").strip()
    if not text:
        return None
    date_part, _, time_part = text.partition(" ")
    day = parse_vn_date(date_part)
    hour, minute = (int(p) for p in (time_part.strip() or "23:59").split(":"))
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def as_of_from_request() -> tuple[dt.datetime | None, str]:
    """The page's `as_of` query text parsed (None: now) and echoed back; flashes and uses now when malformed."""
    raw = request.args.get("as_of", "").strip()
    try:
        return parse_as_of(raw), raw
    except ValueError:
        flash("Thời điểm phải theo dạng dd/mm/yyyy HH:MM, ví dụ 27/5/2026 08:00. Đang hiển thị số liệu hiện tại.",
              "warning")
        return None, ""


def download_response(data: bytes, name: str, mimetype: str, fallback: str = "download") -> Response:
    """An attachment named `name` (ASCII `fallback` for old clients when nothing ASCII is left), never cached."""
    response = Response(data, mimetype=mimetype)
    ascii_name = name.encode("ascii", "ignore").decode() or fallback
    response.headers["Content-Disposition"] = (f'attachment; filename="{ascii_name}"; '
                                               f"filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "no-store"
    return response
