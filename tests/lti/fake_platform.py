"""A small fake LMS on loopback: OIDC authorisation, its JWKS, the OAuth2 token endpoint
(client_credentials with a JWT assertion), Names and Roles, line items and scores, and the
deep-linking return. It signs with its own RSA key and checks the tool's signatures with the
tool's published JWKS, as Moodle does."""
from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score"]


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Person:
    sub: str
    name: str
    email: str | None = None
    username: str | None = None
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    status: str = "Active"
    sourcedid: str | None = None


class FakePlatform:
    """Start with `start()`, stop with `stop()`; `url` is its issuer."""

    client_id = "thuhoach-client"
    deployment_id = "dep-1"
    context_id = "moodle-course-7"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key, self.kid = key, "platform-key-1"
        self.tool_jwks: dict[str, Any] | None = None
        self.members: list[Person] = []
        self.lineitems: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.deep_link_items: list[dict[str, Any]] = []
        self.tokens: dict[str, list[str]] = {}
        self.requests: list[str] = []
        self.page_size = 2
        # What the score service answers: (status, body); `down` makes every service call fail.
        self.score_answer: tuple[int, str] = (204, "")
        self.down = False
        self._server = None

    # --- life ---------------------------------------------------------------------------------
    def start(self) -> "FakePlatform":
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def registration(self) -> dict[str, str]:
        """What the admin types into thuhoach for this platform."""
        return {"issuer": self.url, "client_id": self.client_id, "deployment_id": self.deployment_id,
                "key_set_url": f"{self.url}/jwks", "auth_login_url": f"{self.url}/auth",
                "access_token_url": f"{self.url}/token"}

    # --- signing launches -------------------------------------------------------------------
    def claims(self, person: Person, nonce: str, *, message_type: str = "LtiResourceLinkRequest",
               custom: dict[str, str] | None = None, resource_link_id: str = "rl-1",
               lineitem: str | None = None, dl_settings: dict[str, Any] | None = None,
               iat_offset: int = 0) -> dict[str, Any]:
        now = int(time.time()) + iat_offset
        claims: dict[str, Any] = {
            "iss": self.url, "aud": self.client_id, "sub": person.sub, "iat": now, "exp": now + 60,
            "nonce": nonce, "name": person.name, "email": person.email,
            CLAIM + "message_type": message_type, CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id, CLAIM + "roles": person.roles,
            CLAIM + "context": {"id": self.context_id, "title": "Bồi dưỡng lý luận chính trị 2026"},
            CLAIM + "ext": {"user_username": person.username} if person.username else {},
            CLAIM + "lis": {"person_sourcedid": person.sourcedid} if person.sourcedid else {},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/nrps/{self.context_id}", "service_versions": ["2.0"]},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": AGS_SCOPES, "lineitems": f"{self.url}/lineitems/{self.context_id}",
                **({"lineitem": lineitem} if lineitem else {})},
        }
        if message_type == "LtiDeepLinkingRequest":
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep_link_return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window"], "accept_multiple": True, "data": "dl-data-1",
                **(dl_settings or {})}
        else:
            claims[CLAIM + "resource_link"] = {"id": resource_link_id, "title": "Bài thu hoạch"}
            claims[CLAIM + "target_link_uri"] = "http://tool/lti/launch"
            claims[CLAIM + "custom"] = custom or {}
        return claims

    def sign(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None, kid: str | None = None) -> str:
        return jwt.encode(claims, pem(key or self.key), algorithm="RS256", headers={"kid": kid or self.kid})

    # --- HTTP -------------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        self.requests.append(f"{request.method} {request.path}")
        try:
            response = self._route(request)
        except PermissionError as exc:
            response = Response(json.dumps({"error": str(exc)}), status=401, mimetype="application/json")
        return response(environ, start_response)

    @staticmethod
    def _autopost(action: str, fields: dict[str, str]) -> Response:
        """An HTML form that posts itself, as LMSs answer (plain HTML, no CSP of ours here)."""
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        body = (f'<form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'
                '<script>document.getElementById("f").submit();</script>')
        return Response(body, mimetype="text/html")

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None,
              mimetype: str = "application/json") -> Response:
        return Response(json.dumps(data), status=status, mimetype=mimetype, headers=headers or {})

    def _bearer(self, request: Request, *scopes: str) -> None:
        """The request's access token must carry one of the scopes."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not set(scopes) & set(self.tokens.get(token, [])):
            raise PermissionError(f"token lacks {scopes}")

    def _route(self, request: Request) -> Response:
        path = request.path
        if self.down and path not in ("/jwks", "/auth", "/start"):
            return Response("Service Unavailable", status=503, mimetype="text/plain")
        if path == "/jwks":
            numbers = self.key.public_key().public_numbers()
            return self._json({"keys": [{"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                                         "e": _b64(numbers.e), "n": _b64(numbers.n)}]})
        if path == "/auth":
            # The OIDC authorisation endpoint: answers with the auto-posting form, like Moodle.
            args = request.args
            assert args["client_id"] == self.client_id and args["response_mode"] == "form_post"
            spec = json.loads(args["lti_message_hint"])
            person = Person(**spec.pop("person"))
            token = self.sign(self.claims(person, args["nonce"], **spec))
            return self._autopost(args["redirect_uri"], {"id_token": token, "state": args["state"]})
        if path == "/frame":
            # Moodle's "Select content": the tool's pages shown in a frame inside the LMS's own page.
            src = html.escape("/start?" + request.query_string.decode())
            return Response(f'<h1>Moodle</h1><iframe name="contentitem-page-iframe" src="{src}" '
                            'style="width:900px;height:700px"></iframe>', mimetype="text/html")
        if path == "/start":
            # What Moodle's "launch" does in the browser: post the login initiation to the tool.
            person = Person(**json.loads(request.args["person"]))
            spec = json.loads(request.args.get("spec", "{}"))
            return self._autopost(request.args["tool_login"], login_params(self, person, **spec))
        if path == "/token":
            form = request.form
            assert form["grant_type"] == "client_credentials"
            assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            claims = self._verify_tool_jwt(form["client_assertion"], audience=f"{self.url}/token")
            if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
                raise PermissionError("assertion not from the client")
            token = secrets.token_hex(16)
            self.tokens[token] = form["scope"].split()
            return self._json({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                               "scope": form["scope"]})
        if path == f"/nrps/{self.context_id}":
            self._bearer(request, NRPS_SCOPE)
            start = int(request.args.get("from", 0))
            page = self.members[start:start + self.page_size]
            headers = {}
            if start + self.page_size < len(self.members):
                headers["Link"] = f'<{self.url}{path}?from={start + self.page_size}>; rel="next"'
            members = [{"user_id": p.sub, "name": p.name, "email": p.email, "roles": p.roles, "status": p.status,
                        **({"ext_user_username": p.username} if p.username else {}),
                        **({"lis_person_sourcedid": p.sourcedid} if p.sourcedid else {})} for p in page]
            return self._json({"id": request.url, "context": {"id": self.context_id}, "members": members},
                              headers=headers, mimetype="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        if path == f"/lineitems/{self.context_id}":
            if request.method == "POST":
                self._bearer(request, AGS_SCOPES[0])
                item = json.loads(request.get_data())
                item["id"] = f"{self.url}/lineitems/{self.context_id}/{len(self.lineitems) + 1}"
                self.lineitems.append(item)
                return self._json(item, mimetype="application/vnd.ims.lis.v2.lineitem+json")
            self._bearer(request, AGS_SCOPES[0], AGS_SCOPES[1])  # the full scope reads too
            return self._json(self.lineitems, mimetype="application/vnd.ims.lis.v2.lineitemcontainer+json")
        if m := re.fullmatch(rf"/lineitems/{self.context_id}/(\d+)/scores", path):
            self._bearer(request, AGS_SCOPES[2])
            assert request.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
            self.scores.append({"lineitem": int(m.group(1)), **json.loads(request.get_data())})
            status, body = self.score_answer
            return Response(body, status=status, mimetype="text/plain")
        if path == "/deep_link_return":
            claims = self._verify_tool_jwt(request.form["JWT"], audience=self.url)
            assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
            assert claims[CLAIM + "deployment_id"] == self.deployment_id
            self.deep_link_items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
            self.deep_link_data = claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/data")
            return Response("Đã nhận", mimetype="text/plain")
        return Response("not found", status=404)

    def _verify_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        assert self.tool_jwks is not None, "give the platform the tool's JWKS first"
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in self.tool_jwks["keys"] if k["kid"] == kid)
        try:
            return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=audience)
        except jwt.InvalidTokenError as exc:
            raise PermissionError(f"bad tool JWT: {exc}") from exc


def login_params(platform: FakePlatform, person: Person, **spec: Any) -> dict[str, str]:
    """What the LMS sends to the tool's initiate-login URL."""
    hint = json.dumps({"person": person.__dict__, **spec})
    return {"iss": platform.url, "login_hint": person.sub, "target_link_uri": "http://localhost/lti/launch",
            "lti_message_hint": hint, "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id}


def parse_form(body: str) -> dict[str, str]:
    """The hidden fields of an auto-posting form."""
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

