"""Near-duplicate tagged passages offered as groups: MinHash LSH leader clustering
(review.tagging.similar.PassageGroups), not all pairs.

Each course keeps, per web process, an index of its tagged passages that only looks up new tags;
it is rebuilt when a tag was removed or its text changed. Groups come largest first.
"""
from __future__ import annotations

import threading

from sqlalchemy import select

from lms.db import db
from review.tagging.models import Tag
from review.tagging.similar import PassageGroups

DEFAULT_THRESHOLD = 70  # per cent of shared syllables (Jaccard of the folded syllable sets)
_indexes: dict[tuple[int, int], tuple[dict[int, str], PassageGroups]] = {}
_lock = threading.Lock()


def similar_clusters(texts: list[str], threshold: int = DEFAULT_THRESHOLD) -> list[list[int]]:
    """Indexes of texts sharing at least threshold % of their syllables with their group's first, largest first."""
    index = PassageGroups(threshold=threshold / 100)
    index.add_many(enumerate(texts))
    return [sorted(members) for members in index.groups()]


def _course_index(course_id: int, threshold: int, texts: dict[int, str]) -> PassageGroups:
    key = (course_id, threshold)
    known = _indexes.get(key)
    if known is None or any(texts.get(tag_id) != text for tag_id, text in known[0].items()):
        known = ({}, PassageGroups(threshold=threshold / 100))
        _indexes[key] = known
    seen, index = known
    fresh = [(tag_id, text) for tag_id, text in texts.items() if tag_id not in seen]
    index.add_many(fresh)
    seen.update(fresh)
    return index


def offered_groups(course_id: int, threshold: int = DEFAULT_THRESHOLD) -> list[list[Tag]]:
    """Groups of a course's tagged passages that look alike and are not yet one confirmed group, largest first."""
    from review.tagging.compilation import cluster_key

    texts = dict(db.session.execute(select(Tag.id, Tag.folded).where(Tag.course_id == course_id)).all())
    with _lock:
        groups = _course_index(course_id, threshold, texts).groups(list(texts))
    wanted = {tag_id for members in groups for tag_id in members}
    by_id = {t.id: t for t in db.session.scalars(select(Tag).where(Tag.course_id == course_id))} if wanted else {}
    offered = []
    for members in groups:
        group = [by_id[i] for i in sorted(members)]
        if len({cluster_key(t, by_id) for t in group}) == 1:
            continue  # already one confirmed group (or marked duplicates of one passage)
        offered.append(group)
    return offered
