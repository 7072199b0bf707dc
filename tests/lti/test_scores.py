"""Scores returned through AGS 2.0: retried when the LMS is down, any 2xx accepted, timestamps with
milliseconds that never repeat for one (line item, user), NotReady before the cut-off, 0 only after."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from fake_platform import Person
from lms.db import db, utcnow
from lms.jobs import run_one_job
from lms.lti.models import LtiContext, LtiScore
from lms.lti.operations import refresh_after_cutoff, send_scores
from lms.models import Job

AN = Person(sub="moodle-31", name="Nguyễn Văn An", email="an@tct.vn", username="an.moodle")
BINH = Person(sub="moodle-32", name="Lê Thị Bình")
AGS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
TEXT = "Qua lớp bồi dưỡng, tôi nhận thức sâu sắc hơn về công tác xây dựng Đảng ở cơ sở. " * 8


def _hand_in(app, client, lms, course, person=AN):
    topic = course.topics[0]
    landing = lms.launch(person, custom={"topic_id": str(topic.id)}).headers["Location"]
    from tests.conftest import csrf_token_from

    page = client.get(landing).get_data(as_text=True)
    handed = client.post(landing, data={"text": TEXT, "csrf_token": csrf_token_from(page)})
    assert handed.status_code == 302, handed.get_data(as_text=True)


def test_a_score_the_lms_could_not_take_is_sent_when_it_is_back(app, client, lms, platform, make_course):
    course = make_course()
    platform.down = True
    _hand_in(app, client, lms, course)
    assert run_one_job(app) == 1
    job = db.session.scalars(select(Job)).one()
    assert job.status == "done" and "tự động gửi lại" in job.message
    row = db.session.scalars(select(LtiScore)).one()
    assert row.is_pending and row.attempts == 1 and row.next_attempt_at > utcnow()
    assert platform.scores == []

    platform.down = False
    assert send_scores().sent == 0, "not before its retry time"
    result = send_scores(now=utcnow() + dt.timedelta(minutes=2))
    db.session.commit()
    assert result.sent == 1 and result.failed == 0
    (score,) = platform.scores
    assert (score["userId"], score["scoreGiven"], score["activityProgress"], score["gradingProgress"]) == (
        AN.sub, 1.0, "Submitted", "FullyGraded")
    db.session.expire_all()
    row = db.session.scalars(select(LtiScore)).one()
    assert not row.is_pending and row.last_error is None


def test_a_2xx_answer_with_a_plain_text_body_is_success(app, client, lms, platform, make_course):
    platform.score_answer = (200, "OK")
    _hand_in(app, client, lms, make_course())
    run_one_job(app)
    assert len(platform.scores) == 1
    assert not db.session.scalars(select(LtiScore)).one().is_pending


def test_timestamps_carry_milliseconds_and_never_repeat_for_one_user_and_column(lms, runner, platform,
                                                                               make_course):
    course = make_course()
    lms.launch(AN, custom={"topic_id": str(course.topics[0].id)})
    context_id = str(db.session.scalar(select(LtiContext.id)))
    for _ in range(2):  # two runs within a second: the second has nothing new to say
        assert runner.invoke(args=["lti", "scores", context_id]).exit_code == 0
    assert len(platform.scores) == 1
    assert runner.invoke(args=["lti", "scores", context_id, "--resend"]).exit_code == 0
    assert runner.invoke(args=["lti", "scores", context_id, "--resend"]).exit_code == 0
    stamps = [s["timestamp"] for s in platform.scores]
    assert len(stamps) == 3 and all(AGS_TIME.match(t) for t in stamps), stamps
    assert stamps == sorted(set(stamps)), "strictly later each time"


def test_not_handed_in_is_not_ready_before_the_cutoff_and_zero_after(app, lms, runner, platform, make_course):
    course = make_course(due_in=dt.timedelta(minutes=-30), cutoff_in=dt.timedelta(hours=1))
    lms.launch(BINH, custom={"topic_id": str(course.topics[0].id)})
    context_id = db.session.scalar(select(LtiContext.id))
    assert runner.invoke(args=["lti", "scores", str(context_id)]).exit_code == 0
    assert [(s["gradingProgress"], s.get("scoreGiven")) for s in platform.scores] == [("NotReady", None)]

    course.cutoff_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert refresh_after_cutoff() == 1
    db.session.commit()
    send_scores()
    db.session.commit()
    assert [(s["gradingProgress"], s.get("scoreGiven")) for s in platform.scores][-1] == ("FullyGraded", 0.0)
    assert platform.scores[-1]["timestamp"] > platform.scores[0]["timestamp"]
