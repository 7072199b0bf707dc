"""Registers the essays feature with the host app."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the submission pages, API and CLI."""
