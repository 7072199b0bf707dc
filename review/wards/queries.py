"""Who sent what: the reads other areas need (the overview, the completeness API, reminders)."""
from __future__ import annotations

from sqlalchemy import func, select

from lms.db import db
from review.wards.models import WardReport


def latest_sent(course_id: int, unit_id: int) -> WardReport | None:
    """The unit's last sending for the course, if any."""
    return db.session.scalar(select(WardReport).where(WardReport.course_id == course_id, WardReport.unit_id == unit_id)
                             .order_by(WardReport.version.desc()).limit(1))


def sent_history(course_id: int, unit_id: int) -> list[WardReport]:
    """Every sending of the unit, newest first."""
    return list(db.session.scalars(select(WardReport).where(
        WardReport.course_id == course_id, WardReport.unit_id == unit_id).order_by(WardReport.version.desc())))


def sent_by_unit(course_id: int) -> dict[int, WardReport]:
    """The latest sending of each unit that has sent (one query for the overview and the API)."""
    latest = (select(WardReport.unit_id, func.max(WardReport.version).label("version"))
              .where(WardReport.course_id == course_id).group_by(WardReport.unit_id).subquery())
    rows = db.session.scalars(select(WardReport).join(latest, (latest.c.unit_id == WardReport.unit_id)
                                                      & (latest.c.version == WardReport.version))
                              .where(WardReport.course_id == course_id)).all()
    return {r.unit_id: r for r in rows}
