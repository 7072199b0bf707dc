"""Near-duplicates at a city's scale: MinHash with locality-sensitive hashing (datasketch), incremental.

Comparing every passage with every other is quadratic (45,000 passages: about a billion pairs).
Here each text becomes a set of shingles (folded syllables in runs of `shingle`), a MinHash
signature of that set, and LSH bands put texts whose sets probably overlap by at least
`threshold` (Jaccard) into the same bucket; only those candidates are checked, against the
signatures' estimated Jaccard, and linked transitively. Adding texts later only looks up the new
ones. Pure: no database; callers keep an index per course (passages) or per city (essays).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence

from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz

from review.tagging.learning import fold_syllables

# Shorter passages ("cán bộ") would join everything that mentions them.
MIN_SYLLABLES = 5


def shingles(text: str, size: int) -> set[bytes]:
    """The folded syllables of the text in overlapping runs of `size` (the whole text if shorter)."""
    syls = fold_syllables(text)
    if len(syls) <= size:
        return {" ".join(syls).encode()} if syls else set()
    return set(map(str.encode, map(" ".join, zip(*(syls[k:] for k in range(size))))))


class SimilarityIndex:
    """Texts grouped by estimated Jaccard similarity of their shingle sets, added incrementally."""

    def __init__(self, threshold: float = 0.7, shingle: int = 1, num_perm: int = 64,
                 verify: Callable[[Hashable, Hashable], bool] | None = None) -> None:
        """threshold: least estimated Jaccard for two texts to be linked; verify(a, b), if given,
        must also agree (e.g. a check on the texts themselves)."""
        self.threshold = threshold
        self.verify = verify
        self.shingle = shingle
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._hashes: dict[Hashable, MinHash] = {}
        self._parent: dict[Hashable, Hashable] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._hashes

    def _find(self, key: Hashable) -> Hashable:
        parent = self._parent
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def add_many(self, items: Iterable[tuple[Hashable, str]]) -> list[tuple[Hashable, Hashable]]:
        """Add (key, text) pairs not yet in the index; returns the new links (key, similar key)."""
        fresh = [(k, s) for k, t in items if k not in self._hashes
                 for s in [shingles(t, self.shingle)] if len(s) >= MIN_SYLLABLES - self.shingle + 1]
        if not fresh:
            return []
        hashes = MinHash.bulk([sorted(s) for _, s in fresh], num_perm=self.num_perm)
        links = []
        for (key, _), minhash in zip(fresh, hashes):
            self._parent[key] = key
            for other in self._lsh.query(minhash):
                if minhash.jaccard(self._hashes[other]) >= self.threshold and (
                    self.verify is None or self.verify(key, other)
                ):
                    links.append((key, other))
                    self._parent[self._find(key)] = self._find(other)
            self._lsh.insert(key, minhash, check_duplication=False)
            self._hashes[key] = minhash
        return links

    def remove(self, key: Hashable) -> None:
        """Forget a text (a replaced essay); groups already formed through it are kept."""
        if key in self._hashes:
            self._lsh.remove(key)
            del self._hashes[key]

    def similar_to(self, key: Hashable) -> list[Hashable]:
        """Keys in the same group as key (without it)."""
        if key not in self._parent:
            return []
        root = self._find(key)
        return [k for k in self._parent if k != key and self._find(k) == root]

    def groups(self, keys: Sequence[Hashable] | None = None) -> list[list[Hashable]]:
        """Groups of two or more linked keys (only among `keys` when given), largest first."""
        wanted = self._parent if keys is None else [k for k in keys if k in self._parent]
        by_root: dict[Hashable, list[Hashable]] = {}
        for key in wanted:
            by_root.setdefault(self._find(key), []).append(key)
        found = [members for members in by_root.values() if len(members) > 1]
        found.sort(key=lambda members: (-len(members), str(min(members, key=str))))
        return found


class PassageGroups:
    """Passages grouped around a first passage (leader clustering), added incrementally.

    Only each group's first passage (its leader) sits in the LSH index. A new passage joins the
    group of the most similar leader at or above the threshold, or starts a group. So no chain of
    small differences can pull unrelated passages into one giant group, and a lookup meets only
    leaders, not every look-alike passage already seen.
    """

    def __init__(self, threshold: float = 0.7, shingle: int = 1, num_perm: int = 64) -> None:
        """threshold: least estimated Jaccard between a passage and its group's leader."""
        self.threshold = threshold
        self.shingle = shingle
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._leaders: dict[Hashable, MinHash] = {}
        self._group_of: dict[Hashable, Hashable] = {}
        self._members: dict[Hashable, list[Hashable]] = {}

    def __len__(self) -> int:
        return len(self._group_of)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._group_of

    def add_many(self, items: Iterable[tuple[Hashable, str]]) -> int:
        """Add (key, text) pairs not yet in; returns how many joined an existing group."""
        fresh = [(k, s) for k, t in items if k not in self._group_of
                 for s in [shingles(t, self.shingle)] if len(s) >= MIN_SYLLABLES - self.shingle + 1]
        if not fresh:
            return 0
        joined = 0
        signatures = MinHash.bulk([sorted(s) for _, s in fresh], num_perm=self.num_perm)
        for (key, _), minhash in zip(fresh, signatures):
            best, best_score = None, self.threshold
            for leader in self._lsh.query(minhash):
                score = minhash.jaccard(self._leaders[leader])
                if score >= best_score:
                    best, best_score = leader, score
            if best is None:
                self._lsh.insert(key, minhash, check_duplication=False)
                self._leaders[key] = minhash
                self._group_of[key] = key
                self._members[key] = [key]
            else:
                self._group_of[key] = best
                self._members[best].append(key)
                joined += 1
        return joined

    def similar_to(self, key: Hashable) -> list[Hashable]:
        """The other members of key's group."""
        leader = self._group_of.get(key)
        return [] if leader is None else [k for k in self._members[leader] if k != key]

    def groups(self, keys: Sequence[Hashable] | None = None) -> list[list[Hashable]]:
        """Groups of two or more (only among `keys` when given), largest first."""
        wanted = None if keys is None else set(keys)
        found = [[k for k in members if wanted is None or k in wanted] for members in self._members.values()]
        found = [members for members in found if len(members) > 1]
        found.sort(key=lambda members: (-len(members), str(min(members, key=str))))
        return found


def copy_ratio(a: str, b: str) -> float:
    """How much of two texts is the same, 0-100 (rapidfuzz's Indel ratio on the folded syllables)."""
    return fuzz.ratio(" ".join(fold_syllables(a)), " ".join(fold_syllables(b)))


def copy_index(text_of: Callable[[Hashable], str], least_ratio: float = 90.0) -> SimilarityIndex:
    """An index that links essays identical or at least least_ratio % the same.

    Shingles of three syllables find candidates even when one word in twenty was changed; the
    texts (read through text_of) confirm them.
    """
    return SimilarityIndex(
        threshold=0.5, shingle=3, num_perm=128,
        verify=lambda a, b: copy_ratio(text_of(a), text_of(b)) >= least_ratio,
    )
