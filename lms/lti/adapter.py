"""The one module that talks to the LTI library (pylti1p3next, import name `pylti1p3`).

Everything else in `lms.lti` calls the functions here with our own types (LtiPlatform, Launch,
LaunchError), so the library can be swapped by rewriting this file only.

What the library does: the OIDC login redirect and its state cookie, the id_token signature
against the platform's JWKS (PyJWT, also checking `exp`), registration and deployment lookup,
the message-type claim checks, the deep-linking response JWT, the OAuth2 client_credentials token
(JWT assertion) and the Names and Roles / Assignment and Grade service calls with paging.
What we add, because the library does not: a one-time nonce (the library only checks that the
nonce is in the Flask session, which a cross-site POST from the LMS does not carry, and accepts
the same id_token twice), `iat` freshness, the audience as a list with `azp`, a distinct
Vietnamese reason for every refusal, and a per-instance access-token cache (the library's Flask
connector keeps tokens in a class attribute shared by every app in the process).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from urllib.parse import urlsplit, urlunsplit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app
from flask import request as flask_request
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.contrib.flask import FlaskCookieService, FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.deployment import Deployment
from pylti1p3.exception import (LtiException, LtiInvalidNonceException, LtiKeyException,
                                LtiServiceException, OIDCException)
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.session import SessionService
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select

from lms.db import db
from lms.lti.models import LtiPlatform

logger = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = ("https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score")
INSTRUCTOR_ROLES = ("#Instructor", "#Administrator", "#ContentDeveloper", "#TeachingAssistant", "#Mentor")

# A login must come back within this time; an id_token older than IAT_MAX_AGE is refused even if
# its `exp` is far away (Moodle signs for 60 s, some platforms for an hour).
NONCE_MAX_AGE = 600
IAT_MAX_AGE = 300
CLOCK_SKEW = 60
HTTP_TIMEOUT = 15

REASONS = {
    "unknown_issuer": "Hệ thống học tập (LMS) gửi yêu cầu chưa được đăng ký với thuhoach. "
                      "Vui lòng báo quản trị viên.",
    "wrong_audience": "Yêu cầu không dành cho công cụ này (mã client không khớp).",
    "unknown_deployment": "Bản cài đặt công cụ trên LMS (deployment) chưa được đăng ký. Vui lòng báo quản trị viên.",
    "bad_signature": "Chữ ký của yêu cầu không hợp lệ; yêu cầu bị từ chối.",
    "expired": "Yêu cầu đăng nhập đã hết hạn. Vui lòng mở lại hoạt động từ LMS.",
    "not_yet_valid": "Đồng hồ của LMS chạy nhanh hơn thuhoach quá nhiều nên yêu cầu chưa có hiệu lực. "
                     "Vui lòng báo quản trị viên kiểm tra giờ của máy chủ LMS.",
    "missing_issuer": "LMS không gửi mã nền tảng (iss) khi bắt đầu đăng nhập; yêu cầu bị từ chối.",
    "missing_login_hint": "LMS không gửi thông tin người đăng nhập (login_hint); yêu cầu bị từ chối.",
    "unknown_client": "Mã client của LMS chưa được đăng ký với thuhoach cho nền tảng này. "
                      "Vui lòng báo quản trị viên.",
    "replayed": "Yêu cầu đăng nhập này đã được sử dụng. Vui lòng mở lại hoạt động từ LMS.",
    "bad_nonce": "Yêu cầu đăng nhập không do thuhoach khởi tạo hoặc đã quá hạn. Vui lòng mở lại hoạt động từ LMS.",
    "bad_state": "Phiên đăng nhập không khớp (trình duyệt chặn cookie?). Vui lòng mở lại hoạt động từ LMS.",
    "malformed": "Yêu cầu LTI không hợp lệ.",
    "unsupported_placement": "Vị trí này trên LMS không nhận liên kết hoạt động (ltiResourceLink), là loại nội "
                             "dung duy nhất thuhoach cung cấp. Hãy thêm thuhoach như một hoạt động "
                             "“Công cụ bên ngoài”.",
}


class LaunchError(Exception):
    """A refused login or launch: `reason` for the log, `message` (Vietnamese) for the person."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.message = reason, detail, REASONS[reason]


class ServiceError(Exception):
    """A Names and Roles or grade call the platform refused or could not answer."""


# ---------------------------------------------------------------------------------------------
# The tool's own key pair

@dataclass(frozen=True)
class ToolKeys:
    """The tool's RSA key pair, its key id and public JWKS."""

    private_pem: str
    public_pem: str
    kid: str
    jwks: dict[str, Any]


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _write_once(path: Path, data: bytes) -> None:
    """Create the file with mode 600 unless another worker already did (theirs wins)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def tool_keys(app: Flask | None = None) -> ToolKeys:
    """The key pair kept in DATA_DIR/lti/, generated on first use; the same for every worker."""
    app = app or current_app
    cached = app.extensions.get("thuhoach.lti_keys")
    if cached is not None:
        return cached
    folder = Path(app.config["DATA_DIR"]) / "lti"
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "tool_private_key.pem"
    if not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_once(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        logger.info("lti: generated the tool key pair in %s", key_file)
    private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public_key = private_key.public_key()
    numbers = public_key.public_numbers()
    jwk = {"kty": "RSA", "e": _b64(numbers.e), "n": _b64(numbers.n)}
    # RFC 7638 thumbprint: stable across restarts and workers, changes only with the key.
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    keys = ToolKeys(
        private_pem=key_file.read_text(),
        public_pem=public_key.public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        kid=kid,
        jwks={"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]},
    )
    app.extensions["thuhoach.lti_keys"] = keys
    return keys


# ---------------------------------------------------------------------------------------------
# Registrations from our table

class _Registration(Registration):
    def __init__(self, platform: LtiPlatform, keys: ToolKeys) -> None:
        super().__init__()
        self.set_issuer(platform.issuer).set_client_id(platform.client_id)
        self.set_key_set_url(platform.key_set_url).set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_tool_private_key(keys.private_pem).set_tool_public_key(keys.public_pem)
        self._kid = keys.kid

    def get_kid(self) -> str:
        return self._kid


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The platform registered for this issuer (and client id, when given and several exist)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    platforms = db.session.scalars(query).all()
    return platforms[0] if len(platforms) == 1 else None


class _ToolConf(ToolConfAbstract):
    """Registrations looked up in the lti_platform table, several client ids per issuer allowed."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args: Any,
                                    **kwargs: Any) -> Registration | None:
        platform = find_platform(iss, client_id)
        return _Registration(platform, tool_keys()) if platform else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None, *args: Any,
                                  **kwargs: Any) -> Deployment | None:
        platform = find_platform(iss, client_id)
        if platform is None or deployment_id not in platform.deployments:
            return None
        return Deployment().set_deployment_id(deployment_id)


# ---------------------------------------------------------------------------------------------
# Nonces: signed by us at login (no storage, no session needed), used once at launch

def _nonce_mac(issued: str, rand: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"lti-nonce|{issued}|{rand}".encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce() -> str:
    """A nonce that proves we issued it, and when."""
    issued, rand = str(int(time.time())), secrets.token_urlsafe(16)
    return f"{issued}.{rand}.{_nonce_mac(issued, rand)}"


def nonce_is_ours(nonce: str) -> bool:
    """True for a nonce this tool issued less than NONCE_MAX_AGE seconds ago."""
    try:
        issued, rand, mac = nonce.split(".")
        age = time.time() - int(issued)
    except ValueError:
        return False
    return hmac.compare_digest(mac, _nonce_mac(issued, rand)) and -CLOCK_SKEW <= age <= NONCE_MAX_AGE


class _SessionService(SessionService):
    """Keeps nothing in the Flask session: the LMS's cross-site POST does not carry our Lax cookie,
    and a whole launch body would overflow a cookie session. The state cookie still binds the
    browser; the signed nonce and the nonce table make each id_token good once."""

    def save_nonce(self, nonce: str) -> None:
        pass

    def check_nonce(self, nonce: str) -> bool:
        return nonce_is_ours(nonce)

    def save_launch_data(self, key: str, jwt_body: Any) -> None:
        pass

    def set_state_valid(self, state: str, id_token_hash: str) -> None:
        pass

    def check_state_is_valid(self, state: str, id_token_hash: str) -> bool:
        return False  # always compare with the state cookie


def _request() -> FlaskRequest:
    """The library's view of the request. Behind an HTTPS proxy (THUHOACH_HTTPS=1) the request
    looks like plain HTTP, yet the state cookie must be `SameSite=None; Secure`, or the browser
    drops it on the LMS's cross-site POST and every launch fails the state check."""
    secure = flask_request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    return FlaskRequest(request_is_secure=secure)


class _OIDCLogin(FlaskOIDCLogin):
    def _generate_nonce(self) -> str:
        return make_nonce()


def _check_login_params(params: Any) -> None:
    """Name what is wrong with a login initiation before the library gives one reason for all."""
    issuer, client_id = params.get("iss"), params.get("client_id")
    if not issuer:
        raise LaunchError("missing_issuer", "no iss")
    if not params.get("login_hint"):
        raise LaunchError("missing_login_hint", f"iss={issuer!r}")
    if not db.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == issuer).limit(1)):
        raise LaunchError("unknown_issuer", f"iss={issuer!r}")
    if client_id and find_platform(issuer, client_id) is None:
        raise LaunchError("unknown_client", f"iss={issuer!r} client_id={client_id!r}")


def login_redirect(launch_url: str):
    """Answer the platform's OIDC login initiation with the redirect to its authorisation URL."""
    _check_login_params(flask_request.values)
    request = _request()
    login = _OIDCLogin(request, _ToolConf(), session_service=_SessionService(request),
                       cookie_service=FlaskCookieService(request))
    try:
        return login.redirect(launch_url)
    except OIDCException as exc:
        raise LaunchError("unknown_issuer", str(exc)) from exc


# ---------------------------------------------------------------------------------------------
# Launch

@dataclass
class Launch:
    """A validated launch: who, from which platform and course, asking for what."""

    platform: LtiPlatform
    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return self.claims["sub"]

    @property
    def message_type(self) -> str:
        return self.claims.get(CLAIM + "message_type", "")

    @property
    def is_deep_link(self) -> bool:
        return self.message_type == "LtiDeepLinkingRequest"

    @property
    def deployment_id(self) -> str:
        return self.claims[CLAIM + "deployment_id"]

    @property
    def roles(self) -> list[str]:
        return list(self.claims.get(CLAIM + "roles", []))

    @property
    def is_instructor(self) -> bool:
        return is_instructor(self.roles)

    @property
    def context(self) -> dict[str, Any]:
        return self.claims.get(CLAIM + "context") or {}

    @property
    def resource_link_id(self) -> str | None:
        return (self.claims.get(CLAIM + "resource_link") or {}).get("id")

    @property
    def custom(self) -> dict[str, str]:
        return self.claims.get(CLAIM + "custom") or {}

    @property
    def memberships_url(self) -> str | None:
        return (self.claims.get(NRPS_CLAIM) or {}).get("context_memberships_url")

    @property
    def ags(self) -> dict[str, Any]:
        return self.claims.get(AGS_CLAIM) or {}

    @property
    def person(self) -> "Member":
        ext = self.claims.get(CLAIM + "ext") or {}
        return Member(subject=self.subject, name=self.claims.get("name") or "",
                      email=self.claims.get("email"), username=ext.get("user_username"), roles=self.roles,
                      sourcedid=(self.claims.get(CLAIM + "lis") or {}).get("person_sourcedid"))


def is_instructor(roles: list[str]) -> bool:
    """Teachers, course admins and assistants; everyone else is a learner."""
    return any(role.endswith(suffix) for role in roles for suffix in INSTRUCTOR_ROLES)


def _precheck(id_token: str) -> tuple[LtiPlatform, dict[str, Any]]:
    """Read the unverified token to name the refusal precisely; the library then verifies it."""
    try:
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LaunchError("malformed", f"unreadable id_token: {exc}") from exc
    issuer, aud = claims.get("iss"), claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud] if aud else []
    if not issuer or not db.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == issuer).limit(1)):
        raise LaunchError("unknown_issuer", f"iss={issuer!r}")
    platform = next((p for a in audiences if (p := find_platform(issuer, str(a))) is not None), None)
    if platform is None:
        raise LaunchError("wrong_audience", f"iss={issuer!r} aud={aud!r}")
    # With several audiences the tool must be the authorised party (OIDC Core 3.1.3.7).
    if len(audiences) > 1 and claims.get("azp") != platform.client_id:
        raise LaunchError("wrong_audience", f"azp={claims.get('azp')!r}")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployments:
        raise LaunchError("unknown_deployment", f"iss={issuer!r} deployment_id={deployment!r}")
    return platform, claims


def check_token_times(claims: dict[str, Any], now: float) -> None:
    """`iat`, `exp` and `nbf` against our clock with CLOCK_SKEW of allowance either way."""
    iat, exp, nbf = claims.get("iat"), claims.get("exp"), claims.get("nbf")
    if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
        raise LaunchError("malformed", f"iat={iat!r} exp={exp!r}")
    if iat > now + CLOCK_SKEW or (isinstance(nbf, (int, float)) and nbf > now + CLOCK_SKEW):
        raise LaunchError("not_yet_valid", f"iat={iat!r} nbf={nbf!r} now={int(now)}")
    if exp < now - CLOCK_SKEW or iat < now - IAT_MAX_AGE - CLOCK_SKEW:
        raise LaunchError("expired", f"iat={iat!r} exp={exp!r} now={int(now)}")


def validate_launch(id_token: str | None) -> Launch:
    """Check the posted id_token completely; raises LaunchError. The nonce is not yet spent."""
    if not id_token:
        raise LaunchError("malformed", "no id_token")
    platform, claims = _precheck(id_token)
    request = _request()
    launch = FlaskMessageLaunch(request, _ToolConf(), session_service=_SessionService(request),
                                cookie_service=FlaskCookieService(request))
    # PyJWT refuses `iat` in the future with no leeway, and the library passes none: an LMS whose
    # clock runs 2 s fast would fail every launch. The times are checked below, both ways, with
    # CLOCK_SKEW of allowance.
    launch.set_jwt_verify_options({"verify_aud": False, "verify_iat": False, "verify_exp": False,
                                   "verify_nbf": False, "require": ["exp", "iat"]})
    try:
        launch.validate()
    except LtiInvalidNonceException as exc:
        raise LaunchError("bad_nonce", str(exc)) from exc
    except LtiKeyException as exc:
        raise LaunchError("bad_signature", str(exc)) from exc
    except LtiException as exc:
        cause = exc.__cause__
        if isinstance(cause, (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError)):
            raise LaunchError("expired", str(exc)) from exc
        if isinstance(cause, jwt.InvalidTokenError):
            raise LaunchError("bad_signature", str(exc)) from exc
        if "state" in str(exc).lower():
            raise LaunchError("bad_state", str(exc)) from exc
        if "resource link placement" in str(exc).lower():  # deep linking without ltiResourceLink
            raise LaunchError("unsupported_placement", str(exc)) from exc
        raise LaunchError("malformed", str(exc)) from exc
    check_token_times(claims, time.time())
    if not claims.get("sub"):
        # An anonymous launch (no sub) cannot be mapped to an account.
        raise LaunchError("malformed", "no sub")
    return Launch(platform=platform, claims=claims)


# ---------------------------------------------------------------------------------------------
# Deep linking

def deep_link_response(platform: LtiPlatform, deployment_id: str, settings: dict[str, Any],
                       items: list[dict[str, Any]]) -> str:
    """The signed LtiDeepLinkingResponse JWT placing `items` (title, url, custom, lineitem label)."""
    resources = []
    for item in items:
        resource = DeepLinkResource().set_url(item["url"]).set_title(item["title"])
        resource.set_custom_params(item.get("custom", {}))
        if item.get("lineitem"):
            resource.set_lineitem(LineItem().set_label(item["lineitem"]).set_score_maximum(1)
                                  .set_resource_id(item["resource_id"]).set_tag("thuhoach-essay"))
        resources.append(resource)
    return DeepLink(_Registration(platform, tool_keys()), deployment_id, settings).get_response_jwt(resources)


# ---------------------------------------------------------------------------------------------
# Services: Names and Roles, Assignment and Grade

@dataclass
class Member:
    """A person as the platform describes them."""

    subject: str
    name: str
    email: str | None = None
    username: str | None = None
    roles: list[str] = field(default_factory=list)
    sourcedid: str | None = None
    active: bool = True

    @property
    def is_instructor(self) -> bool:
        return is_instructor(self.roles)


class _Connector(ServiceConnector):
    """Access tokens cached per connector (per sync), never across apps or platforms."""

    def __init__(self, registration: Registration, session: requests.Session) -> None:
        super().__init__(registration, session)
        self._tokens: dict[str, tuple[str, float]] = {}

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        token, expires = self._tokens.get(scope_key, ("", 0.0))
        return token if token and expires > time.time() + 5 else None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        self._tokens[scope_key] = (access_token, time.time() + float(expires_in or 0))


class _TimeoutSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


class PlatformServices:
    """Calls to one platform's services, authenticated with client_credentials and our key."""

    def __init__(self, platform: LtiPlatform) -> None:
        session = _TimeoutSession()
        session.headers["User-Agent"] = "thuhoach-lti"
        self.platform, self.session = platform, session
        self.connector = _Connector(_Registration(platform, tool_keys()), session)

    def members(self, memberships_url: str) -> Iterator[Member]:
        """Every member of the context, following the platform's paging."""
        service = NamesRolesProvisioningService(self.connector, {"context_memberships_url": memberships_url})
        try:
            for raw in service.get_members():
                yield Member(subject=str(raw["user_id"]), name=raw.get("name") or "",
                             email=raw.get("email"), username=raw.get("ext_user_username"),
                             roles=list(raw.get("roles", [])), sourcedid=raw.get("lis_person_sourcedid"),
                             active=raw.get("status", "Active") == "Active")
        except (LtiException, requests.RequestException) as exc:
            raise ServiceError(f"names and roles: {exc}") from exc

    def _ags(self, lineitems_url: str | None, scopes: list[str], lineitem_url: str | None = None
             ) -> AssignmentsGradesService:
        return AssignmentsGradesService(self.connector, {"scope": scopes, "lineitems": lineitems_url,
                                                         "lineitem": lineitem_url})

    def ensure_lineitem(self, lineitems_url: str, scopes: list[str], *, resource_id: str, label: str,
                        resource_link_id: str | None) -> str:
        """The URL of the grade column for this resource, created when the platform has none yet."""
        item = LineItem().set_label(label).set_score_maximum(1).set_resource_id(resource_id).set_tag("thuhoach-essay")
        if resource_link_id:
            item.set_resource_link_id(resource_link_id)
        try:
            found = self._ags(lineitems_url, scopes).find_or_create_lineitem(item, "resource_id")
        except (LtiException, requests.RequestException) as exc:
            raise ServiceError(f"line items: {exc}") from exc
        return found.get_id()

    def put_score(self, lineitem_url: str, scopes: list[str], subject: str, score_given: float | None,
                  activity_progress: str, grading_progress: str, *, timestamp: str) -> None:
        """Post one person's score to a grade column (AGS 2.0 score publish service).

        Posted by us rather than the library: AGS defines no response body, so any 2xx is success
        (the library parses the body as JSON and failed on a plain-text "OK")."""
        body: dict[str, Any] = {"userId": subject, "activityProgress": activity_progress,
                                "gradingProgress": grading_progress, "timestamp": timestamp}
        if score_given is not None:
            body.update(scoreGiven=score_given, scoreMaximum=1)
        parts = urlsplit(lineitem_url)
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))
        try:
            token = self.connector.get_access_token(scopes)
            response = self.session.post(
                url, data=json.dumps(body), headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/vnd.ims.lis.v1.score+json"})
        except (LtiException, requests.RequestException) as exc:
            raise ServiceError(f"score: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise ServiceError(f"score: HTTP {response.status_code}")
