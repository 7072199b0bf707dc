"""`flask report build`: a course's report into a file."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lms.db import db
from lms.models import Course, Unit
from lms.security import audit
from lms.timefmt import fmt_datetime, parse_iso
from review.report.data import FORMATS
from review.report.operations import build_files, filters_detail, report_target

report_cli = AppGroup("report", help="Báo cáo gửi Ban Thường vụ.")


def _fail(message: str) -> NoReturn:
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@report_cli.command("build")
@click.option("--course", "course_id", required=True, type=int, help="Mã số lớp.")
@click.option("--as-of", "as_of_text", default=None, help="Thời điểm ISO 8601 (mặc định: hiện tại).")
@click.option("--out", "outs", required=True, multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp kết quả: .xlsx hoặc .docx; ghi --out hai lần để có cả hai tệp từ một lần tính số liệu.")
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị: báo cáo riêng của một đơn vị.")
def report_build(course_id: int, as_of_text: str | None, outs: tuple[Path, ...], unit_code: str | None) -> None:
    """Build the report of a course into FILE.xlsx and/or FILE.docx (format from the extension)."""
    formats = [out.suffix.lower().lstrip(".") for out in outs]
    for out, fmt in zip(outs, formats):
        if fmt not in FORMATS:
            _fail(f"Tệp kết quả phải có đuôi .xlsx hoặc .docx (nhận được “{out.name}”).")
    if len(set(formats)) != len(formats):
        _fail("Mỗi định dạng chỉ ghi một tệp: một --out .xlsx và/hoặc một --out .docx.")
    course = db.session.get(Course, course_id)
    if course is None:
        _fail(f"Không tìm thấy lớp số {course_id}.")
    as_of = None
    if as_of_text:
        try:
            as_of = parse_iso(as_of_text)
        except ValueError:
            _fail(f"Thời điểm “{as_of_text}” không hợp lệ; dùng dạng ISO 8601, ví dụ 2026-05-27T08:00:00+07:00.")
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            _fail(f"Không tìm thấy đơn vị có mã {unit_code}.")
    # Both files from one aggregation: the figures are most of the time for a big course.
    files, data = build_files(course, formats, as_of, None, None, unit)
    for out, fmt in zip(outs, formats):
        try:
            out.write_bytes(files[fmt])
        except OSError as exc:
            _fail(f"Không ghi được tệp {out}: {exc.strerror}.")
        audit("report.exported", target=report_target(course, unit),
              detail=filters_detail(fmt, as_of, None, None, "cli"))
    db.session.commit()
    for out in outs:
        click.echo(f"Đã tạo {out} (số liệu tính đến {fmt_datetime(data.as_of)}, {data.totals['units']} đơn vị, "
                   f"{data.totals['enrolled']} học viên).")
