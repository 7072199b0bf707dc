"""Near-duplicate passages and copied essays with MinHash LSH: found at scale, incrementally."""
from __future__ import annotations

import random

from review.tagging.similar import PassageGroups, copy_index
from tests.review.theme_passages import labelled_passages


def _reworded(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    i = rng.randrange(1, len(words))
    words.insert(i, rng.choice(["rất", "cần", "sớm", "thêm"]))
    return " ".join(words)


def test_groups_at_scale_link_rewordings_and_only_them():
    rng = random.Random(3)
    # 3,000 passages: distinct ones, plus 60 families of a passage and three rewordings of it.
    distinct = list(dict.fromkeys(text for text, _ in labelled_passages(per_theme=300, seed=9)))
    families = {f"f{k}": distinct.pop() for k in range(60)}
    items = [(f"d{i}", text) for i, text in enumerate(distinct[:2760])]
    for key, text in families.items():
        items += [(f"{key}.{j}", text if j == 0 else _reworded(text, rng)) for j in range(4)]
    rng.shuffle(items)
    index = PassageGroups(threshold=0.7)
    index.add_many(items[:2000])
    index.add_many(items[2000:])  # incrementally: only the new ones are looked up
    assert len(index) == len(items)
    groups = index.groups()
    whole = sum({f"{key}.{j}" for j in range(4)} <= set(index.similar_to(f"{key}.0")) | {f"{key}.0"}
                for key in families)
    alone = sum(not index.similar_to(f"{key}.{j}") for key in families for j in range(4))
    # A rewording may be closer to another group's first passage than to its own family's (a
    # passage of the same frame and nearly the same words): nearly every family stays whole.
    assert whole >= 0.9 * len(families) and alone <= 0.03 * 4 * len(families), (whole, alone)
    # Rewordings join their family; a family may meet a distinct passage written from the same
    # words, but no chain of small differences makes a giant group.
    assert max(len(g) for g in groups) < 30
    assert sizes_sorted(groups)


def sizes_sorted(groups):
    return [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)


def test_copied_essays_identical_and_edited_are_found_and_others_are_not():
    rng = random.Random(5)
    texts = [" ".join(t for t, _ in labelled_passages(per_theme=2, seed=s)) for s in range(40)]
    original = texts[7]
    words = original.split(" ")
    for _ in range(len(words) // 25):  # about 4 % of the words changed
        words[rng.randrange(len(words))] = "nhiều"
    items = [(f"e{i}", t) for i, t in enumerate(texts)] + [("copy", original), ("edited", " ".join(words))]
    by_key = dict(items)
    index = copy_index(by_key.__getitem__)
    index.add_many(items)
    assert set(index.similar_to("e7")) == {"copy", "edited"}
    assert index.similar_to("e8") == []
