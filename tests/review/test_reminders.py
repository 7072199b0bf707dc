"""Reminders go through a real SMTP server on 127.0.0.1 and are kept as in-app notices."""
from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from lms.db import db, utcnow
from lms.models import topic_label
from review.completeness.figures import trainee_states
from review.completeness.models import Notice
from tests.review.completeness_roster import roster  # noqa: F401  (a fixture)


class Collect:
    """aiosmtpd handler keeping every message that arrives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    """A real SMTP server on a free local port; the app sends its mail there (read at send time)."""
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, MAIL_FROM="bantochuc@thuhoach.vn")
    yield handler
    controller.stop()


def test_remind_emails_trainees_and_officers_and_keeps_notices(smtp, roster, runner):
    waiting = trainee_states(roster.course, [u.id for u in roster.units], utcnow(), states=("missing", "extension"))
    result = runner.invoke(args=["remind", "--course", str(roster.course.id)])
    assert result.exit_code == 0, result.output
    by_to = {m["To"]: m for m in smtp.messages}
    trainees = waiting.drop_duplicates("user_id")
    with_mail = trainees[trainees["email"].notna()]
    for r in with_mail.itertuples():
        message = by_to.pop(r.email)
        assert message["Subject"] == f"Nhắc nộp bài thu hoạch: {roster.course.name}"
        body = message.get_content()
        assert f"Kính gửi đồng chí {r.full_name}" in body
        for topic in waiting[waiting["user_id"] == r.user_id].itertuples():
            assert topic_label(topic.topic_position, topic.topic_title) in body
        assert "đã quá hạn 1 giờ" in body or "còn " in body
    # Every officer of a unit with waiting trainees gets a digest naming each of them, nobody else's.
    for code, officer in roster.officers.items():
        unit = next(u for u in roster.units if u.code == code)
        message = by_to.pop(officer.email)
        assert message["Subject"] == f"Danh sách học viên chưa nộp bài — {unit.name}"
        body = message.get_content()
        mine = waiting[waiting["unit_id"] == unit.id].drop_duplicates("user_id")
        assert f"còn {len(mine)} học viên" in body
        for other_code, people in roster.trainees.items():
            for p in people:
                assert (f"({p.username})" in body) == (other_code == code and p.id in set(mine["user_id"]))
    assert by_to == {}
    # Notices: one per waiting trainee (e-mail or not) and one per officer.
    notices = db.session.scalars(select(Notice)).all()
    assert len(notices) == len(trainees) + len(roster.officers)
    assert "Đã tạo" in result.output


def test_notices_show_in_the_app_until_read(smtp, roster, runner, client, auth):
    runner.invoke(args=["remind", "--course", str(roster.course.id)])
    auth.login(roster.officers["P01"])
    page = client.get(f"/completeness/{roster.course.id}/units/P01").get_data(as_text=True)
    assert "Thông báo mới" in page and "Danh sách học viên chưa nộp bài" in page
    assert "Thông báo (1)" in page
    auth.post("/completeness/notices")
    page = client.get(f"/completeness/{roster.course.id}/units/P01").get_data(as_text=True)
    assert "Thông báo mới" not in page
