"""thuhoach host application: app factory, configuration and the features it loads."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from lms.config import build_config
from lms.params import MAX_ID

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` for ids: a number beyond a 32-bit INTEGER column (PostgreSQL's, the smaller one)
    becomes 0, which no row has, so the view answers 404.

    Not werkzeug's `max`: a converter that refuses makes the router try the other rules of the
    same path and answer 405 with their methods (DELETE /api/v1/tags/<huge> was a 405).
    """

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= MAX_ID else 0


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the thuhoach application; `config` overrides the environment (tests pass one)."""
    app = Flask(
        "lms",
        instance_relative_config=True,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
    )
    # Ids in URLs fit the database's INTEGER: a larger number is a 404, never an overflow.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_mapping(build_config(Path(app.instance_path), config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    proxies = int(app.config.get("PROXIES") or 0)
    if proxies:
        # Behind nginx: the client's address and scheme come from the last `proxies` hops of
        # X-Forwarded-For/-Proto (never more: a client can write anything further left).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    _init_core(app)
    return app


def init_app(host_app: Flask, url_prefix: str = "/thuhoach", config: dict[str, Any] | None = None) -> Flask:
    """Mount the whole of thuhoach inside another Flask application under `url_prefix`.

    thuhoach stays its own Flask app (its login manager, CSRF, error pages, before/after-request
    hooks and session never mix with the host's), dispatched by URL prefix; see ARCHITECTURE.md.
    Returns the thuhoach app (also kept in host_app.extensions["thuhoach"]).
    """
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    prefix = "/" + url_prefix.strip("/")
    settings = {
        # Own cookies, scoped to the prefix, so the host's session and ours never overwrite each other.
        "SESSION_COOKIE_NAME": "thuhoach_session",
        "SESSION_COOKIE_PATH": prefix,
        "REMEMBER_COOKIE_NAME": "thuhoach_remember",
        "REMEMBER_COOKIE_PATH": prefix,
        # url_for outside a request (CLI, jobs, e-mails) builds URLs under the prefix too.
        "APPLICATION_ROOT": prefix,
        **(config or {}),
    }
    app = create_app(settings)
    host_app.wsgi_app = DispatcherMiddleware(host_app.wsgi_app, {prefix: app})  # type: ignore[method-assign]
    host_app.extensions["thuhoach"] = app
    return app


def _init_core(app: Flask) -> None:
    from lms import api, auth, cli, db as dbmod, jobs, lti, pages, roster_views, security

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    dbmod.db.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    pages.init_app(app)
    api.init_app(app)
    roster_views.init_app(app)
    cli.init_app(app)
    jobs.init_app(app)
    lti.init_app(app)
    load_features(app)


def load_features(app: Flask) -> None:
    """Import each feature package named in FEATURES and let it register itself."""
    for name in app.config["FEATURES"]:
        module = importlib.import_module(f"{name}.blueprint")
        module.init_app(app)
