"""LTI 1.3 tool: Moodle (or any LTI Advantage platform) launches thuhoach, syncs rosters, gets scores.

Host infrastructure, like `lms.api`: it imports no feature. What it needs from features (the page
a learner lands on, the score of a trainee on a topic) comes from hooks in `app.extensions` or
from endpoints and tables named in the configuration.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the LTI pages, CLI and the job that returns scores."""
    from lms.lti import cli, grades, views

    views.init_app(app)
    cli.init_app(app)
    grades.init_app(app)
