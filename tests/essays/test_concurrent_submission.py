"""Many uploads at once against the SQLite file: every essay and version is kept, numbers distinct and consecutive."""
from __future__ import annotations

import io
import threading
from collections import Counter
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from lms.db import db
from lms.models import Role
from essays.models import Essay, EssayVersion, IndexOutbox
from essays.operations import submit_essay
from essays.storage import file_path

from tests.essays.essay_world import LONG_TEXT

THREADS = 16
UPLOADS_PER_THREAD = 3


def run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


def assert_every_version_is_there(expected: Counter) -> None:
    """expected: (trainee_id, topic_id) → number of uploads."""
    db.session.expire_all()
    essays = db.session.scalars(select(Essay)).all()
    assert Counter({(e.trainee_id, e.topic_id): e.version_count for e in essays}) == expected
    data_dir = Path(current_app.config["DATA_DIR"])
    for essay in essays:
        numbers = [v.number for v in essay.versions]
        assert numbers == list(range(1, expected[(essay.trainee_id, essay.topic_id)] + 1))
        assert essay.current_version_id == max(essay.versions, key=lambda v: v.number).id
        for version in essay.versions:
            assert file_path(data_dir, version.sha256).exists()
    assert db.session.query(IndexOutbox).count() == sum(expected.values())


@pytest.fixture
def crowd(make_unit, make_user, make_course, enroll):
    unit = make_unit()
    course = make_course()
    trainees = [make_user(Role.trainee, unit=unit, full_name=f"Học viên {i}") for i in range(THREADS // 2)]
    for trainee in trainees:
        enroll(trainee, course)
    return course, trainees


@pytest.mark.slow
def test_racing_uploads_through_the_api(app, api_token, crowd):
    course, trainees = crowd
    shared = trainees[0]
    tokens = {t.id: api_token(t) for t in trainees}
    topic_ids = [t.id for t in course.topics]
    db.session.commit()

    def upload(i: int) -> None:
        # Half the threads each hand in for their own trainee (on different topics); the other
        # half all race on the same trainee and topic.
        trainee = trainees[i] if i < THREADS // 2 else shared
        client = app.test_client()
        for k in range(UPLOADS_PER_THREAD):
            topic_id = topic_ids[k % len(topic_ids)] if i < THREADS // 2 else topic_ids[0]
            body = f"{LONG_TEXT}\nLuồng {i}, lần {k}.".encode()
            response = client.put(f"/api/v1/courses/{course.id}/topics/{topic_id}/essay",
                                  headers=tokens[trainee.id], content_type="multipart/form-data",
                                  data={"file": (io.BytesIO(body), f"bai-{i}-{k}.txt")})
            assert response.status_code == 200, response.get_data(as_text=True)

    assert run_threads(upload, THREADS) == []
    expected: Counter = Counter()
    for i in range(THREADS):
        for k in range(UPLOADS_PER_THREAD):
            trainee = trainees[i] if i < THREADS // 2 else shared
            topic_id = topic_ids[k % len(topic_ids)] if i < THREADS // 2 else topic_ids[0]
            expected[(trainee.id, topic_id)] += 1
    assert_every_version_is_there(expected)


@pytest.mark.slow
def test_racing_operations_in_separate_app_contexts(app, crowd):
    course, trainees = crowd
    topic = course.topics[1]
    trainee_ids = [t.id for t in trainees]
    db.session.commit()

    def hand_in(i: int) -> None:
        for k in range(UPLOADS_PER_THREAD):
            with app.app_context():
                from lms.models import Topic, User

                trainee = db.session.get(User, trainee_ids[i % len(trainee_ids)])
                submit_essay(trainee, db.session.get(Topic, topic.id), data=None, filename=None,
                             text=f"{LONG_TEXT} Luồng {i}, lần {k}.", uploaded_by=trainee)
                db.session.commit()

    assert run_threads(hand_in, THREADS) == []
    per_trainee = THREADS // len(trainee_ids) * UPLOADS_PER_THREAD
    assert_every_version_is_there(Counter({(tid, topic.id): per_trainee for tid in trainee_ids}))
    assert db.session.query(EssayVersion).count() == THREADS * UPLOADS_PER_THREAD
