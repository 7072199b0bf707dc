"""Command line: `flask --app lms …` for set-up, data loading and scripts."""
from __future__ import annotations

import os
import sys
from typing import NoReturn

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lms import timefmt
from lms.courses import CourseError, create_course, describe_changes, update_course
from lms.db import app_object, db
from lms.models import Course, Role, User
from lms.security import audit, create_api_token
from lms.sessions import end_sessions
from lms.units import UnitError, add_unit, load_province
from lms.users import UserError, create_user, set_password

db_cli = AppGroup("db", help="Lược đồ cơ sở dữ liệu.")
units_cli = AppGroup("units", help="Đơn vị (điểm cầu).")
course_cli = AppGroup("course", help="Lớp học và chủ đề.")
roster_cli = AppGroup("roster", help="Danh sách học viên.")
user_cli = AppGroup("user", help="Tài khoản.")
token_cli = AppGroup("token", help="Mã truy cập API.")


def init_app(app: Flask) -> None:
    """Register the host's commands."""
    for group in (db_cli, units_cli, course_cli, roster_cli, user_cli, token_cli):
        app.cli.add_command(group)
    app.cli.add_command(demo_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def fail(message: str) -> NoReturn:
    """Print a message to stderr and exit with status 1 (nothing has been committed)."""
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema up to date (Alembic)."""

    from lms.migrate import upgrade

    upgrade(app_object())
    click.echo("Cơ sở dữ liệu đã được cập nhật.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--head", default="lms@head", help="Branch head, e.g. essays@head.")
@click.option("--version-path", default=None)
def db_revision(message: str, head: str, version_path: str | None) -> None:
    """Create a migration from the models (developers)."""

    from lms.migrate import revision

    revision(app_object(), message, head=head, version_path=version_path)


@units_cli.command("load-province")
@click.argument("province_code")
def units_load_province(province_code: str) -> None:
    """Load a province's official communes/wards, e.g. 92 for Cần Thơ."""
    try:
        created, updated = load_province(province_code)
    except UnitError as exc:
        fail(str(exc))
    audit("units.loaded", target=province_code, detail=f"created={created} updated={updated}")
    db.session.commit()
    click.echo(f"Đã nạp {created} đơn vị mới, cập nhật {updated} đơn vị (tỉnh/thành phố {province_code}).")


@units_cli.command("add")
@click.argument("code")
@click.argument("name")
def units_add(code: str, name: str) -> None:
    """Add a unit that is not a ward (school, agency)."""
    try:
        unit = add_unit(code, name)
    except UnitError as exc:
        fail(str(exc))
    audit("unit.added", target=unit.code)
    db.session.commit()
    click.echo(f"Đã thêm đơn vị {unit.code} – {unit.name}.")


@course_cli.command("create")
@click.option("--name", required=True)
@click.option("--due", required=True, help="Hạn nộp bài, ISO 8601 (không có múi giờ: giờ Việt Nam).")
@click.option("--cutoff", required=True, help="Hạn chót, ISO 8601.")
@click.option("--topic", "topics", multiple=True, required=True)
@click.option("--starts", default=None, help="Ngày bắt đầu lớp (ISO); mặc định: hai ngày trước hạn nộp.")
@click.option("--ends", default=None, help="Ngày kết thúc lớp (ISO).")
def course_create(name: str, due: str, cutoff: str, topics: tuple[str, ...], starts: str | None,
                  ends: str | None) -> None:
    """Create a course with its topics; prints the new course's id."""
    import datetime as dt

    try:
        due_at, cutoff_at = timefmt.parse_iso(due), timefmt.parse_iso(cutoff)
        starts_on = dt.date.fromisoformat(starts) if starts else (timefmt.to_local(due_at).date() - dt.timedelta(days=3))
        ends_on = dt.date.fromisoformat(ends) if ends else starts_on + dt.timedelta(days=1)
        course = create_course(name, starts_on=starts_on, ends_on=ends_on, essay_due_at=due_at,
                               cutoff_at=cutoff_at, topics=list(topics))
    except CourseError as exc:
        fail(str(exc))
    except ValueError:
        fail("Thời gian phải theo ISO 8601, ví dụ 2026-05-26T17:00:00+07:00.")
    audit("course.created", target=str(course.id))
    db.session.commit()
    click.echo(course.id)


@course_cli.command("update")
@click.argument("course_id", type=int)
@click.option("--name", default=None)
@click.option("--due", default=None, help="Hạn nộp mới, ISO 8601 (không có múi giờ: giờ Việt Nam).")
@click.option("--cutoff", default=None, help="Hạn chót mới, ISO 8601.")
@click.option("--description", default=None)
def course_update(course_id: int, name: str | None, due: str | None, cutoff: str | None,
                  description: str | None) -> None:
    """Change a course's name, description or deadlines; lateness follows the new due time."""
    course = db.session.get(Course, course_id)
    if course is None:
        fail(f"Không có lớp học số {course_id}.")
    try:
        due_at = timefmt.parse_iso(due) if due else None
        cutoff_at = timefmt.parse_iso(cutoff) if cutoff else None
    except ValueError:
        fail("Thời gian phải theo ISO 8601, ví dụ 2026-05-26T17:00:00+07:00.")
    try:
        changes = update_course(course, name=name, description=description, essay_due_at=due_at,
                                cutoff_at=cutoff_at)
    except CourseError as exc:
        fail(str(exc))
    if not changes:
        click.echo("Không có gì thay đổi.")
        return
    audit("course.updated", target=str(course.id), detail=describe_changes(changes))
    db.session.commit()
    click.echo(f"Đã cập nhật lớp {course.id}: {describe_changes(changes)}")


@roster_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--course", "course_id", type=int, required=True)
@click.option("--credentials", "credentials_out", type=click.Path(dir_okay=False), default=None,
              help="Ghi tài khoản mới và mật khẩu ban đầu vào tệp .xlsx này (quyền 0600); không lưu ở đâu khác.")
def roster_import(file: str, course_id: int, credentials_out: str | None) -> None:
    """Import trainees from .xlsx or .csv into a course (all rows or nothing)."""
    from pathlib import Path

    from lms.credentials import accounts_of, build_credentials_xlsx
    from lms.roster import RosterRejected, import_roster

    try:
        result = import_roster(Path(file).read_bytes(), Path(file).name, course_id=course_id)
    except RosterRejected as exc:
        db.session.rollback()
        click.echo(exc.summary(), err=True)
        sys.exit(1)
    if credentials_out and result.new_accounts:
        # Written before the commit: if the file cannot be written, nothing is imported.
        data = build_credentials_xlsx(accounts_of(result.new_accounts))
        fd = os.open(credentials_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(data)
    audit("roster.imported", target=f"course={course_id}", detail=result.summary())
    db.session.commit()
    click.echo(result.summary())
    if credentials_out and result.new_accounts:
        click.echo(f"Mật khẩu ban đầu của {result.created} tài khoản mới: {credentials_out}")
    elif result.new_accounts:
        click.echo("Mật khẩu ban đầu không được lưu (chỉ lưu bản băm); dùng --credentials TỆP.xlsx để nhận "
                   "chúng, hoặc cán bộ đơn vị cấp lại mật khẩu cho từng người.", err=True)


@user_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_code", default=None)
@click.option("--name", "full_name", default=None)
def user_create(username: str, role: str, unit_code: str | None, full_name: str | None) -> None:
    """Create an account; the password is read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(username, role=Role(role), password=password, full_name=full_name,
                           unit_code=unit_code)
    except UserError as exc:
        fail(str(exc))
    audit("user.created", target=user.username, detail=f"role={role}")
    db.session.commit()
    click.echo(f"Đã tạo tài khoản {user.username} ({Role(role).label}).")


@user_cli.command("set-password")
@click.argument("username")
def user_set_password(username: str) -> None:
    """Set a user's password, read from standard input (like `user create`); their sessions end."""
    password = sys.stdin.readline().rstrip("\r\n")
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        fail(f"Không có tài khoản {username}.")
    try:
        set_password(user, password)
    except UserError as exc:
        fail(str(exc))
    end_sessions(user)
    audit("password.set", target=user.username)
    db.session.commit()
    click.echo(f"Đã đặt mật khẩu mới cho {user.username}.")


@token_cli.command("create")
@click.argument("username")
def token_create(username: str) -> None:
    """Create an API token; printed as the last line."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        fail(f"Không có tài khoản {username}.")
    token = create_api_token(user)
    audit("token.created", target=user.username)
    db.session.commit()
    click.echo(f"Mã truy cập API cho {username} (chỉ hiện một lần):")
    click.echo(token)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Chỉ nạp khi cơ sở dữ liệu chưa có lớp học nào.")
def demo_command(if_empty: bool) -> None:
    """Load demo data (a class like the one of 23–24/5/2026) and print the logins."""
    from lms.demo import demo_logins, load_demo
    from lms.models import Course

    if if_empty and db.session.scalar(select(Course.id).limit(1)) is not None:
        click.echo("Cơ sở dữ liệu đã có dữ liệu; không nạp lại dữ liệu mẫu. Tài khoản mẫu (nếu chưa đổi mật khẩu):")
        logins = demo_logins()
    else:
        logins = load_demo()
        db.session.commit()
        click.echo("Dữ liệu mẫu đã được nạp. Tài khoản đăng nhập:")
    for username, password, label in logins:
        click.echo(f"  {label:<28} {username:<20} {password}")


@click.command("backup")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Tệp .tar.gz (mặc định: thuhoach-backup-<thời gian>.tar.gz).")
def backup_command(out: str | None) -> None:
    """Write the database and the stored files to one archive."""
    import datetime as dt
    from pathlib import Path

    from lms.backup import write_backup

    target = Path(out or f"thuhoach-backup-{dt.datetime.now():%Y%m%d-%H%M%S}.tar.gz")
    counts = write_backup(app_object(), target)
    click.echo(f"Đã sao lưu {sum(counts.values())} dòng dữ liệu và các tệp vào {target}")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def restore_command(archive: str) -> None:
    """Restore an archive made by `backup` into a new (migrated, empty) database."""
    from pathlib import Path

    from lms.backup import BackupError, restore_backup

    try:
        counts = restore_backup(app_object(), Path(archive))
    except BackupError as exc:
        fail(str(exc))
    audit("backup.restored", target=Path(archive).name)
    db.session.commit()
    click.echo(f"Đã khôi phục {sum(counts.values())} dòng dữ liệu. Hãy chạy `flask --app lms search reindex` "
               "để dựng lại chỉ mục tìm kiếm.")
