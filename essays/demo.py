"""Demo step: hand in sample essays (essays/demo/*.txt) for most demo trainees, a few late, one replaced."""
from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

from sqlalchemy import select

from essays.models import Essay
from essays.operations import SubmissionError, grant_extension, submit_essay
from lms.db import db, utcnow
from lms.models import Course, Role, User

logger = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def demo_texts() -> dict[int, list[tuple[str, str]]]:
    """Sample essays by topic position: files named `<topic>-<n>-<slug>.txt`, as (name, text)."""
    texts: dict[int, list[tuple[str, str]]] = {}
    for path in sorted(DEMO_DIR.glob("*.txt")):
        position = int(path.name.split("-", 1)[0])
        texts.setdefault(position, []).append((path.stem, path.read_text(encoding="utf-8")))
    return texts


def _as_docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in text.split("\n"):
        if paragraph.strip():
            document.add_paragraph(paragraph.strip())
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def hand_in_demo_essays(course: Course, people: dict[str, User]) -> list[tuple[str, str, str]]:
    """Spread the sample essays over the demo trainees; some miss topics, some are late, one is replaced."""
    texts = demo_texts()
    trainees = sorted((u for u in people.values() if u.role == Role.trainee), key=lambda u: u.username)
    if not texts or not trainees:
        return []
    already = set(db.session.execute(select(Essay.trainee_id, Essay.topic_id).where(Essay.course_id == course.id)))
    opened = dt.datetime.combine(course.starts_on, dt.time(8, 0), course.essay_due_at.tzinfo)
    now = utcnow()
    handed = 0
    for i, trainee in enumerate(trainees):
        if i % 7 == 3:  # a few trainees hand in nothing at all
            continue
        for topic in course.topics:
            if (trainee.id, topic.id) in already or (i + topic.position) % 5 == 0:
                continue
            pool = texts.get(topic.position) or []
            if not pool:
                continue
            name, text = pool[(i + topic.position) % len(pool)]
            late = i % 9 == 5
            # On-time essays arrive between the class's start and now; the late ones after the due time.
            at = (course.essay_due_at + dt.timedelta(hours=3 + i % 5)) if late else \
                min(now, opened.astimezone(dt.timezone.utc) + dt.timedelta(hours=2 + 3 * i + topic.position))
            officer = people.get(f"canbo.{trainee.unit.code.lower()}") if trainee.unit else None
            by = officer if (i == 1 and officer is not None) else trainee
            as_txt = (i + topic.position) % 4 == 0
            data = text.encode("utf-8") if as_txt else _as_docx(text)
            filename = f"Bài thu hoạch - {trainee.full_name} - CĐ{topic.position}.{'txt' if as_txt else 'docx'}"
            try:
                submit_essay(trainee, topic, data=data, filename=filename, text=None, uploaded_by=by, now=at)
                handed += 1
                if i == 2 and topic.position == 1:  # one trainee corrects their essay later
                    fixed = text.replace("\n", "\n\n", 1) + "\n\n(Bản đã chỉnh sửa, bổ sung phần kiến nghị.)"
                    submit_essay(trainee, topic, data=_as_docx(fixed), filename=filename, text=None,
                                 uploaded_by=trainee, now=at + dt.timedelta(hours=5))
            except SubmissionError as exc:
                logger.warning("demo essay for %s not handed in: %s", trainee.username, exc.message)
    reviewer = people.get("bantochuc")
    late_trainee = trainees[3] if len(trainees) > 3 else None
    if reviewer is not None and late_trainee is not None and course.topics:
        try:
            grant_extension(reviewer, course, trainee=late_trainee, topic=None,
                            until_at=course.cutoff_at + dt.timedelta(days=3),
                            reason="Học viên đi công tác đột xuất theo quyết định của Thành ủy.")
        except Exception as exc:  # noqa: BLE001 - an extension is a nicety of the demo
            logger.warning("demo extension not granted: %s", exc)
    logger.info("demo: %s essays handed in", handed)
    return []
