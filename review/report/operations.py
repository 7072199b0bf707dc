"""Building a report file, shared by the pages, the API, the background job and the CLI."""
from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile
from pathlib import Path
from typing import Any, Sequence

from flask import Flask

from lms.db import db, read_only
from lms.jobs import jobs_dir
from lms.models import Course, Unit
from lms.timefmt import iso, parse_iso
from review.report.data import BOTH, FORMATS, ReportData, ReportError, build_report_data, file_name
from review.report.docx import report_docx
from review.report.prose import report_prose
from review.report.xlsx import report_xlsx

JOB_KIND = "report.build"


def build_files(course: Course, formats: Sequence[str], as_of: dt.datetime | None,
                unit_ids: list[int] | None = None, theme_ids: list[int] | None = None,
                unit: Unit | None = None) -> tuple[dict[str, bytes], ReportData]:
    """Compute the figures once and build each file asked for from them; returns ({format: bytes}, data).

    The aggregation is most of the cost for a big course (a country: ~10 s before any file), and one
    aggregation also means the .docx and the .xlsx cannot disagree.
    """
    if not formats or any(fmt not in FORMATS for fmt in formats):
        raise ReportError("Định dạng phải là .xlsx hoặc .docx.")
    data = build_report_data(course, as_of, unit_ids, theme_ids, unit=unit, with_missing="xlsx" in formats)
    files = {fmt: report_xlsx(data) if fmt == "xlsx" else report_docx(data, report_prose(course.id, unit))
             for fmt in dict.fromkeys(formats)}
    return files, data


def build_file(course: Course, fmt: str, as_of: dt.datetime | None, unit_ids: list[int] | None = None,
               theme_ids: list[int] | None = None, unit: Unit | None = None) -> tuple[bytes, str, ReportData]:
    """Compute the figures and build one file, or both in a .zip (`BOTH`); returns (bytes, download name, data)."""
    if fmt == BOTH:
        files, data = build_files(course, FORMATS, as_of, unit_ids, theme_ids, unit)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as bundle:  # both are zip files already
            for name, content in files.items():
                bundle.writestr(file_name(data, name), content)
        return out.getvalue(), file_name(data, BOTH), data
    if fmt not in FORMATS:
        raise ReportError("Định dạng phải là .xlsx, .docx hoặc cả hai (.zip).")
    files, data = build_files(course, [fmt], as_of, unit_ids, theme_ids, unit)
    return files[fmt], file_name(data, fmt), data


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
