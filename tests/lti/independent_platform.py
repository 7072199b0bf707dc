"""An LTI 1.3 platform built on an independent implementation, the PyPI package `lti1p3platform`
(not our fake_platform.py, and not the tool's library): its OIDC login initiation, launch and
deep-linking messages, JWKS, client_credentials token, deep-linking response validation. The few
services it leaves to its host (Names and Roles, line items, scores) are a small Flask front here,
checking the access tokens the package issued. `down` makes the services answer 503; `clock_offset`
makes its clock run fast or slow."""
from __future__ import annotations

import html
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, redirect, request
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as PlatformRequest
from werkzeug.serving import make_server

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


class _SkewedRegistration(Registration):
    """The package's registration, signing with a clock `offset` seconds off (an LMS clock)."""

    offset = 0

    def platform_encode_and_sign(self, payload: dict[str, Any], expiration: int | None = None) -> str:
        now = int(time.time()) + self.offset
        payload.update({"iat": now, "exp": now + (expiration or 300)})
        return jwt.encode(payload, self.get_platform_private_key(), algorithm="RS256",
                          headers={"kid": self.get_kid()})


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class _FlaskRequest(PlatformRequest):
    def build_metadata(self, req: Any) -> dict[str, Any]:
        return {"method": req.method, "form_data": req.form.to_dict(), "get_data": req.args.to_dict(),
                "headers": dict(req.headers), "content_type": req.content_type, "path": req.path,
                "json": None}


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = json.dumps(kwargs)

    def get_redirect(self, url: str) -> Any:
        return redirect(url)


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        fields = "".join(f'<input type="hidden" name="{k}" value="{html.escape(str(launch_data[k]))}">'
                         for k in ("id_token", "state"))
        return Response(f'<form id="f" method="post" action="{html.escape(launch_data["launch_url"])}">{fields}'
                        '</form><script>document.getElementById("f").submit()</script>', mimetype="text/html")


class IndependentPlatform:
    """Start with `start(tool_url)`; `url` is its issuer."""

    client_id = "moodle-client-7"
    deployment_id = "7"
    context_id = "course-42"

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.members: list[dict[str, Any]] = []
        self.lineitems: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.deep_link_items: list[dict[str, Any]] | None = None
        self.down = False
        self.clock_offset = 0
        self.app = self._build_app()

    # --- life -------------------------------------------------------------------------------------
    def start(self, tool_url: str) -> "IndependentPlatform":
        self.tool_url = tool_url
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def registration_fields(self) -> dict[str, str]:
        """What the admin types into thuhoach (Moodle's "Tool configuration details")."""
        return {"issuer": self.url, "client_id": self.client_id, "deployment_ids": [self.deployment_id],
                "key_set_url": f"{self.url}/jwks", "auth_login_url": f"{self.url}/authorize",
                "auth_token_url": f"{self.url}/token"}

    def _registration(self) -> _SkewedRegistration:
        reg = _SkewedRegistration()
        reg.offset = self.clock_offset
        (reg.set_iss(self.url).set_client_id(self.client_id).set_deployment_id(self.deployment_id)
         .set_oidc_login_url(f"{self.tool_url}/lti/login").set_launch_url(f"{self.tool_url}/lti/launch")
         .set_deeplink_launch_url(f"{self.tool_url}/lti/launch")
         .set_platform_public_key(self.public_pem).set_platform_private_key(self.private_pem)
         .set_tool_key_set_url(f"{self.tool_url}/lti/jwks.json"))
        return reg

    def _conf(self) -> _Conf:
        return _Conf(registration=self._registration())

    def login_url(self, user: dict[str, Any], **message: Any) -> str:
        """The tool's login initiation URL for a launch of `user` (the package builds it)."""
        login = _Login(None, self._conf())
        login.set_lti_message_hint(user=user, **message)
        return login.prepare_preflight_url(user["sub"])

    def frame_url(self, user: dict[str, Any], **message: Any) -> str:
        """An LMS page framing the tool, as Moodle's "Select content" dialog does."""
        return f"{self.url}/frame?{urlencode({'src': self.login_url(user, **message)})}"

    # --- HTTP -------------------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("independent_platform")

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": self._registration().get_jwks()})

        @app.get("/frame")
        def frame():
            return (f'<h1>LMS</h1><iframe name="contentitem-page-iframe" src="{html.escape(request.args["src"])}" '
                    'style="width:900px;height:700px"></iframe>')

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            hint = json.loads(request.values["lti_message_hint"])
            launch = _Launch(_FlaskRequest(request), self._conf())
            user = hint["user"]
            launch.set_user_data(user["sub"], user.get("roles", [LEARNER]), user.get("name"), user.get("email"))
            launch.set_extra_claims({"https://purl.imsglobal.org/spec/lti/claim/ext": {
                k: v for k, v in {"user_username": user.get("username")}.items() if v}})
            launch.set_launch_context_claim(self.context_id, context_title="Lớp bồi dưỡng (LMS độc lập)")
            launch.set_nrps(f"{self.url}/nrps")
            launch.set_ags(f"{self.url}/lineitems")
            if hint.get("deep_linking"):
                launch.set_dl(f"{self.url}/deep_link_return", accept_types={"ltiResourceLink"},
                              extra_data={"placement": "section-1"})
            else:
                launch.set_resource_link_claim(hint.get("resource_link_id", "rl-1"))
                launch.set_custom_parameters_claim(hint.get("custom", {}))
            return launch.lti_launch()

        @app.post("/token")
        def token():
            if self.down:
                abort(503)
            return jsonify(self._conf().get_access_token(request.form.to_dict()))

        def bearer(*scopes: str) -> None:
            if self.down:
                abort(503)
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not self._conf().validate_token(token, allowed_scopes=list(scopes)):
                abort(401)

        @app.get("/nrps")
        def nrps():
            bearer(NRPS_SCOPE)
            return Response(json.dumps({"id": request.url, "context": {"id": self.context_id},
                                        "members": self.members}),
                            mimetype="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")

        @app.route("/lineitems", methods=["GET", "POST"])
        def lineitems():
            bearer(LINEITEM_SCOPE, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly")
            if request.method == "POST":
                item = json.loads(request.get_data())
                item["id"] = f"{self.url}/lineitems/{len(self.lineitems) + 1}"
                self.lineitems.append(item)
                return Response(json.dumps(item), mimetype="application/vnd.ims.lis.v2.lineitem+json")
            return Response(json.dumps(self.lineitems), mimetype="application/vnd.ims.lis.v2.lineitemcontainer+json")

        @app.post("/lineitems/<int:number>/scores")
        def scores(number: int):
            bearer(SCORE_SCOPE)
            self.scores.append({"lineitem": number, **json.loads(request.get_data())})
            return Response("OK", mimetype="text/plain")  # AGS defines no body: Moodle-like plain text

        @app.post("/deep_link_return")
        def deep_link_return():
            self.deep_link_items = self._conf().validate_deeplinking_resp(request.form.to_dict())
            return Response("Đã nhận nội dung", mimetype="text/plain")

        return app
