"""Near-duplicate tagged passages: accent-folded texts compared with rapidfuzz, offered as groups."""
from __future__ import annotations

from sqlalchemy import select

from lms.db import db
from review.tagging.models import Tag


def similar_clusters(texts: list[str], threshold: int = 80) -> list[list[int]]:
    """Indexes of texts that are near-duplicates (token_set_ratio >= threshold), linked transitively."""
    from rapidfuzz import fuzz, process

    if len(texts) < 2:
        return []
    scores = process.cdist(texts, texts, scorer=fuzz.token_set_ratio, score_cutoff=threshold, workers=1)
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            # token_set_ratio is 100 when one text's words are a subset of the other's: ignore
            # very short passages so "cán bộ" does not join everything that mentions cán bộ.
            if scores[i][j] >= threshold and min(len(texts[i]), len(texts[j])) >= 12:
                parent[find(i)] = find(j)
    clusters: dict[int, list[int]] = {}
    for i in range(len(texts)):
        clusters.setdefault(find(i), []).append(i)
    return [members for members in clusters.values() if len(members) > 1]


def offered_groups(course_id: int, threshold: int = 80) -> list[list[Tag]]:
    """Groups of a course's tagged passages that look alike and are not yet one confirmed group."""
    tags = db.session.scalars(select(Tag).where(Tag.course_id == course_id).order_by(Tag.id)).all()
    from review.tagging.compilation import cluster_key

    by_id = {t.id: t for t in tags}
    offered = []
    for members in similar_clusters([t.folded for t in tags], threshold):
        group = [tags[i] for i in members]
        if len({cluster_key(t, by_id) for t in group}) == 1:
            continue  # already one confirmed group (or marked duplicates of one passage)
        offered.append(group)
    return offered
