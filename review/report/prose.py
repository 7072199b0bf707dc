"""The prose of a report (header names, number, place, signatory, recipients), stored per course and unit."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from lms.db import db
from lms.models import Unit, User
from review.report.data import WARD_KINDS, ReportError
from review.report.models import ReportSettings

logger = logging.getLogger(__name__)


# --- the editable prose ----------------------------------------------------------------------------

@dataclass
class ReportProse:
    """Header names, number, place, signatory and recipients of one report."""

    parent_org: str
    org_name: str
    number: str
    place: str
    signer_for: str
    signer_title: str
    signer_name: str = ""
    recipients: str = ""
    intro: str = ""
    # Quote trainees by name in section IV (a ward's choice; the city's report never does).
    cite_names: bool = True
    # Who reports, in running text (not stored: the header's capitals do not lower-case reliably).
    body: str = ""

    FIELDS = ("parent_org", "org_name", "number", "place", "signer_for", "signer_title", "signer_name",
              "recipients", "intro")


def default_prose(unit: Unit | None = None) -> ReportProse:
    """What a report says before anyone edits it: the Board's, or the ward committee's.

    The issuing body, the place and the Board's name come from the configuration
    (`REPORT_*` in lms/config.py), not from here.
    """
    config = current_app.config
    board = config["REPORT_BOARD"]
    if unit is None:
        return ReportProse(
            parent_org=config["REPORT_ISSUER"], org_name=board.upper(), number=config["REPORT_BOARD_NUMBER"],
            place=config["REPORT_PLACE"], signer_for=f"T/M {board.upper()}", signer_title="TRƯỞNG BAN",
            recipients=config["REPORT_BOARD_RECIPIENTS"], cite_names=False, body=_body(None))
    return ReportProse(
        parent_org=config["REPORT_ISSUER"], org_name=f"ĐẢNG ỦY {unit.name.upper()}", number="     -BC/ĐU",
        place=unit.name.split(" ", 1)[-1] if unit.kind in WARD_KINDS else config["REPORT_PLACE"],
        signer_for="T/M ĐẢNG ỦY", signer_title="BÍ THƯ",
        recipients=f"{board} (để báo cáo),\nThường trực Đảng ủy,\nLưu Văn phòng Đảng ủy.", body=_body(unit))


def _body(unit: Unit | None) -> str:
    """Who reports, in running text: the unit's Party committee, or the Board."""
    return f"Đảng ủy {unit.name}" if unit is not None else current_app.config["REPORT_BOARD"]


def settings_row(course_id: int, unit_id: int | None) -> ReportSettings | None:
    """The stored prose of a course's report (unit_id None: the city's)."""
    query = select(ReportSettings).where(ReportSettings.course_id == course_id)
    query = query.where(ReportSettings.unit_id.is_(None) if unit_id is None else ReportSettings.unit_id == unit_id)
    return db.session.scalar(query.order_by(ReportSettings.id).limit(1))


def report_prose(course_id: int, unit: Unit | None = None) -> ReportProse:
    """The stored prose, or the defaults."""
    row = settings_row(course_id, unit.id if unit else None)
    if row is None:
        return default_prose(unit)
    return ReportProse(**{name: getattr(row, name) or "" for name in ReportProse.FIELDS},
                       cite_names=bool(row.cite_names) if unit is not None else False, body=_body(unit))


_LIMITS = {"parent_org": 200, "org_name": 200, "number": 60, "place": 100, "signer_for": 200, "signer_title": 200,
           "signer_name": 200, "recipients": 3000, "intro": 5000}
_REQUIRED = ("parent_org", "org_name", "place", "signer_for", "signer_title")


def save_prose(course_id: int, unit: Unit | None, values: dict, by: User) -> ReportSettings:
    """Store a report's prose (flushes; the caller commits)."""
    clean: dict[str, str] = {}
    for name in ReportProse.FIELDS:
        raw = values.get(name) or ""
        value = raw.strip() if name in ("recipients", "intro") else " ".join(raw.split())
        if name in _REQUIRED and not value:
            raise ReportError("Vui lòng nhập đủ tên cơ quan, địa danh và người ký.")
        if len(value) > _LIMITS[name]:
            raise ReportError(f"Nội dung quá dài (tối đa {_LIMITS[name]} ký tự).")
        clean[name] = value
    row = settings_row(course_id, unit.id if unit else None)
    if row is None:
        row = ReportSettings(course_id=course_id, unit_id=unit.id if unit else None)
        db.session.add(row)
    for name, value in clean.items():
        setattr(row, name, value)
    if "cite_names" in values:
        row.cite_names = values["cite_names"] in (True, "1", "on", "true")
    row.updated_by_id = by.id
    db.session.flush()
    logger.info("report settings of course %s unit %s saved by %s", course_id, unit.id if unit else "-",
                by.username)
    return row
