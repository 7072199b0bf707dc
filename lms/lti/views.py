"""LTI pages: OIDC login initiation, launch, JWKS, deep-linking picker, and the admin's platform page."""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from lms.db import db, read_only
from lms.forms import REQUIRED, EmptyForm
from lms.hooks import NAV
from lms.lti import adapter
from lms.lti.adapter import CLAIM, DL_CLAIM, Launch, LaunchError
from lms.lti.models import LtiContext, LtiPlatform, LtiUserLink
from lms.lti.operations import (
    LtiError,
    account_for,
    column_label,
    ensure_enrolled,
    instructor_target,
    learner_target,
    link_context,
    move_link,
    platforms,
    push_scores,
    record_resource_link,
    register_platform,
    spend_nonce,
    sync_from_platform,
    topic_of_launch,
)
from lms.models import Course, Role, Topic, User
from lms.params import parse_id
from lms.security import audit, csrf, role_required
from lms.sessions import start_session
from lms.transaction import committed

logger = logging.getLogger(__name__)
bp = Blueprint("lti", __name__, url_prefix="/lti", static_folder="static")

_DL_SALT = "lti-deep-link"
_DL_MAX_AGE = 3600
# Claims kept between a deep-linking request and the teacher's choice.
_DL_KEEP = ("sub", CLAIM + "deployment_id", CLAIM + "context", CLAIM + "roles", DL_CLAIM + "deep_linking_settings",
            adapter.NRPS_CLAIM, adapter.AGS_CLAIM)


def init_app(app: Flask) -> None:
    """Register the LTI blueprint; login and launch are cross-site POSTs signed by the LMS, not forms."""
    app.config.setdefault("LTI_LEARNER_ENDPOINT", "essays.submit")
    app.config.setdefault("LTI_INSTRUCTOR_ENDPOINT", "completeness.index")
    csrf.exempt(login)
    csrf.exempt(launch)
    # The picker runs inside the LMS's frame, where our session (and so its CSRF token) is not
    # sent; its form carries the launch's state signed by us instead, which a forger cannot make.
    csrf.exempt(deep_link)
    app.register_blueprint(bp)
    NAV.register(app, _nav)


def _nav(user) -> list[tuple[str, str]]:
    return [(url_for("lti.admin_platforms"), "LMS (LTI)")] if user.role == Role.admin else []


class PlatformForm(FlaskForm):
    name = StringField("Tên (ví dụ: Moodle Trường Chính trị)", validators=[Optional(), Length(max=200)])
    issuer = StringField("Issuer (Platform ID)", validators=[DataRequired(REQUIRED), Length(max=255)])
    client_id = StringField("Client ID", validators=[DataRequired(REQUIRED), Length(max=255)])
    deployment_ids = StringField("Deployment ID (nhiều mã cách nhau bằng dấu cách)",
                                 validators=[DataRequired(REQUIRED), Length(max=1000)])
    key_set_url = StringField("Public keyset URL", validators=[DataRequired(REQUIRED), Length(max=500)])
    auth_login_url = StringField("Authentication request URL", validators=[DataRequired(REQUIRED), Length(max=500)])
    auth_token_url = StringField("Access token URL", validators=[DataRequired(REQUIRED), Length(max=500)])
    unit_code = StringField("Mã đơn vị của học viên từ LMS này", validators=[Optional(), Length(max=20)])


def _external(endpoint: str) -> str:
    """An absolute URL of ours, https when the site is served over HTTPS behind a proxy."""
    scheme = "https" if current_app.config.get("SESSION_COOKIE_SECURE") else None
    return url_for(endpoint, _external=True, _scheme=scheme)


def _refuse(exc: LaunchError | LtiError, stage: str, platform: LtiPlatform | None = None):
    """Log, audit and show a refusal; nothing else of the request is kept. Shown inside the LMS's
    frame when the launch was verified as that platform's."""
    db.session.rollback()
    reason = exc.reason if isinstance(exc, LaunchError) else "refused"
    detail = exc.detail if isinstance(exc, LaunchError) else exc.message
    logger.warning("lti: %s refused (%s): %s", stage, reason, detail)
    audit(f"lti.{stage}_refused", target=reason, detail=detail[:500])
    db.session.commit()
    response = make_response(render_template("lti/error.html", message=exc.message), 400)
    return _framed_by(platform, response) if platform is not None else response


@bp.route("/jwks.json")
def jwks():
    """The tool's public keys, for the LMS to check what we sign."""
    response = make_response(adapter.tool_keys().jwks)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """OIDC login initiation: send the browser back to the LMS to fetch a signed id_token."""
    # Our launch URL is always the redirect_uri, whatever target_link_uri the LMS names: the
    # placement itself is identified by the signed claims, never by a URL the browser carried.
    try:
        return adapter.login_redirect(_external("lti.launch"))
    except LaunchError as exc:
        return _refuse(exc, "login")


@bp.route("/launch", methods=["POST"])
def launch():
    """A signed launch: deep linking for teachers, or the essay page / completeness page."""
    try:
        # Checking the signature fetches the LMS's keys: no write lock is held meanwhile.
        with read_only():
            result = adapter.validate_launch(request.form.get("id_token"))
        db.session.rollback()
        if not spend_nonce(result.platform.issuer, result.claims["nonce"]):
            raise LaunchError("replayed", f"iss={result.platform.issuer} sub={result.subject}")
        # The nonce stays spent whatever happens next.
        db.session.commit()
    except LaunchError as exc:
        return _refuse(exc, "launch")
    try:
        if result.is_deep_link:
            return _start_deep_link(result)
        return _resource_launch(result)
    except LtiError as exc:
        return _refuse(exc, "launch", result.platform if result.is_deep_link else None)


def _start_deep_link(result: Launch):
    """The teacher's content selection, answered in place: Moodle shows it inside a frame of its
    own site, where our session cookie is not sent, so the picker's state travels signed in the form."""
    if not result.is_instructor:
        raise LtiError("Chỉ giảng viên mới có thể thêm bài thu hoạch vào khoá học.")
    settings = result.claims.get(DL_CLAIM + "deep_linking_settings") or {}
    if not settings.get("deep_link_return_url"):
        raise LtiError("LMS không gửi địa chỉ trả kết quả chọn nội dung (deep_link_return_url).")
    user, _how = account_for(result.platform, result.person, create=False)
    if user is None:
        raise LtiError("Chỉ giảng viên có tài khoản cán bộ trong đơn vị của LMS này mới chọn được nội dung. "
                       "Quản trị viên cần tạo tài khoản cán bộ cùng tên đăng nhập hoặc email.")
    state = {"platform_id": result.platform.id, "user_id": user.id,
             "claims": {k: result.claims[k] for k in _DL_KEEP if k in result.claims}}
    audit("lti.deep_link_started", target=result.platform.issuer, detail=f"sub={result.subject}", user=user)
    db.session.commit()
    return _picker(result.platform, state, _dl_signer().dumps(state))


def _dl_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DL_SALT)


def _picker(platform: LtiPlatform, state: dict[str, Any], token: str, error: str | None = None):
    claims = state["claims"]
    courses = db.session.scalars(select(Course).order_by(Course.starts_on.desc(), Course.id.desc())).all()
    settings = claims.get(DL_CLAIM + "deep_linking_settings") or {}
    page = render_template("lti/deep_link.html", courses=courses, error=error, state=token,
                           multiple=settings.get("accept_multiple") is not False,
                           context_title=(claims.get(CLAIM + "context") or {}).get("title"))
    return _framed_by(platform, make_response(page, 400 if error else 200))


def _framed_by(platform: LtiPlatform, response, form_target: str | None = None):
    """Let the platform's own pages frame this response (Moodle's "Select content" modal); every
    other page of ours keeps refusing frames."""
    origins = sorted({_origin(url) for url in (platform.issuer, platform.auth_login_url) if _origin(url)})
    targets = " ".join(["'self'", *([_origin(form_target)] if form_target else [])])
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
        f"base-uri 'self'; frame-ancestors 'self' {' '.join(origins)}; form-action {targets}")
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def _resource_launch(result: Launch):
    topic = topic_of_launch(result)
    context = link_context(result, topic.course)
    record_resource_link(result, context, topic)
    user, how = account_for(result.platform, result.person, create=not result.is_instructor)
    if user is None:
        raise LtiError("Tài khoản giảng viên của bạn chưa được liên kết với thuhoach. Quản trị viên cần tạo tài "
                       "khoản cán bộ cùng tên đăng nhập hoặc email trong đơn vị của LMS này.")
    if not user.is_active:
        raise LtiError("Tài khoản thuhoach của bạn đã bị khoá.")
    if user.role == Role.trainee:
        ensure_enrolled(user, topic.course, result.platform)
    # A fresh, revocable session, as for the password login (session fixation).
    start_session(user)
    audit("lti.launch", target=f"topic={topic.id}", detail=f"iss={result.platform.issuer} by={how}", user=user)
    db.session.commit()
    if result.is_instructor and user.role != Role.trainee:
        return redirect(instructor_target(user, topic.course))
    return redirect(learner_target(user, topic))


@bp.route("/deep-link", methods=["GET", "POST"])
def deep_link() -> ResponseReturnValue:
    """The teacher's choice (or cancel) from the picker; the signed answer goes back to the LMS."""
    try:
        state = _dl_signer().loads(request.form.get("state", ""), max_age=_DL_MAX_AGE)
    except BadData:
        return render_template("lti/error.html", message="Phiên chọn nội dung đã hết hạn. Vui lòng mở lại "
                                                         "“Chọn nội dung” từ LMS."), 400
    platform = db.session.get(LtiPlatform, state["platform_id"])
    if platform is None:
        abort(404)
    claims: dict[str, Any] = state["claims"]
    settings = claims.get(DL_CLAIM + "deep_linking_settings") or {}
    if request.form.get("action") == "cancel":
        topics: list[Topic] = []
    else:
        ids = {i for i in map(parse_id, request.form.getlist("topic_id")) if i is not None}
        topics = [t for t in (db.session.get(Topic, i) for i in sorted(ids)) if t is not None]
        error = None
        if not topics:
            error = "Vui lòng chọn ít nhất một chủ đề (hoặc bấm “Huỷ”)."
        elif len({t.course_id for t in topics}) > 1:
            error = "Các chủ đề phải thuộc cùng một lớp."
        elif len(topics) > 1 and settings.get("accept_multiple") is False:
            error = "LMS chỉ nhận một hoạt động mỗi lần chọn: vui lòng chọn một chủ đề."
        if error:
            return _picker(platform, state, request.form["state"], error)
    try:
        context = link_context(Launch(platform=platform, claims=claims), topics[0].course) if topics else None
    except LtiError as exc:
        return _refuse(exc, "deep_link", platform)
    # A line item only where the platform takes it (accept_lineitem false: it would be ignored or refused).
    with_lineitem = settings.get("accept_lineitem") is not False
    items = [{"url": _external("lti.launch"), "title": column_label(t),
              "custom": {"topic_id": str(t.id)}, "lineitem": column_label(t) if with_lineitem else None,
              "resource_id": f"thuhoach-topic-{t.id}"} for t in topics]
    token = adapter.deep_link_response(platform, claims[CLAIM + "deployment_id"], settings, items)
    audit("lti.deep_linked" if topics else "lti.deep_link_cancelled",
          target=f"context={context.id}" if context else platform.issuer,
          detail=",".join(str(t.id) for t in topics), user=db.session.get(User, state["user_id"]))
    db.session.commit()
    return_url = settings["deep_link_return_url"]
    page = render_template("lti/deep_link_return.html", return_url=return_url, token=token, topics=topics)
    return _framed_by(platform, make_response(page), form_target=return_url)


# --- administration --------------------------------------------------------------------------------

@bp.route("/platforms", methods=["GET", "POST"])
@role_required(Role.admin)
def admin_platforms():
    form = PlatformForm()
    if form.validate_on_submit():
        with committed(LtiError) as outcome:
            platform = register_platform(
                name=form.name.data or "", issuer=form.issuer.data, client_id=form.client_id.data,
                deployment_ids=form.deployment_ids.data.split(), key_set_url=form.key_set_url.data,
                auth_login_url=form.auth_login_url.data, auth_token_url=form.auth_token_url.data,
                unit_code=form.unit_code.data or None)
            audit("lti.platform_added", target=platform.issuer, detail=f"client_id={platform.client_id}")
            outcome.success = f"Đã đăng ký nền tảng {platform.name}."
        if outcome.ok:
            return redirect(url_for("lti.admin_platforms"))
    contexts = db.session.scalars(select(LtiContext).order_by(LtiContext.id)).all()
    return render_template("lti/platforms.html", form=form, platforms=platforms(), contexts=contexts,
                           tool=tool_urls(), action_form=EmptyForm())


def tool_urls() -> dict[str, str]:
    """What the admin types into the LMS when registering the tool."""
    return {"tool_url": _external("lti.launch"), "login_url": _external("lti.login"),
            "redirect_uris": _external("lti.launch"), "jwks_url": _external("lti.jwks"),
            "deep_link_url": _external("lti.launch")}


def _context_or_404(context_id: int) -> LtiContext:
    context = db.session.get(LtiContext, context_id)
    if context is None:
        abort(404)
    return context


def _context_for_call(context_id: int) -> LtiContext:
    """The context, read without a write lock: the LMS is called next and may be slow."""
    db.session.commit()  # ends the request's transaction (the login check read the user)
    with read_only():
        return _context_or_404(context_id)


@bp.route("/contexts/<int:context_id>/sync", methods=["POST"])
@role_required(Role.admin)
def sync(context_id: int):
    if EmptyForm().validate_on_submit():
        context = _context_for_call(context_id)
        with committed(LtiError) as outcome:
            result = sync_from_platform(context)
            audit("lti.roster_synced", target=f"context={context_id}", detail=result.summary()[:500])
            outcome.success = result.summary()
    return redirect(url_for("lti.admin_platforms"))


@bp.route("/contexts/<int:context_id>/scores", methods=["POST"])
@role_required(Role.admin)
def scores(context_id: int):
    if EmptyForm().validate_on_submit():
        result = push_scores(_context_for_call(context_id))
        audit("lti.scores_sent", target=f"context={context_id}", detail=result.summary())
        db.session.commit()
        flash(result.summary(), "success" if not result.failed else "warning")
    return redirect(url_for("lti.admin_platforms"))


class MoveLinkForm(FlaskForm):
    username = StringField("Chuyển sang tài khoản (tên đăng nhập)", validators=[DataRequired(REQUIRED), Length(max=80)])


@bp.route("/links")
@role_required(Role.admin)
def admin_links():
    """Every (LMS, person) → account link, newest first, each movable to another account."""
    links = db.session.scalars(select(LtiUserLink).order_by(LtiUserLink.linked_at.desc(), LtiUserLink.id.desc())
                               .limit(1000)).all()
    return render_template("lti/links.html", links=links, form=MoveLinkForm())


@bp.route("/links/<int:link_id>/move", methods=["POST"])
@role_required(Role.admin)
def move_user_link(link_id: int):
    form = MoveLinkForm()
    if form.validate_on_submit():
        with committed(LtiError) as outcome:
            link = move_link(link_id, form.username.data)
            outcome.success = f"Đã chuyển liên kết sang tài khoản {link.user.username}."
    else:
        flash("Vui lòng nhập tên đăng nhập của tài khoản đích.", "danger")
    return redirect(url_for("lti.admin_links"))
