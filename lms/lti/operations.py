"""LTI operations: register platforms, find or link accounts, link courses and placements, sync the
roster from Names and Roles, compute and return "submitted" scores. Writes flush and log; callers commit.

Matching rule (one person, one account, whether they came from Excel or from the LMS):
1. an existing link (issuer, subject) decides;
2. otherwise an account in the platform's unit with the same username, else the same e-mail, is
   linked once (recorded with how it was found and in the audit log) — only when exactly one
   account fits and it is not already linked to another person of the same LMS;
   A learner may only be linked to a trainee account and a teacher only to a unit officer's;
3. otherwise a learner gets a new trainee account in the platform's unit; an instructor gets none
   (staff accounts are made by the admin, never by an LMS).
Never by e-mail alone: without a unit on the platform nothing is matched, and an e-mail shared by
two accounts in the unit matches nobody.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Iterable

from flask import current_app, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from lms.db import db, read_only, rows_changed, utcnow
from lms.hooks import LTI_INSTRUCTOR_TARGET, LTI_LEARNER_TARGET, LTI_SUBMITTED, USER_HAS_WORK
from lms.lti.adapter import Launch, Member, PlatformServices, ServiceError
from lms.lti.models import LtiContext, LtiNonce, LtiPlatform, LtiResourceLink, LtiScore, LtiUserLink
from lms.models import Course, Enrollment, Role, Topic, Unit, User
from lms.params import parse_id
from lms.security import audit
from lms.text import fold

logger = logging.getLogger(__name__)

# A password hash that never verifies: people created by an LMS log in through it.
NO_PASSWORD = "!lti"
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_URL = re.compile(r"^https?://[^\s]+$")


class LtiError(Exception):
    """A refused LTI operation, with a Vietnamese message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Platforms

def register_platform(*, name: str, issuer: str, client_id: str, deployment_ids: Iterable[str], key_set_url: str,
                      auth_login_url: str, auth_token_url: str, unit_code: str | None = None) -> LtiPlatform:
    """Add a platform the admin trusts; raises LtiError with what is wrong."""
    # The issuer is compared byte for byte with the id_token's `iss`: kept exactly as typed.
    issuer, client_id = issuer.strip(), client_id.strip()
    deployments = [d.strip() for d in deployment_ids if d.strip()]
    if not issuer or not client_id or not deployments:
        raise LtiError("Cần nhập issuer, client id và ít nhất một deployment id.")
    for label, url in (("Key set URL", key_set_url), ("Auth login URL", auth_login_url),
                       ("Access token URL", auth_token_url)):
        if not _URL.match(url.strip()):
            raise LtiError(f"{label} phải là địa chỉ http(s) đầy đủ.")
    if db.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == issuer,
                                                      LtiPlatform.client_id == client_id)):
        raise LtiError(f"Nền tảng {issuer} với client id {client_id} đã được đăng ký.")
    unit_id = None
    if unit_code:
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == unit_code.strip()))
        if unit_id is None:
            raise LtiError(f"Không có đơn vị mã {unit_code}.")
    platform = LtiPlatform(name=name.strip() or issuer, issuer=issuer, client_id=client_id,
                           deployment_ids=" ".join(deployments), key_set_url=key_set_url.strip(),
                           auth_login_url=auth_login_url.strip(), auth_token_url=auth_token_url.strip(),
                           unit_id=unit_id)
    db.session.add(platform)
    db.session.flush()
    logger.info("lti: platform registered id=%s issuer=%s client_id=%s", platform.id, issuer, client_id)
    return platform


def platforms() -> list[LtiPlatform]:
    """Every registered platform, oldest first."""
    return list(db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


# ---------------------------------------------------------------------------------------------
# One-time nonce

def spend_nonce(issuer: str, nonce: str) -> bool:
    """Record the launch's nonce; False when it was already used (the insert fails on the unique key)."""
    try:
        # The savepoint rolls back only this insert when the nonce is already there.
        with db.session.begin_nested():
            db.session.add(LtiNonce(issuer=issuer, nonce=nonce))
    except IntegrityError:
        return False
    return True


def forget_old_nonces(older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Drop used nonces past any id_token's lifetime (a nonce is also refused once its signature ages)."""
    result = db.session.execute(delete(LtiNonce).where(LtiNonce.used_at < utcnow() - older_than))
    return rows_changed(result)


# ---------------------------------------------------------------------------------------------
# Accounts

def _new_username(name: str, unit: Unit) -> str:
    base = (_NOT_ALNUM.sub("", fold(name))[:40] or "hocvien") + "." + unit.code.lower()
    taken = set(db.session.scalars(select(User.username).where(User.username.like(f"{base}%"))))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _match_existing(platform: LtiPlatform, member: Member) -> tuple[User | None, str]:
    """The one account of the platform's unit with this username, else e-mail, else (when the setting
    LTI_MATCH_SOURCEDID is on) the username given as lis_person_sourcedid; LtiError if ambiguous."""
    if platform.unit_id is None:
        return None, ""
    in_unit = select(User).where(User.unit_id == platform.unit_id)
    if member.username:
        user = db.session.scalar(in_unit.where(User.username == member.username.strip()))
        if user is not None:
            return user, "username"
    if member.email:
        users = db.session.scalars(in_unit.where(func.lower(User.email) == member.email.strip().lower())).unique().all()
        if len(users) > 1:
            raise LtiError(f"Có {len(users)} tài khoản cùng email {member.email} trong đơn vị; "
                           "quản trị viên cần liên kết thủ công.")
        if users:
            return users[0], "email"
    if member.sourcedid and current_app.config.get("LTI_MATCH_SOURCEDID"):
        user = db.session.scalar(in_unit.where(User.username == member.sourcedid.strip()))
        if user is not None:
            return user, "sourcedid"
    return None, ""


def has_work(user_id: int) -> bool:
    """Whether anything of the person's own (an essay) is kept: asked of the features; without an
    answer, assume so (an account is then never merged away)."""
    hooks = USER_HAS_WORK.providers()
    return not hooks or any(hook(user_id) for hook in hooks)


def _merge_into_named_account(platform: LtiPlatform, member: Member, link: LtiUserLink) -> User | None:
    """A roster sync that ran before the first launch could only match by e-mail, so a trainee
    imported from Excel without one got a second, LMS-made account. When the launch names the
    Excel account's username, move the link there, with the enrolments, and close the LMS-made
    account — only if that account has nothing of its own yet (never orphan an essay). Flushes."""
    if not member.username or link.matched_by != "created" or platform.unit_id is None or member.is_instructor:
        return None
    target = db.session.scalar(select(User).where(User.unit_id == platform.unit_id,
                                                  User.username == member.username.strip(),
                                                  User.role == Role.trainee))
    source = link.user
    if target is None or target.id == source.id or db.session.scalar(
            select(LtiUserLink.id).where(LtiUserLink.issuer == platform.issuer, LtiUserLink.user_id == target.id)):
        return None
    if has_work(source.id):
        logger.warning("lti: %s and %s look like one person, but %s has essays; the admin decides",
                       source.username, target.username, source.username)
        audit("lti.merge_needed", target=target.username, detail=f"lms_account={source.username} sub={member.subject}")
        return None
    _move_enrolments(source, target)
    link.user, link.matched_by = target, "merged"
    source.is_active_account = False
    db.session.flush()
    audit("lti.accounts_merged", target=target.username,
          detail=f"lms_account={source.username} closed; issuer={platform.issuer} sub={member.subject}", user=target)
    logger.info("lti: merged LMS-made account %s into %s", source.username, target.username)
    return target


def _move_enrolments(source: User, target: User) -> None:
    taken = set(db.session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == target.id)))
    for enrolment in db.session.scalars(select(Enrollment).where(Enrollment.user_id == source.id)).all():
        if enrolment.course_id in taken:
            db.session.delete(enrolment)
        else:
            enrolment.user_id = target.id


def move_link(link_id: int, username: str) -> LtiUserLink:
    """The admin moves an LMS person's link to another account (same role kind); LtiError if not allowed."""
    link = db.session.get(LtiUserLink, link_id)
    if link is None:
        raise LtiError("Không có liên kết này.")
    target = db.session.scalar(select(User).where(User.username == username.strip()))
    if target is None:
        raise LtiError(f"Không có tài khoản “{username.strip()}”.")
    if target.role != link.user.role:
        raise LtiError(f"Tài khoản {target.username} là {target.role.label}, khác loại với tài khoản đang liên kết.")
    if db.session.scalar(select(LtiUserLink.id).where(LtiUserLink.issuer == link.issuer,
                                                      LtiUserLink.user_id == target.id)):
        raise LtiError(f"Tài khoản {target.username} đã được liên kết với một người khác trên LMS này.")
    before = link.user.username
    link.user, link.matched_by = target, "admin"
    db.session.flush()
    audit("lti.link_moved", target=target.username, detail=f"from={before} issuer={link.issuer} sub={link.subject}")
    return link


def account_for(platform: LtiPlatform, member: Member, *, create: bool) -> tuple[User | None, str]:
    """The account of an LMS person, linking or creating it; (user, how) with how in
    "linked" (already), "username", "email", "created", or (None, "") when not allowed to create."""
    link = db.session.scalar(select(LtiUserLink).where(LtiUserLink.issuer == platform.issuer,
                                                       LtiUserLink.subject == member.subject))
    if link is not None:
        merged = _merge_into_named_account(platform, member, link)
        return (merged, "merged") if merged is not None else (link.user, "linked")
    user, how = _match_existing(platform, member)
    if user is not None:
        # A learner is only ever a trainee account, a teacher only a unit officer: an LMS never
        # opens an admin's or a Board reviewer's account, nor staff rights to a learner.
        allowed = Role.officer if member.is_instructor else Role.trainee
        if user.role != allowed:
            raise LtiError(f"Tài khoản {user.username} là {user.role.label}, không thể liên kết với "
                           f"{'giảng viên' if member.is_instructor else 'học viên'} từ LMS. "
                           "Vui lòng báo quản trị viên.")
        other = db.session.scalar(select(LtiUserLink.subject).where(LtiUserLink.issuer == platform.issuer,
                                                                    LtiUserLink.user_id == user.id))
        if other is not None:
            raise LtiError(f"Tài khoản {user.username} đã được liên kết với một người khác trên LMS này.")
    elif create and not member.is_instructor:
        unit = db.session.get(Unit, platform.unit_id) if platform.unit_id is not None else None
        if unit is None:
            raise LtiError("Nền tảng LMS này chưa được gán đơn vị nên không thể tạo tài khoản học viên. "
                           "Vui lòng báo quản trị viên.")
        user = User(username=_new_username(member.name, unit), role=Role.trainee,
                    full_name=member.name.strip() or member.subject, unit_id=unit.id,
                    email=(member.email or "").strip().lower() or None, password_hash=NO_PASSWORD)
        db.session.add(user)
        db.session.flush()
        how = "created"
    else:
        return None, ""
    db.session.add(LtiUserLink(issuer=platform.issuer, subject=member.subject, user_id=user.id,
                               platform_id=platform.id, matched_by=how))
    db.session.flush()
    audit("lti.user_linked", target=user.username, detail=f"issuer={platform.issuer} sub={member.subject} by={how}",
          user=user)
    logger.info("lti: account %s linked to issuer=%s sub=%s by %s", user.username, platform.issuer,
                member.subject, how)
    return user, how


def ensure_enrolled(user: User, course: Course, platform: LtiPlatform) -> bool:
    """Enrol a trainee in the course at their unit (or the platform's); True when newly enrolled."""
    if db.session.scalar(select(Enrollment.id).where(Enrollment.course_id == course.id,
                                                     Enrollment.user_id == user.id)):
        return False
    unit_id = user.unit_id or platform.unit_id
    if unit_id is None:
        raise LtiError("Không xác định được đơn vị của học viên để ghi danh.")
    db.session.add(Enrollment(course_id=course.id, user_id=user.id, unit_id=unit_id))
    db.session.flush()
    return True


# ---------------------------------------------------------------------------------------------
# Contexts and placements

def link_context(launch: Launch, course: Course) -> LtiContext:
    """Remember that the launch's LMS course is this thuhoach course, with its service URLs."""
    context_id = str(launch.context.get("id") or "")
    if not context_id:
        raise LtiError("LMS không gửi mã khoá học (context); không thể liên kết.")
    context = db.session.scalar(select(LtiContext).where(LtiContext.platform_id == launch.platform.id,
                                                         LtiContext.context_id == context_id))
    if context is None:
        context = LtiContext(platform_id=launch.platform.id, context_id=context_id, course_id=course.id,
                             deployment_id=launch.deployment_id)
        db.session.add(context)
    elif context.course_id != course.id:
        raise LtiError("Khoá học trên LMS này đã được liên kết với một lớp khác của thuhoach.")
    context.title = (launch.context.get("title") or context.title or "")[:500]
    context.memberships_url = launch.memberships_url or context.memberships_url
    context.lineitems_url = launch.ags.get("lineitems") or context.lineitems_url
    if launch.ags.get("scope"):
        context.ags_scopes = " ".join(launch.ags["scope"])
    db.session.flush()
    return context


def record_resource_link(launch: Launch, context: LtiContext, topic: Topic) -> LtiResourceLink:
    """Remember a placement and its grade column (the launch names it once the platform made it)."""
    rlid = launch.resource_link_id
    if not rlid:
        raise LtiError("LMS không gửi mã hoạt động (resource link).")
    link = db.session.scalar(select(LtiResourceLink).where(LtiResourceLink.context_id == context.id,
                                                           LtiResourceLink.resource_link_id == rlid))
    if link is None:
        link = LtiResourceLink(context_id=context.id, resource_link_id=rlid, topic_id=topic.id)
        db.session.add(link)
    link.topic_id = topic.id
    link.lineitem_url = launch.ags.get("lineitem") or link.lineitem_url
    db.session.flush()
    return link


def topic_of_launch(launch: Launch) -> Topic:
    """The topic a placement was made for (custom parameter set at deep linking)."""
    raw = launch.custom.get("topic_id", "")
    topic_id = parse_id(raw)
    topic = db.session.get(Topic, topic_id) if topic_id is not None else None
    if topic is None:
        raise LtiError("Hoạt động này chưa được gắn với chủ đề bài thu hoạch nào. Giảng viên cần thêm lại "
                       "hoạt động bằng “Chọn nội dung” (deep linking).")
    return topic


# ---------------------------------------------------------------------------------------------
# Where people land: asked of the features through hooks, or an endpoint named in the settings

def learner_target(user: User, topic: Topic) -> str:
    """The topic's submission page."""
    url = LTI_LEARNER_TARGET.first(user, topic)
    if url:
        return url
    try:
        return url_for(current_app.config["LTI_LEARNER_ENDPOINT"], course_id=topic.course_id, topic_id=topic.id)
    except BuildError:
        return url_for("pages.index")


def instructor_target(user: User, course: Course) -> str:
    """The completeness page of the course."""
    url = LTI_INSTRUCTOR_TARGET.first(user, course)
    if url:
        return url
    try:
        return url_for(current_app.config["LTI_INSTRUCTOR_ENDPOINT"])
    except BuildError:
        return url_for("pages.index")


# ---------------------------------------------------------------------------------------------
# Roster from Names and Roles

@dataclass
class SyncResult:
    """What a roster sync did."""

    members: int = 0
    created: int = 0
    linked: int = 0
    enrolled: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One Vietnamese sentence for pages, the CLI and the audit log."""
        text = (f"Đồng bộ {self.members} thành viên: tạo mới {self.created} tài khoản, liên kết {self.linked} "
                f"tài khoản có sẵn, ghi danh mới {self.enrolled}.")
        if self.skipped:
            text += f" Bỏ qua {len(self.skipped)}: " + "; ".join(self.skipped[:20])
        return text


def fetch_members(context: LtiContext) -> list[Member]:
    """Ask the LMS for the course's members. Call it outside a write transaction: with SQLite a
    slow LMS must not hold the write lock (the caller reads the context inside `read_only()`)."""
    if not context.memberships_url:
        raise LtiError("LMS chưa cung cấp dịch vụ danh sách thành viên (Names and Roles) cho khoá học này.")
    try:
        return list(PlatformServices(context.platform).members(context.memberships_url))
    except ServiceError as exc:
        logger.warning("lti: roster sync of context %s failed: %s", context.id, exc)
        raise LtiError("Không lấy được danh sách thành viên từ LMS. Vui lòng thử lại sau.") from exc


def sync_roster(context: LtiContext, members: list[Member]) -> SyncResult:
    """Fill the course's roster from the LMS course's members (learners get accounts and enrolments)."""
    result = SyncResult()
    for member in members:
        result.members += 1
        if not member.active:
            result.skipped.append(f"{member.name} (không còn hoạt động)")
            continue
        try:
            user, how = account_for(context.platform, member, create=True)
        except LtiError as exc:
            result.skipped.append(f"{member.name}: {exc.message}")
            continue
        if user is None:
            continue  # an instructor without a staff account: nothing to do
        result.created += how == "created"
        result.linked += how in ("username", "email", "sourcedid")
        if user.role == Role.trainee and ensure_enrolled(user, context.course, context.platform):
            result.enrolled += 1
    context.synced_at = utcnow()
    db.session.flush()
    logger.info("lti: roster sync context=%s members=%s created=%s linked=%s enrolled=%s skipped=%s",
                context.id, result.members, result.created, result.linked, result.enrolled, len(result.skipped))
    return result


def sync_from_platform(context: LtiContext) -> SyncResult:
    """Fetch the members with no write lock held (the LMS may be slow), then sync them in a fresh
    transaction. The caller audits and commits."""
    context_id = context.id
    with read_only():
        members = fetch_members(context)
    db.session.rollback()
    return sync_roster(db.session.get_one(LtiContext, context_id), members)


# ---------------------------------------------------------------------------------------------
# Scores: "submitted" per trainee and topic, through an outbox that is retried until the LMS accepts

# Back-off of a refused or failed score: 30 s, 1, 2, 4 … minutes, at most an hour apart.
RETRY_FIRST = dt.timedelta(seconds=30)
RETRY_MAX = dt.timedelta(hours=1)
_MS = dt.timedelta(milliseconds=1)


def submitted_user_ids(topic_id: int, user_ids: list[int]) -> set[int]:
    """Who has handed in an essay on the topic: asked of the essays feature (hook `lti_submitted`)."""
    for provider in LTI_SUBMITTED.providers():
        return set(provider(topic_id, user_ids))
    return set()


@dataclass
class PushResult:
    """What a score return did."""

    sent: int = 0
    failed: int = 0
    columns: int = 0
    waiting: int = 0

    def summary(self) -> str:
        """One Vietnamese sentence for pages, the CLI, jobs and the audit log."""
        text = f"Đã gửi {self.sent} điểm vào {self.columns} cột điểm; lỗi {self.failed}."
        if self.waiting:
            text += f" {self.waiting} điểm chưa gửi được sẽ được tự động gửi lại."
        return text


def score_state(submitted: bool, cutoff_passed: bool) -> tuple[float | None, str, str]:
    """(scoreGiven, activityProgress, gradingProgress) of AGS 2.0 for one person and topic.

    Not handed in before the cut-off is "not ready", not a final zero in the gradebook."""
    if submitted:
        return 1.0, "Submitted", "FullyGraded"
    if cutoff_passed:
        return 0.0, "Initialized", "FullyGraded"
    return None, "Initialized", "NotReady"


def ags_timestamp(at: dt.datetime) -> str:
    """ISO 8601 with milliseconds and an extended offset, as AGS 2.0 asks."""
    return at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def column_label(topic: Topic) -> str:
    """The grade column's name on the LMS, the same whether deep linking or a score made it."""
    return f"Bài thu hoạch: {topic.title}"[:250]


def _ensure_column(context: LtiContext, link: LtiResourceLink, services: PlatformServices | None
                   ) -> str | None:
    """The grade column of a placement, created on the LMS when it has none yet (flushed)."""
    if link.lineitem_url or not context.lineitems_url or services is None:
        return link.lineitem_url
    link.lineitem_url = services.ensure_lineitem(
        context.lineitems_url, (context.ags_scopes or "").split(), resource_id=f"thuhoach-topic-{link.topic_id}",
        label=column_label(link.topic), resource_link_id=link.resource_link_id)
    return link.lineitem_url


def record_scores(context: LtiContext, *, only_user_ids: set[int] | None = None, resend: bool = False) -> int:
    """Decide every linked trainee's score per placed topic; rows whose state changed get a new,
    strictly later timestamp and are queued. Flushes; returns how many rows were queued."""
    clock = utcnow()
    now = clock.replace(microsecond=clock.microsecond // 1000 * 1000)  # AGS timestamps carry milliseconds
    links = db.session.scalars(select(LtiResourceLink).where(LtiResourceLink.context_id == context.id)).all()
    people = dict(db.session.execute(
        select(LtiUserLink.user_id, LtiUserLink.subject)
        .join(Enrollment, (Enrollment.user_id == LtiUserLink.user_id) & (Enrollment.course_id == context.course_id))
        .where(LtiUserLink.issuer == context.platform.issuer)).tuples().all())
    if only_user_ids is not None:
        people = {u: s for u, s in people.items() if u in only_user_ids}
    if not links or not people:
        return 0
    cutoff_passed = context.course.cutoff_at <= now
    existing = {(r.resource_link_id, r.user_id): r for r in db.session.scalars(
        select(LtiScore).where(LtiScore.resource_link_id.in_([link.id for link in links]),
                               LtiScore.user_id.in_(list(people))))}
    queued = 0
    for link in links:
        done = submitted_user_ids(link.topic_id, list(people))
        for user_id in people:
            state = score_state(user_id in done, cutoff_passed)
            row = existing.get((link.id, user_id))
            if row is None:
                row = LtiScore(resource_link_id=link.id, user_id=user_id, attempts=0, changed_at=now)
                db.session.add(row)
            elif (row.score_given, row.activity_progress, row.grading_progress) == state and not resend:
                continue
            else:
                # Never the same (line item, user, timestamp) twice: a later state gets a later time.
                row.changed_at = max(now, row.changed_at + _MS)
            row.score_given, row.activity_progress, row.grading_progress = state
            row.next_attempt_at, row.attempts, row.last_error = now, 0, None
            queued += 1
    db.session.flush()
    return queued


@dataclass(frozen=True)
class _Pending:
    score_id: int
    link_id: int
    context_id: int
    subject: str
    state: tuple[float | None, str, str]
    changed_at: dt.datetime
    attempts: int


def send_scores(*, context_id: int | None = None, now: dt.datetime | None = None) -> PushResult:
    """Send the queued scores that are due (of one LMS course, or all), then record what the LMS said.

    Everything is read first and the read transaction ended, so no database lock is held while the
    LMS answers. A failure waits with exponential back-off; any 2xx answer is success. Flushes."""
    now = now or utcnow()
    with read_only():
        due = _due_scores(context_id, now)
    db.session.rollback()  # nothing was written: this only ends the read transaction
    outcome, new_columns = _put_scores(due)
    for link_id, lineitem in new_columns.items():
        db.session.get_one(LtiResourceLink, link_id).lineitem_url = lineitem
    result = _record_outcomes(due.pending, outcome, now)
    result.columns = len({p.link_id for p in due.pending if due.links[p.link_id].lineitem_url})
    db.session.flush()
    return result


@dataclass
class _Due:
    """The scores due and what sending them needs, detached from the session (the LMS is slow)."""

    pending: list[_Pending]
    contexts: dict[int, LtiContext]
    links: dict[int, LtiResourceLink]
    services: dict[int, PlatformServices]


def _due_scores(context_id: int | None, now: dt.datetime) -> _Due:
    """Read the pending scores due by now, with their LMS courses, links and platform services."""
    query = (select(LtiScore, LtiUserLink.subject, LtiResourceLink.context_id)
             .join(LtiResourceLink, LtiResourceLink.id == LtiScore.resource_link_id)
             .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
             .join(LtiPlatform, LtiPlatform.id == LtiContext.platform_id)
             .join(LtiUserLink, (LtiUserLink.user_id == LtiScore.user_id)
                   & (LtiUserLink.issuer == LtiPlatform.issuer))
             .where(LtiScore.next_attempt_at <= now))
    if context_id is not None:
        query = query.where(LtiResourceLink.context_id == context_id)
    pending = [_Pending(row.id, row.resource_link_id, ctx, subject,
                        (row.score_given, row.activity_progress, row.grading_progress),
                        row.changed_at, row.attempts)
               for row, subject, ctx in db.session.execute(query) if row.is_pending]
    contexts = {c.id: c for c in db.session.scalars(
        select(LtiContext).where(LtiContext.id.in_({p.context_id for p in pending})))}
    links = {link.id: link for link in db.session.scalars(
        select(LtiResourceLink).where(LtiResourceLink.id.in_({p.link_id for p in pending})))}
    for link in links.values():
        _ = link.topic.title  # loaded now: used after the transaction ends
    services = {cid: PlatformServices(c.platform) for cid, c in contexts.items()}
    for obj in [*contexts.values(), *(c.platform for c in contexts.values()), *links.values()]:
        if obj in db.session:
            db.session.expunge(obj)
    return _Due(pending, contexts, links, services)


def _put_scores(due: _Due) -> tuple[dict[int, str | None], dict[int, str]]:
    """Send each score (creating its LMS column when missing): score id -> error or None, new columns."""
    outcome: dict[int, str | None] = {}
    new_columns: dict[int, str] = {}
    for item in due.pending:
        context, link = due.contexts[item.context_id], due.links[item.link_id]
        scopes = (context.ags_scopes or "").split()
        try:
            had = link.lineitem_url
            lineitem = _ensure_column(context, link, due.services[item.context_id])
            if lineitem and not had:
                new_columns[link.id] = lineitem
            if not lineitem or not scopes:
                raise ServiceError("LMS không cung cấp cột điểm (AGS) cho hoạt động này")
            due.services[item.context_id].put_score(lineitem, scopes, item.subject, *item.state,
                                                    timestamp=ags_timestamp(item.changed_at))
            outcome[item.score_id] = None
        except ServiceError as exc:
            outcome[item.score_id] = str(exc)[:500]
            logger.warning("lti: score %s (link %s, %s) not accepted: %s", item.score_id, item.link_id,
                           item.subject, exc)
    return outcome, new_columns


def _record_outcomes(pending: list[_Pending], outcome: dict[int, str | None], now: dt.datetime) -> PushResult:
    """Mark each score sent, or schedule its next attempt with back-off (unless it changed meanwhile)."""
    result = PushResult()
    for item in pending:
        row = db.session.get(LtiScore, item.score_id)
        if row is None or row.changed_at != item.changed_at:
            continue  # changed meanwhile: the newer state is queued already
        error = outcome[item.score_id]
        if error is None:
            row.sent_changed_at, row.next_attempt_at, row.attempts, row.last_error = row.changed_at, None, 0, None
            result.sent += 1
        else:
            row.attempts = item.attempts + 1
            row.next_attempt_at = now + min(RETRY_FIRST * 2 ** item.attempts, RETRY_MAX)
            row.last_error = error
            result.failed += 1
    return result


def waiting_scores(context_id: int | None = None) -> int:
    """Scores the LMS has not accepted yet that wait for a retry."""
    query = select(func.count(LtiScore.id)).where(LtiScore.last_error.is_not(None))
    if context_id is not None:
        query = query.join(LtiResourceLink).where(LtiResourceLink.context_id == context_id)
    return db.session.scalar(query) or 0


def push_scores(context: LtiContext, *, only_user_ids: set[int] | None = None, resend: bool = False) -> PushResult:
    """Decide the scores of an LMS course (committed, so a failed send is never forgotten), then send
    what is due. `resend` sends every score again with a new timestamp (a gradebook that was reset)."""
    context_id = context.id
    record_scores(db.session.get_one(LtiContext, context_id), only_user_ids=only_user_ids, resend=resend)
    db.session.commit()
    result = send_scores(context_id=context_id)
    result.waiting = waiting_scores(context_id)
    logger.info("lti: scores context=%s columns=%s sent=%s failed=%s", context_id, result.columns, result.sent,
                result.failed)
    return result


def refresh_after_cutoff(now: dt.datetime | None = None) -> int:
    """Turn "not ready" into 0 for the courses whose cut-off has passed (a periodic task). Flushes."""
    now = now or utcnow()
    context_ids = db.session.scalars(
        select(LtiResourceLink.context_id).distinct()
        .join(LtiScore, LtiScore.resource_link_id == LtiResourceLink.id)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .join(Course, Course.id == LtiContext.course_id)
        .where(LtiScore.grading_progress == "NotReady", Course.cutoff_at <= now)).all()
    return sum([record_scores(db.session.get_one(LtiContext, cid)) for cid in context_ids])
