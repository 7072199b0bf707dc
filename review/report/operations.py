"""Building a report file, shared by the pages, the API, the background job and the CLI."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from flask import Flask

from lms.db import db, read_only
from lms.jobs import jobs_dir
from lms.models import Course, Unit
from lms.timefmt import iso, parse_iso
from review.report.data import FORMATS, ReportData, ReportError, build_report_data, file_name
from review.report.docx import report_docx
from review.report.prose import report_prose
from review.report.xlsx import report_xlsx

JOB_KIND = "report.build"


def build_file(course: Course, fmt: str, as_of: dt.datetime | None, unit_ids: list[int] | None = None,
               theme_ids: list[int] | None = None, unit: Unit | None = None) -> tuple[bytes, str, ReportData]:
    """Compute the figures and build one file; returns (bytes, download name, data)."""
    if fmt not in FORMATS:
        raise ReportError("Định dạng phải là .xlsx hoặc .docx.")
    data = build_report_data(course, as_of, unit_ids, theme_ids, unit=unit, with_missing=(fmt == "xlsx"))
    if fmt == "xlsx":
        content = report_xlsx(data)
    else:
        content = report_docx(data, report_prose(course.id, unit))
    return content, file_name(data, fmt), data


def filters_detail(fmt: str, as_of: dt.datetime | None, unit_ids: list[int] | None, theme_ids: list[int] | None,
                    via: str) -> str:
    return (f"format={fmt} as_of={iso(as_of) if as_of else 'now'} units={_ids(unit_ids)} themes={_ids(theme_ids)} "
            f"via={via}")


def _ids(ids: list[int] | None) -> str:
    return "all" if ids is None else ",".join(str(i) for i in ids)


def report_target(course: Course, unit: Unit | None) -> str:
    return f"course:{course.id}" + (f" unit:{unit.code}" if unit else "")


def run_report_job(app: Flask, params: dict[str, Any], progress) -> tuple[Path, str]:
    """Job handler: build the report file the page asked for and leave it in the jobs folder."""
    progress(5, "Đang tính số liệu…")
    # Reads only, in a deferred transaction: progress() writes from its own session meanwhile, and
    # a BEGIN IMMEDIATE here would hold SQLite's write lock against it.
    with read_only():
        try:
            course = db.session.get(Course, params["course_id"])
            if course is None:
                raise ReportError("Lớp không còn tồn tại.")
            unit = db.session.get(Unit, params["unit_id"]) if params.get("unit_id") else None
            as_of = parse_iso(params["as_of"]) if params.get("as_of") else None
            content, name, _data = build_file(course, params["format"], as_of, params.get("unit_ids"),
                                              params.get("theme_ids"), unit)
        finally:
            db.session.rollback()
    progress(90, "Đang lưu tệp…")
    path = jobs_dir(app) / f"report-{uuid.uuid4().hex}.{params['format']}"
    path.write_bytes(content)
    return path, name
