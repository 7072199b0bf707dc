"""A ward's compilation: its suggested passages by class topic, the ones it accepted, and sending them.

The ward officer works on their own unit's essays only (`can_compile_unit`); what they accept becomes
an ordinary tag marked `by_ward`, without a theme ("lĩnh vực"): the Board adds themes later. Sending
freezes the report files (stored by SHA-256, never rewritten) and the passage list as a new version.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import pandas as pd
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from essays.models import Essay, EssayVersion
from essays.storage import read_bytes, store_bytes
from lms.db import db, utcnow
from lms.models import Course, Topic, Unit, User
from lms.security import audit
from lms.text import fold
from lms.transaction import write_after_reads
from review.report.data import build_report_data, distinct_passages, topic_label
from review.report.docx import report_docx
from review.report.prose import report_prose
from review.report.xlsx import report_xlsx
from review.tagging.grouping import DEFAULT_THRESHOLD, similar_clusters
from review.tagging.models import Suggestion, SuggestionScan, Tag
from review.tagging.operations import TaggingError, delete_tag, tag_passage
from review.tagging.suggestions import suggestions_for
from review.wards.models import WardReport, WardReportPassage
from review.wards.queries import latest_sent, sent_by_unit, sent_history  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)
# Near-duplicate suggestions of one ward (same class topic) are offered together from this share of
# syllables in common (the Board's grouping threshold).
GROUP_THRESHOLD = DEFAULT_THRESHOLD


# --- permissions -----------------------------------------------------------------------------------

def can_compile_unit(user: User, unit_id: int | None) -> bool:
    """The unit's own officer works on its compilation and sends it; an admin may do it for them."""
    return user.is_authenticated and user.can_manage_unit(unit_id)


def can_read_sent(user: User, unit_id: int | None) -> bool:
    """What a unit sent is read by its officer, the Board and admins."""
    return user.is_authenticated and user.can_see_unit(unit_id)


# --- the ward's queue ------------------------------------------------------------------------------

@dataclass
class QueueItem:
    """One open suggestion of the ward, with what a reader needs to decide on it."""

    suggestion_id: int
    essay_id: int
    version: int
    start: int
    end: int
    kind: str
    text: str
    before: str
    trainee: str
    line: str  # the whole line the passage sits in, for editing the span by words
    line_start: int


@dataclass
class TopicQueue:
    """The open suggestions of one class topic, near-duplicates together (a group has 2+ items)."""

    topic_id: int
    label: str
    groups: list[list[QueueItem]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(g) for g in self.groups)


def _current_versions(course: Course, unit: Unit) -> list[EssayVersion]:
    return list(db.session.scalars(
        select(EssayVersion).join(Essay, Essay.current_version_id == EssayVersion.id)
        .where(Essay.course_id == course.id, Essay.unit_id == unit.id).order_by(Essay.id)))


def scan_unit(course: Course, unit: Unit) -> int:
    """Detect the suggestions of the unit's current versions not scanned yet (flushes); returns how many."""
    versions = _current_versions(course, unit)
    scanned = set(db.session.scalars(select(SuggestionScan.version_id).where(
        SuggestionScan.version_id.in_([v.id for v in versions])))) if versions else set()
    todo = [v for v in versions if v.id not in scanned]
    for version in todo:
        suggestions_for(version)
    return len(todo)


def _before(text: str, start: int, limit: int = 160) -> str:
    """The line before the passage (a heading, the sentence that announces a list), shortened."""
    line_start = text.rfind("\n", 0, start)
    head = text[:max(line_start, 0)].rstrip("\n")
    previous = head[head.rfind("\n") + 1:].strip() if head else ""
    return previous if len(previous) <= limit else "…" + previous[-limit:]


def ward_queue(course: Course, unit: Unit) -> list[TopicQueue]:
    """Open suggestions of the unit's current essay versions, by class topic, near-duplicates grouped.

    A passage already tagged (same version, same span) is not offered again.
    """
    tagged = select(Tag.id).where(Tag.version_id == Suggestion.version_id, Tag.start_offset == Suggestion.start_offset,
                                  Tag.end_offset == Suggestion.end_offset)
    rows = db.session.execute(
        select(Suggestion, Essay.id, Essay.topic_id, EssayVersion.number, EssayVersion.text)
        .join(EssayVersion, EssayVersion.id == Suggestion.version_id)
        .join(Essay, Essay.current_version_id == EssayVersion.id)
        .where(Essay.course_id == course.id, Essay.unit_id == unit.id, Suggestion.status == "open",
               ~tagged.exists())
        .order_by(Essay.topic_id, Essay.id, Suggestion.start_offset)).all()
    trainees = _trainee_names([essay_id for _s, essay_id, *_rest in rows])
    by_topic: dict[int, list[QueueItem]] = {}
    for suggestion, essay_id, topic_id, number, text in rows:
        start, end = suggestion.start_offset, suggestion.end_offset
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        by_topic.setdefault(topic_id, []).append(QueueItem(
            suggestion.id, essay_id, number, start, end, suggestion.kind, text[start:end], _before(text, start),
            trainees.get(essay_id, ""), text[line_start:line_end], line_start))
    out = []
    for topic in course.topics:
        items = by_topic.get(topic.id, [])
        if items:
            out.append(TopicQueue(topic.id, topic_label(topic.position, topic.title), _grouped(items)))
    return out


def _trainee_names(essay_ids: list[int]) -> dict[int, str]:
    if not essay_ids:
        return {}
    return {essay_id: name for essay_id, name in db.session.execute(
        select(Essay.id, User.full_name).join(User, User.id == Essay.trainee_id).where(Essay.id.in_(set(essay_ids))))}


def _grouped(items: list[QueueItem]) -> list[list[QueueItem]]:
    """Items in essay order; near-duplicates (accents ignored) moved next to their first member."""
    clusters = similar_clusters([fold(i.text) for i in items], GROUP_THRESHOLD)
    member_of = {index: min(members) for members in clusters for index in members}
    groups: dict[int, list[QueueItem]] = {}
    for index, item in enumerate(items):
        groups.setdefault(member_of.get(index, index), []).append(item)
    return list(groups.values())


def accepted_tags(course: Course, unit: Unit) -> list[Tag]:
    """The unit's tagged passages (the ward's and the Board's), by topic then essay order."""
    return list(db.session.scalars(
        select(Tag).join(Essay, Essay.id == Tag.essay_id).join(Topic, Topic.id == Essay.topic_id)
        .where(Tag.course_id == course.id, Tag.unit_id == unit.id)
        .order_by(Topic.position, Tag.essay_id, Tag.start_offset, Tag.id)))


# --- deciding on a suggestion ----------------------------------------------------------------------

def suggestion_in_unit(suggestion_id: int, course: Course, unit: Unit) -> tuple[Suggestion, Essay] | None:
    """The suggestion and its essay when it belongs to this unit's essays of this course."""
    row = db.session.execute(
        select(Suggestion, Essay).join(EssayVersion, EssayVersion.id == Suggestion.version_id)
        .join(Essay, Essay.id == EssayVersion.essay_id)
        .where(Suggestion.id == suggestion_id, Essay.course_id == course.id, Essay.unit_id == unit.id)).first()
    return (row[0], row[1]) if row else None


def accept(suggestion: Suggestion, essay: Essay, by: User, *, start: object = None, end: object = None,
           kind: object = None, duplicate_of: int | None = None) -> Tag:
    """Make the suggestion a tag of the ward (span and kind as edited), without a theme."""
    if suggestion.status != "open":
        raise TaggingError("Gợi ý này đã được xử lý.")
    version = db.session.get(EssayVersion, suggestion.version_id)
    tag = tag_passage(essay, start=suggestion.start_offset if start is None else start,
                      end=suggestion.end_offset if end is None else end, kind=kind or suggestion.kind,
                      theme_ids=[], by=by, version_number=version.number if version else None, by_ward=True)
    if duplicate_of is not None:
        tag.duplicate_of_id = duplicate_of
    suggestion.status, suggestion.tag_id = "accepted", tag.id
    suggestion.decided_by_id, suggestion.decided_at = by.id, utcnow()
    db.session.flush()
    return tag


def dismiss(suggestion: Suggestion, by: User) -> None:
    """Leave the suggested passage out of the ward's compilation."""
    if suggestion.status != "open":
        raise TaggingError("Gợi ý này đã được xử lý.")
    suggestion.status, suggestion.decided_by_id, suggestion.decided_at = "dismissed", by.id, utcnow()
    db.session.flush()


def undo(suggestion: Suggestion) -> None:
    """Back to open: a dismissal forgotten, or the ward's tag made from it removed."""
    if suggestion.status == "accepted" and suggestion.tag_id is not None:
        tag = db.session.get(Tag, suggestion.tag_id)
        if tag is not None and not tag.by_ward:
            raise TaggingError("Đoạn này do Ban Tổ chức gắn thẻ, đơn vị không bỏ được.")
        if tag is not None:
            delete_tag(tag)  # reopens the suggestion
            return
    suggestion.status, suggestion.tag_id, suggestion.decided_by_id, suggestion.decided_at = "open", None, None, None
    db.session.flush()


# --- sending ----------------------------------------------------------------------------------------

@dataclass
class PreparedSending:
    """The files and passages of a sending, built before the write transaction starts."""

    course_id: int
    unit_id: int
    as_of: dt.datetime
    docx: bytes
    xlsx: bytes
    cite_names: bool
    passages: pd.DataFrame


def prepare_sending(course: Course, unit: Unit) -> PreparedSending:
    """Build the unit's report as of now (.docx, .xlsx) and its distinct passages; reads only."""
    data = build_report_data(course, None, unit=unit)
    prose = report_prose(course.id, unit)
    return PreparedSending(course.id, unit.id, data.as_of, report_docx(data, prose),
                           report_xlsx(data, cite_names=prose.cite_names), prose.cite_names,
                           distinct_passages(data.themes.passages))


def record_sending(prepared: PreparedSending, by: User) -> WardReport:
    """Store the files by SHA-256 and write the next version with its passages (flushes)."""
    data_dir = current_app.config["DATA_DIR"]
    docx_file, xlsx_file = store_bytes(data_dir, prepared.docx), store_bytes(data_dir, prepared.xlsx)
    number = (db.session.scalar(select(func.max(WardReport.version)).where(
        WardReport.course_id == prepared.course_id, WardReport.unit_id == prepared.unit_id)) or 0) + 1
    passages = prepared.passages
    report = WardReport(course_id=prepared.course_id, unit_id=prepared.unit_id, version=number,
                        sent_at=prepared.as_of, sent_by_id=by.id, docx_sha256=docx_file.sha256,
                        xlsx_sha256=xlsx_file.sha256, cite_names=prepared.cite_names, passage_count=len(passages))
    report.passages = [_frozen(i, row) for i, row in enumerate(passages.itertuples(index=False), start=1)]
    db.session.add(report)
    db.session.flush()
    logger.info("unit %s sent version %s of course %s (%s passages) by %s", prepared.unit_id, number,
                prepared.course_id, len(passages), by.username)
    return report


class SendingConflict(TaggingError):
    """Another sending of the same unit took the version number first."""

    status = 409


def send_and_commit(course: Course, unit: Unit, by: User) -> WardReport:
    """Send the unit's report: build it in the read transaction, then record it in one write and commit.

    Like the upload, a sequence that ends its own transactions: the files are built before the write
    lock is asked for. The page and the API both call it.
    """
    prepared = prepare_sending(course, unit)
    try:
        with write_after_reads():
            report = record_sending(prepared, by)
            audit("ward_report.sent", target=f"course:{course.id} unit:{unit.code}",
                  detail=f"version={report.version} passages={report.passage_count}", user=by)
    except IntegrityError:
        db.session.rollback()
        raise SendingConflict("Đơn vị vừa gửi một bản khác cùng lúc; vui lòng gửi lại.") from None
    return report


def _frozen(position: int, row) -> WardReportPassage:
    return WardReportPassage(position=position, essay_id=int(row.essay_id), version_number=int(row.version_number),
                             start_offset=int(row.start), end_offset=int(row.end), text=row.text, kind=row.kind,
                             topic_id=int(row.topic_id), topic_position=int(row.topic_position),
                             topic_title=row.topic_title, trainee=row.trainee, tag_id=int(row.tag_id))


def sent_file(report: WardReport, fmt: str) -> tuple[bytes, str]:
    """The bytes of a sent file and its download name."""
    sha = report.docx_sha256 if fmt == "docx" else report.xlsx_sha256
    stamp = f"{report.sent_at:%Y%m%d}"
    return read_bytes(current_app.config["DATA_DIR"], sha), f"bao-cao-{report.unit.code}-lan-{report.version}-{stamp}.{fmt}"
