"""Named extension points between the host (`lms`) and the features: the only ones there are.

Two kinds, both listed in docs/ARCHITECTURE.md ("Hooks"):

- Providers (`Hook`): per-app lists of callables that the host, or another feature, asks for
  something. A feature registers in its `init_app` (`NAV.register(app, _nav)`); the asker calls
  `NAV.providers()`. Stored in `app.extensions` under `thuhoach.<name>`.
- Signals (blinker, as `flask.signals`): something happened; every listener reacts.
  `essay_version_stored` is sent by `essays.operations.submit_essay`; the LTI score return
  (`lms/lti/grades.py`) listens. The sender never knows who listens.

A feature reaches another only through these names, never through a table name in a string.
"""
from __future__ import annotations

from typing import Any, Callable

from blinker import Namespace
from flask import Flask, current_app


class Hook:
    """A named list of callables kept per app."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.key = f"thuhoach.{name}"
        self.__doc__ = doc

    def register(self, app: Flask, provider: Callable[..., Any]) -> Callable[..., Any]:
        """Add a provider for this app (features call it from their `init_app`)."""
        app.extensions.setdefault(self.key, []).append(provider)
        return provider

    def providers(self, app: Flask | None = None) -> list[Callable[..., Any]]:
        """The providers registered on the app (default: the current one), in registration order."""
        return list((app or current_app).extensions.get(self.key, []))

    def first(self, *args: Any, app: Flask | None = None) -> Any:
        """The first non-empty answer of the providers, None when none answers."""
        for provider in self.providers(app):
            answer = provider(*args)
            if answer:
                return answer
        return None

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"


# --- providers -------------------------------------------------------------------------------------

NAV = Hook("nav", "(user) -> [(url, label)]: menu entries; lms/pages.py shows them all.")
HOME = Hook("home", "(user) -> url | None: a feature's home page for a role; the first answer wins.")
DEMO = Hook("demo", "(course, people) -> [(role, username, password)]: steps of `flask demo` after the roster.")
INDEX_EXTRAS = Hook("index_extras", "(session, essay_ids) -> {essay_id: {field: value}}: more fields of an "
                                    "essay's search document (review adds its themes).")
THEME_CHOICES = Hook("theme_choices", "() -> [(value, label)]: themes the essay search offers as a filter.")
LTI_LEARNER_TARGET = Hook("lti_learner_target", "(user, topic) -> url | None: where a learner lands from the LMS.")
LTI_INSTRUCTOR_TARGET = Hook("lti_instructor_target", "(user, course) -> url | None: where a teacher lands.")
LTI_SUBMITTED = Hook("lti_submitted", "(topic_id, user_ids) -> {user_id}: who has handed in on a topic.")
COURSE_CHANGED = Hook("course_changed", "(course, changes) -> None: a course's name or deadlines changed "
                                        "(lms.courses.update_course, flushed): essays re-judge lateness, "
                                        "review notifies the trainees.")
ESSAY_API_FIELDS = Hook("essay_api_fields", "(essay, user) -> {field: value}: more fields of GET /api/v1/essays/<id>, "
                                            "each provider deciding who may see them (review: same_content_as).")
ESSAY_READING_URL = Hook("essay_reading_url", "(essay_id, user, query) -> url | None: where a search hit opens "
                                              "for this user (review: the reading and tagging view).")
USER_HAS_WORK = Hook("user_has_work", "(user_id) -> bool: whether a person has work of their own (an essay); "
                                      "LTI never merges such an account away.")


# --- signals ---------------------------------------------------------------------------------------

signals = Namespace()

essay_version_stored = signals.signal("essay-version-stored", doc="""\
A new essay version was written (flushed, not yet committed) by `essays.operations.submit_essay`.

Sender: the app. Keyword arguments: `session` (the writing session: add rows to it to write them in
the same transaction), `essay_id`, `trainee_id`, `topic_id`, `version_number`.
""")
