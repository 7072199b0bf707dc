"""Registers the review feature with the host app."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the review pages, API and CLI."""
    from review import completeness_views, tagging_views

    tagging_views.init_app(app)
    completeness_views.init_app(app)
    __import__("review.report_views", fromlist=["init_app"]).init_app(app)  # one line in a shared file
