"""Fixtures of the review tests; each area keeps its fixtures in its own module, imported here."""
from __future__ import annotations

from tests.review.tagging_world import essay_of, world  # noqa: F401  (fixtures of the tagging tests)
