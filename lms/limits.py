"""Refusing a body over the limit so the client hears why.

Werkzeug refuses a body over MAX_CONTENT_LENGTH before reading any of it. The development server
then reads the rest itself, but gunicorn answers and closes the socket while the client is still
sending: the client sees a broken pipe (connection reset) instead of the Vietnamese 413. Reading
and discarding the body first lets the answer arrive.
"""
from __future__ import annotations

from flask import current_app, request

_CHUNK = 256 * 1024
# Beyond this many bytes the client is not a phone with a big file: stop reading and let it drop.
_DRAIN_FACTOR = 4


def drain_refused_body() -> None:
    """Read and discard the rest of a refused request body under gunicorn (its reader stops at the end)."""
    stream = request.environ.get("wsgi.input")
    if stream is None or "gunicorn.socket" not in request.environ:
        return
    budget = _DRAIN_FACTOR * int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    if (request.content_length or 0) > budget:
        return
    while budget > 0:
        chunk = stream.read(min(_CHUNK, budget))
        if not chunk:
            return
        budget -= len(chunk)
