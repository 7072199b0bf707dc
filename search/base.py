"""What both essay indexes share: the result, the filters, and the public calls with their checks.

search.index (Whoosh files) and search.pg (a PostgreSQL table) subclass `EssaySearch` and answer
its hooks; callers see one interface whichever backend THUHOACH_SEARCH chose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from search.schema import COUNTABLE_FIELDS

MAX_PER_PAGE = 100


@dataclass
class SearchResult:
    """One page of hits, best first (or newest first when sorted by date)."""

    hits: list[tuple[str, float]]  # (essay_id, score)
    total: int  # exact when total_is_exact, else an estimate or a lower bound
    total_is_exact: bool
    is_phrase: bool  # a multi-syllable query was run as a phrase and its hits come first
    has_more: bool  # a next page exists
    page: int = 1
    per_page: int = 20
    terms: list[str] = field(default_factory=list)  # tokens the query looked for (exact or folded)
    phrase_total: int | None = None  # with exact_total: essays holding each run in a row
    timed_out: bool = False  # the time budget ran out: these are the hits found until then

    @property
    def ids(self) -> list[str]:
        """The essay ids of this page."""
        return [essay_id for essay_id, _ in self.hits]


@dataclass(frozen=True)
class Filters:
    """What a search is limited to; None means no limit, an empty list of units means none."""

    course_id: object = None
    topic_id: object = None
    unit_codes: Iterable[object] | None = None
    state: object = None
    themes: Iterable[str] | str | None = None
    trainee: str | None = None


def _empty(page: int, per_page: int) -> SearchResult:
    return SearchResult([], 0, True, False, False, page, per_page)


def _as_tuple(values: Iterable[object] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(sorted({str(v) for v in values}))


def _themes_value(themes: Iterable[str] | str | None) -> str:
    if not themes:
        return ""
    if isinstance(themes, str):
        themes = themes.split(",")
    return ",".join(t.strip() for t in themes if t and t.strip())


class EssaySearch:
    """The calls of an essay index; a backend implements _search, _totals and _count_by_fields."""

    def search(
        self,
        query: str,
        *,
        course_id: object = None,
        topic_id: object = None,
        unit_codes: Iterable[object] | None = None,
        state: object = None,
        themes: Iterable[str] | str | None = None,
        trainee: str | None = None,
        page: int = 1,
        per_page: int = 20,
        sort: str = "relevance",
        exact_total: bool = False,
    ) -> SearchResult:
        """Search essays; never raises on what a user typed. unit_codes=None means all units."""
        page = max(1, int(page or 1))
        per_page = min(MAX_PER_PAGE, max(1, int(per_page or 20)))
        filters = Filters(course_id, topic_id, unit_codes, state, themes, trainee)
        return self._search(query, filters, page, per_page, sort, exact_total)

    def totals(self, query: str, *, phrase_only: bool = False, **filters: Any) -> tuple[int, int]:
        """(total, phrase_total): essays holding every word as typed, and holding each run in a row.

        phrase_only=True skips the first count (answered 0) when the caller has it already.
        Filters as for search().
        """
        return self._totals(query, Filters(**filters), phrase_only)

    def count_by(self, field_name: str, query: str, **filters: Any) -> dict[str, int]:
        """Exact number of matching essays per value of a field (course_id, topic_id, unit_code, state)."""
        return self.count_by_fields((field_name,), query, **filters)[field_name]

    def count_by_fields(self, field_names: Iterable[str], query: str, **filters: Any) -> dict[str, dict[str, int]]:
        """Exact counts per value of several fields in one pass over the matches (the search page's
        side panel). Filters as for search()."""
        field_names = tuple(field_names)
        for name in field_names:
            if name not in COUNTABLE_FIELDS:
                raise ValueError(f"cannot count by {name!r}; use one of {COUNTABLE_FIELDS}")
        return self._count_by_fields(field_names, query, Filters(**filters))

    def _search(self, query: str, filters: Filters, page: int, per_page: int, sort: str,
                exact_total: bool) -> SearchResult:
        raise NotImplementedError

    def _totals(self, query: str, filters: Filters, phrase_only: bool) -> tuple[int, int]:
        raise NotImplementedError

    def _count_by_fields(self, field_names: tuple[str, ...], query: str,
                         filters: Filters) -> dict[str, dict[str, int]]:
        raise NotImplementedError
