"""Handing in essays through the operations: versions, files, lateness, extensions, permissions."""
from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from lms.db import db
from lms.models import AuditEvent, Role
from essays.deadlines import EssayStatus, essay_state
from essays.models import Essay, EssayVersion, IndexOutbox
from essays.operations import ExtensionError, SubmissionError, grant_extension, submit_essay
from essays.storage import file_path, stored_files

from tests.essays.essay_files import ESSAY, HEADER, TABLE, TITLE, build_docx
from tests.essays.essay_world import LONG_TEXT, NOTHING, counts, make_world

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def world(make_unit, make_user, make_course, enroll):
    return make_world(make_unit, make_user, make_course, enroll)


def hand_in(world, data: bytes | None = None, filename: str | None = "Bài thu hoạch.docx", text=None,
            trainee=None, by=None, topic=None, now=None):
    trainee = trainee or world.trainee
    version = submit_essay(trainee, topic or world.topic, data=data, filename=filename if data is not None else None,
                           text=text, uploaded_by=by or trainee, now=now)
    db.session.commit()
    return version


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def test_a_docx_becomes_version_1_with_its_file_and_an_outbox_row(world, essay_docx):
    version = hand_in(world, essay_docx)
    assert version.number == 1 and version.kind == "docx" and version.file_name == "Bài thu hoạch.docx"
    for expected in (TITLE, ESSAY, HEADER, *TABLE[0], *TABLE[1]):
        assert expected in version.text
    path = file_path(data_dir(), version.sha256)
    assert path.read_bytes() == essay_docx
    assert path.relative_to(data_dir()).parts == ("files", version.sha256[:2], version.sha256[2:4], version.sha256)
    essay = db.session.get(Essay, version.essay_id)
    assert essay.current_version_id == version.id and essay.version_count == 1
    assert essay.unit_id == world.ward.id and essay.course_id == world.course.id
    assert db.session.scalars(select(IndexOutbox.essay_id)).all() == [essay.id]
    assert not version.is_late and not version.under_extension and version.uploaded_by_id == world.trainee.id


def test_replacing_gives_version_2_and_keeps_version_1_and_its_file(world, essay_docx):
    first = hand_in(world, essay_docx)
    second_docx = build_docx([TITLE, ESSAY, "Bổ sung: kiến nghị tăng cường tập huấn chuyển đổi số."])
    second = hand_in(world, second_docx)
    assert (first.essay_id, first.number, second.number) == (second.essay_id, 1, 2)
    essay = db.session.get(Essay, first.essay_id)
    assert [v.number for v in essay.versions] == [1, 2] and essay.current_version_id == second.id
    assert file_path(data_dir(), first.sha256).read_bytes() == essay_docx
    assert file_path(data_dir(), second.sha256).read_bytes() == second_docx
    assert counts() == {"essay": 1, "essay_version": 2, "index_outbox": 2, "files": 2}


def test_identical_content_is_stored_once(world, essay_docx):
    hand_in(world, essay_docx)
    hand_in(world, essay_docx, trainee=world.classmate)
    assert counts()["files"] == 1 and counts()["essay_version"] == 2


def test_pasted_text_is_normalised_and_kept_as_a_file(world):
    pasted = unicodedata.normalize("NFD", LONG_TEXT + "\r\n\r\n\r\nHoà bình và hòa hợp.\u200b")
    version = hand_in(world, text=pasted)
    assert version.kind == "paste" and version.file_name is None
    assert version.text == LONG_TEXT + "\n\nHoà bình và hòa hợp."
    assert file_path(data_dir(), version.sha256).read_text(encoding="utf-8") == version.text


def test_pasted_text_must_be_an_essay(world):
    with pytest.raises(SubmissionError) as info:
        hand_in(world, text="Bài thu hoạch")
    assert info.value.status == 422 and "quá ngắn" in info.value.message
    db.session.rollback()
    assert counts() == NOTHING


def test_after_the_due_time_the_essay_is_late(world, essay_docx):
    version = hand_in(world, essay_docx, now=world.course.essay_due_at + dt.timedelta(minutes=1))
    assert version.is_late and not version.under_extension


def test_after_the_cutoff_nothing_is_accepted_or_stored(world, essay_docx):
    with pytest.raises(SubmissionError) as info:
        hand_in(world, essay_docx, now=world.course.cutoff_at + dt.timedelta(seconds=1))
    assert info.value.status == 409 and "quá hạn chót" in info.value.message
    db.session.rollback()
    assert counts() == NOTHING


@pytest.mark.parametrize("scope", ["trainee", "unit", "trainee-topic", "unit-topic"])
def test_an_extension_lets_a_trainee_hand_in_after_the_cutoff_on_time(world, essay_docx, scope):
    until = world.course.cutoff_at + dt.timedelta(days=2)
    who = {"trainee": world.trainee} if scope.startswith("trainee") else {"unit": world.ward}
    grant_extension(world.reviewer, world.course, topic=world.topic if scope.endswith("topic") else None,
                    until_at=until, reason="Học viên nằm viện", **who)
    db.session.commit()
    version = hand_in(world, essay_docx, now=world.course.cutoff_at + dt.timedelta(days=1))
    assert not version.is_late and version.under_extension


def test_an_extension_for_another_topic_or_trainee_does_not_apply(world, essay_docx):
    until = world.course.cutoff_at + dt.timedelta(days=2)
    grant_extension(world.reviewer, world.course, trainee=world.classmate, until_at=until, reason="Đi công tác")
    grant_extension(world.reviewer, world.course, trainee=world.trainee, topic=world.course.topics[1],
                    until_at=until, reason="Đi công tác")
    grant_extension(world.reviewer, world.course, unit=world.other_ward, until_at=until, reason="Mưa bão")
    db.session.commit()
    with pytest.raises(SubmissionError):
        hand_in(world, essay_docx, now=world.course.cutoff_at + dt.timedelta(days=1))
    db.session.rollback()
    assert counts() == NOTHING


def test_an_officer_hands_in_on_behalf_of_a_trainee_of_their_unit(world, essay_docx):
    version = hand_in(world, essay_docx, by=world.officer)
    assert version.uploaded_by_id == world.officer.id
    assert db.session.get(Essay, version.essay_id).trainee_id == world.trainee.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "essay.submitted")).one()
    assert event.username == world.officer.username and "on_behalf_of=hv.ninhkieu.1" in event.detail


@pytest.mark.parametrize("who", ["other_officer", "classmate", "reviewer"])
def test_others_cannot_hand_in_for_a_trainee(world, essay_docx, who):
    with pytest.raises(SubmissionError) as info:
        hand_in(world, essay_docx, by=getattr(world, who))
    assert info.value.status == 404
    db.session.rollback()
    assert counts() == NOTHING


def test_a_trainee_not_in_the_course_cannot_hand_in(world, make_user, essay_docx):
    outsider = make_user(Role.trainee, unit=world.ward)
    with pytest.raises(SubmissionError) as info:
        hand_in(world, essay_docx, trainee=outsider)
    assert "không có tên" in info.value.message
    db.session.rollback()
    assert counts() == NOTHING


def test_a_rolled_back_submission_leaves_no_file(world, essay_docx):
    submit_essay(world.trainee, world.topic, data=essay_docx, filename="bai.docx", text=None,
                 uploaded_by=world.trainee)
    assert len(stored_files(data_dir())) == 1
    db.session.rollback()
    assert counts() == NOTHING


def test_a_rollback_keeps_a_file_that_a_committed_version_shares(world, essay_docx):
    hand_in(world, essay_docx)
    submit_essay(world.classmate, world.topic, data=essay_docx, filename="bai.docx", text=None,
                 uploaded_by=world.classmate)
    db.session.rollback()
    assert counts() == {"essay": 1, "essay_version": 1, "index_outbox": 1, "files": 1}


# --- extensions: who may grant ---------------------------------------------------------------
def test_an_officer_extends_a_trainee_of_their_own_unit(world):
    ext = grant_extension(world.officer, world.course, trainee=world.trainee,
                          until_at=world.course.cutoff_at + dt.timedelta(days=1), reason="Ốm")
    assert ext.granted_by_id == world.officer.id and ext.trainee_id == world.trainee.id


@pytest.mark.parametrize(("who", "target", "status"), [
    ("officer", "stranger", 404),       # a trainee of another unit
    ("officer", "ward", 403),           # a whole unit is for the Board
    ("trainee", "trainee", 403),
    ("trainee", "ward", 403),
])
def test_who_may_not_grant_an_extension(world, who, target, status):
    kwargs = {"unit": world.ward} if target == "ward" else {"trainee": getattr(world, target)}
    with pytest.raises(ExtensionError) as info:
        grant_extension(getattr(world, who), world.course, until_at=world.course.cutoff_at + dt.timedelta(days=1),
                        reason="Lý do", **kwargs)
    assert info.value.status == status


@pytest.mark.parametrize("who", ["reviewer", "admin"])
def test_the_board_extends_a_trainee_or_a_unit(world, who):
    until = world.course.cutoff_at + dt.timedelta(days=1)
    grant_extension(getattr(world, who), world.course, trainee=world.stranger, until_at=until, reason="Ốm")
    grant_extension(getattr(world, who), world.course, unit=world.other_ward, until_at=until, reason="Bão")


def test_an_extension_needs_a_reason(world):
    with pytest.raises(ExtensionError) as info:
        grant_extension(world.reviewer, world.course, trainee=world.trainee,
                        until_at=world.course.cutoff_at + dt.timedelta(days=1), reason="   ")
    assert "lý do" in info.value.message


# --- state ------------------------------------------------------------------------------------
def test_essay_state_follows_the_rules(world, essay_docx):
    course, topic = world.course, world.topic

    def state(trainee, version=None):
        return essay_state(course, topic_id=topic.id, trainee_id=trainee.id, unit_id=world.ward.id, version=version)

    assert state(world.trainee).status == EssayStatus.missing
    on_time = hand_in(world, essay_docx)
    assert state(world.trainee, on_time).status == EssayStatus.submitted
    late = hand_in(world, essay_docx, trainee=world.classmate, now=course.essay_due_at + dt.timedelta(hours=1))
    assert state(world.classmate, late).status == EssayStatus.late
    until = course.cutoff_at + dt.timedelta(days=3)
    grant_extension(world.reviewer, course, unit=world.ward, until_at=until, reason="Bão")
    db.session.commit()
    extended = state(world.trainee)
    assert extended.status == EssayStatus.extended and extended.due_at == until and extended.cutoff_at == until
