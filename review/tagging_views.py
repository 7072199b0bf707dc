"""Tagging pages: codebook, reading view, suggestions, queue and assignments, compilation, groups."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("tagging", __name__, url_prefix="/review")


def init_app(app: Flask) -> None:
    """Register the tagging pages, API, CLI, menu entries and demo step."""
    from review import tagging_api
    from review.tagging_cli import themes_cli

    app.register_blueprint(bp)
    tagging_api.init_app(app)
    app.cli.add_command(themes_cli)
