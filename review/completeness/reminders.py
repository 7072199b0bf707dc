"""Daily reminders: trainees who have not handed in, and a digest of them for each unit officer.

Run by cron: `flask --app lms remind --course ID`. Messages go out through smtplib (SMTP_HOST,
SMTP_PORT, MAIL_FROM) and are also kept as in-app notices.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import sys
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import cast

import click
from flask import Flask, current_app, has_request_context, url_for
from sqlalchemy import func, select

from lms.db import db, utcnow
from lms.models import AuditEvent, Course, Enrollment, Role, Unit, User, topic_label
from lms.security import audit
from lms.timefmt import fmt_datetime
from review.completeness.figures import STATE_LABELS, trainee_states
from review.completeness.models import Notice
from review.wards.queries import sent_by_unit

logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Register the `remind` command."""
    app.cli.add_command(remind_command)


def time_left(due_at: dt.datetime, now: dt.datetime) -> str:
    """"còn 1 ngày 3 giờ" before the due time, "đã quá hạn 2 giờ" after it."""
    seconds = int((due_at - now).total_seconds())
    minutes = abs(seconds) // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    parts = ([f"{days} ngày"] if days else []) + ([f"{hours} giờ"] if hours else [])
    if not days and not hours:
        parts = [f"{mins} phút"]
    return ("còn " if seconds >= 0 else "đã quá hạn ") + " ".join(parts)


@dataclass
class Outgoing:
    """One message for one person."""

    user_id: int
    email: str | None
    subject: str
    body: str


def _submit_link() -> str:
    """Where a trainee hands in: the full address when a request tells us the site's, else the page's name."""
    if has_request_context():
        return f"Nộp bài tại: {url_for('essays.mine', _external=True)}"
    return "Nộp bài tại mục «Bài thu hoạch của tôi» sau khi đăng nhập."


def build_reminders(course: Course, now: dt.datetime | None = None,
                    unit_ids: list[int] | None = None) -> list[Outgoing]:
    """The messages of one run: one per trainee missing essays, one digest per unit officer (all units or these)."""
    now = now or utcnow()
    if unit_ids is None:
        unit_ids = list(db.session.scalars(
            select(Enrollment.unit_id).where(Enrollment.course_id == course.id).distinct()))
    if not unit_ids:
        return []
    table = trainee_states(course, unit_ids, now, states=("missing", "extension"))
    messages: list[Outgoing] = []
    for user_id, rows in table.groupby("user_id", sort=False):
        first = rows.iloc[0]
        lines = [f"- {topic_label(r.topic_position, r.topic_title)} — hạn nộp {fmt_datetime(r.due_at)} "
                 f"({time_left(r.due_at, now)})" for r in rows.itertuples(index=False)]
        body = (f"Kính gửi đồng chí {first.full_name},\n\n"
                f"Hệ thống chưa nhận được bài thu hoạch của đồng chí cho lớp \"{course.name}\":\n"
                + "\n".join(lines)
                + f"\n\nĐề nghị đồng chí đăng nhập hệ thống để nộp bài đúng hạn. {_submit_link()}\n\nBan Tổ chức lớp học")
        messages.append(Outgoing(int(user_id), first.email if isinstance(first.email, str) else None,
                                 f"Nhắc nộp bài thu hoạch: {course.name}", body))
    officers = db.session.execute(select(User.id, User.email, User.full_name, User.unit_id, Unit.name)
                                  .join(Unit, Unit.id == User.unit_id)
                                  .where(User.role == Role.officer, User.unit_id.in_(unit_ids),
                                         User.is_active_account.is_(True))).all()
    sent = sent_by_unit(course.id)
    for officer_id, email, full_name, unit_id, unit_name in officers:
        rows = table[table["unit_id"] == unit_id]
        if not len(rows):
            if unit_id not in sent:
                messages.append(_unsent_only(course, officer_id, email, full_name, unit_name))
            continue
        people = rows.groupby("user_id", sort=False)
        lines = []
        for _, mine in people:
            topics = ", ".join(f"CĐ {r.topic_position} ({STATE_LABELS[r.state].lower()}, "
                               f"{time_left(r.due_at, now)})" for r in mine.itertuples(index=False))
            lines.append(f"- {mine.iloc[0].full_name} ({mine.iloc[0].username}): {topics}")
        body = (f"Kính gửi đồng chí {full_name},\n\n"
                f"Tính đến {fmt_datetime(now)}, đơn vị {unit_name} còn {people.ngroups} học viên chưa nộp đủ "
                f"bài thu hoạch lớp \"{course.name}\" (hạn nộp {fmt_datetime(course.essay_due_at)}, "
                f"{time_left(course.essay_due_at, now)}):\n" + "\n".join(lines)
                + "\n\nĐề nghị đồng chí đôn đốc học viên nộp bài."
                + ("" if unit_id in sent else "\n" + UNSENT_LINE) + "\n\nBan Tổ chức lớp học")
        messages.append(Outgoing(officer_id, email, f"Danh sách học viên chưa nộp bài — {unit_name}", body))
    return messages


UNSENT_LINE = ("Đơn vị chưa gửi báo cáo tổng hợp kiến nghị, đề xuất của học viên (theo chủ đề) cho Ban Tổ chức: "
               "đề nghị đồng chí tổng hợp và gửi trên hệ thống (mục “Tổng hợp kiến nghị”).")


def _unsent_only(course: Course, officer_id: int, email: str | None, full_name: str, unit_name: str) -> Outgoing:
    """Every essay is in, but the ward has not sent its compilation: “chưa gửi báo cáo”."""
    body = (f"Kính gửi đồng chí {full_name},\n\nĐơn vị {unit_name} (lớp \"{course.name}\") chưa gửi báo cáo.\n"
            f"{UNSENT_LINE}\n\nBan Tổ chức lớp học")
    return Outgoing(officer_id, email, f"Đơn vị chưa gửi báo cáo — {unit_name}", body)


def send_reminders(course: Course, now: dt.datetime | None = None, unit: Unit | None = None) -> tuple[int, int]:
    """Keep every message as a notice and e-mail those with an address; returns (notices, e-mails).

    With `unit`, only that unit's trainees and officers (the officer's "Nhắc học viên chưa nộp" button).
    """
    now = now or utcnow()
    messages = build_reminders(course, now, [unit.id] if unit is not None else None)
    for m in messages:
        db.session.add(Notice(user_id=m.user_id, text=f"{m.subject}\n\n{m.body}", created_at=now))
    audit("reminders.sent", target=reminder_target(course, unit), detail=f"messages={len(messages)}")
    db.session.commit()
    sent = 0
    mailable = [m for m in messages if m.email]
    if mailable and current_app.config.get("SMTP_HOST"):
        with smtplib.SMTP(current_app.config["SMTP_HOST"], int(current_app.config["SMTP_PORT"]), timeout=30) as smtp:
            for m in mailable:
                msg = compose(current_app.config["MAIL_FROM"], m.email or "", m.subject, m.body)
                try:
                    smtp.send_message(msg)
                    sent += 1
                except smtplib.SMTPException:
                    # One refused address must not stop the others' reminders.
                    logger.exception("reminder to %s refused", m.email)
    elif mailable:
        logger.warning("SMTP_HOST not set: %d reminders kept as notices only", len(mailable))
    return len(messages), sent


def reminder_target(course: Course, unit: Unit | None) -> str:
    """The audit target of a reminder run: the course, or the course and one unit."""
    return f"course={course.id}" + (f" unit={unit.code}" if unit is not None else "")


REMIND_EVERY = dt.timedelta(hours=1)


def last_unit_reminder(course: Course, unit: Unit) -> dt.datetime | None:
    """When this unit's trainees were last reminded from the unit page (at most once an hour)."""
    return db.session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.action == "reminders.sent", AuditEvent.target == reminder_target(course, unit)))


def compose(sender: str, to: str, subject: str, body: str) -> MIMEText:
    """A UTF-8 plain-text message."""
    msg = MIMEText(body, "plain", "utf-8")
    msg["From"] = sender
    msg["To"] = to
    # Header() keeps the spaces inside the encoded words: the default policy's folding drops the
    # space between two encoded words ("bồi dưỡng" arrived as "bồidưỡng" in the test).
    msg["Subject"] = cast(str, Header(subject, "utf-8"))  # the message's compat32 policy takes a Header
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="thuhoach")
    return msg


@click.command("remind")
@click.option("--course", "course_id", type=int, required=True)
def remind_command(course_id: int) -> None:
    """Nhắc học viên chưa nộp bài và gửi cán bộ đơn vị danh sách (chạy hằng ngày)."""
    course = db.session.get(Course, course_id)
    if course is None:
        click.echo(f"Không có lớp {course_id}.", err=True)
        sys.exit(1)
    notices, emails = send_reminders(course)
    click.echo(f"Đã tạo {notices} thông báo, gửi {emails} thư điện tử.")
