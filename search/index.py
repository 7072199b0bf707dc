"""The essay index: one indexer process writes, any number of processes read.

Layout of the index folder::

    <path>/CURRENT          name of the live generation, replaced atomically (temp + rename)
    <path>/gen-000001/      a Whoosh index
    <path>/gen-000002/      the next one, built by rebuild() while readers use the previous

Readers check CURRENT and the Whoosh generation before each query, so they pick up both new
commits and a rebuilt index without restarting.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from whoosh import query as wq
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import Index
from whoosh.searching import Searcher

from search.analysis import syllables
from search.base import EssaySearch, Filters, SearchResult, _as_tuple, _empty, _themes_value
from search.bulk import BulkWriter
from search.highlight import make_snippet
from search.query import TIME_BUDGET_SECONDS, ParsedQuery, SearchTimeout, parse_query
from search.schema import build_schema
from search.storage import MappedStorage

logger = logging.getLogger(__name__)

_GEN_PREFIX = "gen-"
_FILTER_CACHE_SIZE = 256
_WRITE_LOCK_TIMEOUT = 60.0


def _fsync_on_close(f: StructFile) -> None:
    f.file.flush()
    os.fsync(f.file.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DurableStorage(MappedStorage):
    """Files reach the disk before the table of contents names them; read through shared maps."""

    def create_file(self, name, excl=False, mode="wb", **kwargs):
        kwargs.setdefault("onclose", _fsync_on_close)
        return super().create_file(name, excl=excl, mode=mode, **kwargs)

    def rename_file(self, oldname, newname, safe=False):
        # Whoosh commits by renaming the new TOC into place: make that rename durable too.
        super().rename_file(oldname, newname, safe=safe)
        _fsync_dir(Path(self.folder))


class _DeadlineCollector(TimeLimitCollector):
    """Whoosh's TimeLimitCollector against a clock read at each match, without its timer thread or
    SIGALRM (signals belong to the main thread, gunicorn's): a deadline shared by a search's stages."""

    def __init__(self, child, deadline: float) -> None:
        super().__init__(child, max(0.0, deadline - time.monotonic()), use_alarm=False)
        self.deadline = deadline

    def prepare(self, top_searcher, q, context) -> None:
        self.child.prepare(top_searcher, q, context)
        self.timedout = False

    def collect_matches(self) -> None:
        for sub_docnum in self.child.matches():
            if time.monotonic() >= self.deadline:
                self.timedout = True
                raise TimeLimit
            self.child.collect(sub_docnum)


def _within(docs: Iterable[int], deadline: float) -> Iterator[int]:
    """The documents of a full scan (counts), raising SearchTimeout once the deadline passes."""
    for n, docnum in enumerate(docs):
        if not n & 255 and time.monotonic() >= deadline:
            raise SearchTimeout()
        yield docnum


def _estimate(q: wq.Query, reader) -> int:
    """Rough number of matches from doc frequencies (Whoosh's own sums the parts of an And)."""
    if isinstance(q, (wq.AndMaybe, wq.AndNot, wq.Require)):
        return _estimate(q.a, reader)
    if isinstance(q, wq.And):
        return min(_estimate(sub, reader) for sub in q.subqueries)
    if isinstance(q, wq.Or):
        return min(reader.doc_count(), sum(_estimate(sub, reader) for sub in q.subqueries))
    if isinstance(q, wq.Phrase):
        return min(reader.doc_frequency(q.fieldname, w) for w in q.words)
    return q.estimate_size(reader)


def essay_fields(doc: dict) -> dict:
    """Map an essay dict to index fields; the text is stored NFC so snippet offsets match."""
    text = unicodedata.normalize("NFC", doc.get("text") or "")
    fields: dict[str, object] = {"essay_id": str(doc["essay_id"])}
    for name in ("course_id", "topic_id", "unit_code", "state"):
        if doc.get(name) is not None:
            fields[name] = str(doc[name])
    if doc.get("trainee"):
        fields["trainee"] = unicodedata.normalize("NFC", str(doc["trainee"]))
    themes = _themes_value(doc.get("themes"))
    if themes:
        fields["themes"] = themes
    if isinstance(doc.get("submitted_at"), datetime):
        fields["submitted_at"] = doc["submitted_at"]
    fields.update(exact=text, folded=text, bigrams=text, exact_bigrams=text, body=text)
    return fields


def _collect(s: Searcher, q: wq.Query, deadline: float, **kwargs: Any) -> tuple[Any, bool]:
    """Run one query through Searcher.collector(**kwargs) until the deadline: (results, timed out)."""
    collector = _DeadlineCollector(s.collector(**kwargs), deadline)
    try:
        s.search_with_collector(q, collector)
    except TimeLimit:
        pass
    return collector.results(), collector.timedout


class EssayIndex(EssaySearch):
    """A Whoosh index of essays with generations, one cached searcher and Vietnamese queries."""

    def __init__(self, path: str | os.PathLike[str], *, time_budget: float = TIME_BUDGET_SECONDS) -> None:
        """Open the index at path, creating an empty one if there is none.

        time_budget: seconds one call may spend matching (search: the hits found by then, flagged
        timed_out; counts: SearchTimeout). It bounds how long the process-wide lock is held.
        """
        self.path = Path(path)
        self.time_budget = time_budget
        self._lock = threading.RLock()
        self._gen: str | None = None
        self._ix: Index | None = None
        self._searcher: Searcher | None = None
        self._filters: dict[tuple, set[int]] = {}
        self._ids_column = None
        self._ensure_index()

    # -- generations -------------------------------------------------------------------------

    def _read_current(self) -> str | None:
        try:
            name = (self.path / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.path / name).is_dir() else None

    def _write_current(self, name: str) -> None:
        tmp = self.path / f"CURRENT.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / "CURRENT")
        _fsync_dir(self.path)

    def _generations(self) -> list[str]:
        return sorted(p.name for p in self.path.glob(_GEN_PREFIX + "*") if p.is_dir())

    def _next_generation(self) -> str:
        gens = self._generations()
        last = int(gens[-1][len(_GEN_PREFIX) :]) if gens else 0
        return f"{_GEN_PREFIX}{last + 1:06d}"

    def _storage(self, name: str) -> FileStorage:
        """The storage of one generation (bench/search.py swaps in Whoosh's own to compare)."""
        return _DurableStorage(str(self.path / name))

    def _create_generation(self, name: str) -> Index:
        storage = self._storage(name)
        storage.create()
        return storage.create_index(build_schema())

    def _ensure_index(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if self._read_current():
            return
        # Several processes may start at once on an empty folder: let one create it.
        with open(self.path / ".create.lock", "w") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)
            if not self._read_current():
                name = self._next_generation()
                self._create_generation(name).close()
                self._write_current(name)
                logger.info("created empty search index %s", self.path / name)

    def _index(self) -> Index:
        """Return the live generation's index, switching if CURRENT moved."""
        name = self._read_current()
        if name is None:
            self._ensure_index()
            name = self._read_current()
        assert name is not None  # _ensure_index wrote CURRENT
        if name != self._gen or self._ix is None:
            self._close_searcher()
            if self._ix is not None:
                self._ix.close()
            self._ix = self._storage(name).open_index()
            self._gen = name
        return self._ix

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = None
        self._filters.clear()
        self._ids_column = None

    def _fresh_searcher(self) -> Searcher:
        """Return this process's searcher, refreshed if the index changed since the last call."""
        ix = self._index()
        if self._searcher is None:
            self._searcher = ix.searcher()
        elif not self._searcher.up_to_date():
            # A new searcher rather than Searcher.refresh(): in whoosh3 3.54 refresh() fails on an
            # empty index, and its reader reuse keeps segments that a merge replaced, so hits
            # came twice (tests/search/test_index.py, the threads test). Closing also drops the
            # filter cache, whose document numbers move when segments change.
            self._close_searcher()
            self._searcher = ix.searcher()
        return self._searcher

    def close(self) -> None:
        """Release the searcher and the index files."""
        with self._lock:
            self._close_searcher()
            if self._ix is not None:
                self._ix.close()
            self._ix, self._gen = None, None

    def __enter__(self) -> EssayIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing (single indexer process) ----------------------------------------------------

    def upsert_many(self, docs: Iterable[dict]) -> int:
        """Add or replace essays in one commit; returns once the commit is on disk."""
        with self._lock:
            ix = self._index()
            known = set(ix.schema.names())
            if known != set(build_schema().names()):
                logger.warning("search index %s predates the schema: run `flask search reindex`", self.path)
            writer = ix.writer(timeout=_WRITE_LOCK_TIMEOUT)
            n = 0
            try:
                for doc in docs:
                    writer.update_document(**{k: v for k, v in essay_fields(doc).items() if k in known})
                    n += 1
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            return n

    def delete_many(self, essay_ids: Iterable[object]) -> int:
        """Remove essays in one commit; returns how many documents were deleted."""
        with self._lock:
            writer = self._index().writer(timeout=_WRITE_LOCK_TIMEOUT)
            n = 0
            try:
                for essay_id in essay_ids:
                    n += writer.delete_by_term("essay_id", str(essay_id))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            return n

    def rebuild(
        self,
        docs: Iterable[dict],
        progress: Callable[[int], None] | None = None,
        *,
        limitmb: int = 1024,
    ) -> int:
        """Build a new generation from docs, then switch readers to it atomically.

        Postings are held in memory (search.bulk.BulkWriter) and written as one segment per
        limitmb of them, roughly 30,000 essays of 1,500 words per GB.
        """
        with self._lock:
            name = self._next_generation()
            ix = self._create_generation(name)
            writer = None
            n = 0
            try:
                writer = BulkWriter(ix, limitmb=limitmb)
                for doc in docs:
                    writer.add_document(**essay_fields(doc))
                    n += 1
                    if writer.is_full():
                        # No merge: Whoosh would push every posting through its slow path again.
                        writer.commit(merge=False)
                        writer = BulkWriter(ix, limitmb=limitmb)
                    if progress and n % 1000 == 0:
                        progress(n)
                writer.commit(merge=False)
            except BaseException:
                if writer is not None and not writer.is_closed:
                    writer.cancel()
                ix.close()
                shutil.rmtree(self.path / name, ignore_errors=True)
                raise
            ix.close()
            previous = self._read_current()
            self._write_current(name)
            if progress:
                progress(n)
            # Keep the previous generation: a reader may be in the middle of a query on it.
            for old in self._generations():
                if old not in (name, previous):
                    shutil.rmtree(self.path / old, ignore_errors=True)
            logger.info("rebuilt search index %s with %d essays", self.path / name, n)
            return n

    # -- reading -----------------------------------------------------------------------------

    def doc_count(self) -> int:
        """Number of live essays in the index."""
        with self._lock:
            return self._fresh_searcher().doc_count()

    def all_ids(self) -> set[str]:
        """Ids of all live essays, for the check/repair command."""
        with self._lock:
            s = self._fresh_searcher()
            if s.doc_count_all() == 0:
                return set()  # an empty index has no columns to read
            column = self._essay_ids(s)
            return {column[d] for d in s.reader().all_doc_ids()}

    def _parse(self, query: str) -> ParsedQuery:
        """Parse for the live generation: one built before exact_bigrams reads phrases without it."""
        ix = self._index()
        return parse_query(query, exact_bigrams="exact_bigrams" in ix.schema)

    def _essay_ids(self, s: Searcher):
        if self._ids_column is None:
            self._ids_column = s.reader().column_reader("essay_id")
        return self._ids_column

    def _docset(self, s: Searcher, key: tuple, q: wq.Query) -> set[int]:
        docs = self._filters.get(key)
        if docs is None:
            if len(self._filters) >= _FILTER_CACHE_SIZE:
                self._filters.clear()
            docs = self._filters[key] = set(s.docs_for_query(q))
        return docs

    def _allowed(self, s: Searcher, filters: Filters) -> tuple[set[int] | None, wq.Query | None]:
        """Docnums passing every filter and the same filter as a query (None, None: no filter).

        Values within a filter are OR-ed. The set serves full scans (counts); the query serves
        top-hit collection, where intersecting posting lists beats testing every match against
        a set (2-3x faster on unit filters at 15,000 essays).
        """
        f = filters
        wanted = [
            ("course_id", _as_tuple(None if f.course_id is None else [f.course_id])),
            ("topic_id", _as_tuple(None if f.topic_id is None else [f.topic_id])),
            ("unit_code", _as_tuple(f.unit_codes)),
            ("state", _as_tuple(None if f.state is None else [f.state])),
            ("themes", _as_tuple(f.themes)),
        ]
        sets, queries = [], []
        for name, values in wanted:
            if values is None:
                continue
            if not values:
                return set(), None  # e.g. a user allowed in no unit sees nothing
            q = wq.Or([wq.Term(name, v) for v in values])
            sets.append(self._docset(s, (name, values), q))
            queries.append(q)
        if f.trainee:
            names = tuple(folded for _, folded, _, _ in syllables(f.trainee))
            if names:
                q = wq.And([wq.Term("trainee", n) for n in names])
                sets.append(self._docset(s, ("trainee", names), q))
                queries.append(q)
        if not sets:
            return None, None
        sets.sort(key=len)
        allowed = sets[0]
        for other in sets[1:]:
            allowed = allowed & other
        # Score 0: a filter must not change the order of hits.
        return allowed, wq.ConstantScoreQuery(wq.And(queries) if len(queries) > 1 else queries[0], 0.0)

    def _search(self, query: str, filters: Filters, page: int, per_page: int, sort: str,
                exact_total: bool) -> SearchResult:
        with self._lock:
            parsed = self._parse(query)
            if parsed.loose is None:
                return _empty(page, per_page)
            s = self._fresh_searcher()
            if s.doc_count_all() == 0:
                return _empty(page, per_page)
            allowed, filter_q = self._allowed(s, filters)
            if allowed is not None and not allowed:
                return _empty(page, per_page)
            return self._run(s, parsed, allowed, filter_q, page, per_page, sort, exact_total)

    # long: query, filters, sort and paging of one search in one place
    def _run(
        self,
        s: Searcher,
        parsed: ParsedQuery,
        allowed: set[int] | None,
        filter_q: wq.Query | None,
        page: int,
        per_page: int,
        sort: str,
        exact_total: bool,
    ) -> SearchResult:
        # One more than the page needs tells whether a next page exists.
        need = page * per_page + 1
        found: list[tuple[int, float]] = []
        is_phrase = timed_out = False
        deadline = time.monotonic() + self.time_budget
        if sort == "date":
            results, timed_out = _collect(s, parsed.loose, deadline, limit=need, filter=allowed,
                                          sortedby="submitted_at", reverse=True)
            found = [(hit.docnum, 0.0) for hit in results]
        else:
            seen: set[int] = set()
            for stage in parsed.stages:
                q = stage if filter_q is None else wq.And([stage, filter_q])
                results, timed_out = _collect(s, q, deadline, limit=need - len(found), mask=seen or None)
                new = [(hit.docnum, hit.score) for hit in results]
                if stage is parsed.stages[0]:
                    is_phrase = parsed.has_run and bool(new)
                found += new
                seen.update(d for d, _ in new)
                if len(found) >= need or timed_out:
                    break

        if timed_out:
            # What was found in time, best first; no count is attempted (it would scan every match).
            column = self._essay_ids(s)
            start = (page - 1) * per_page
            hits = [(column[d], float(score or 0.0)) for d, score in found[start : start + per_page]]
            return SearchResult(hits=hits, total=len(found), total_is_exact=False, is_phrase=is_phrase,
                                has_more=len(found) > start + per_page, page=page, per_page=per_page,
                                terms=sorted(parsed.terms), timed_out=True)
        complete = len(found) < need
        phrase_total = None
        if exact_total:
            total = self._count(s, parsed.loose, allowed, deadline)
            phrase_total = (total if parsed.strict == parsed.loose
                            else self._count(s, parsed.strict, allowed, deadline))
            total_is_exact = True
        elif complete:
            total, total_is_exact = len(found), True
        elif allowed is None:
            total = max(len(found), _estimate(parsed.loose, s.reader()))
            total_is_exact = False
        else:
            # An estimate from the whole index would count other units' essays: give a lower bound.
            total, total_is_exact = len(found), False

        column = self._essay_ids(s)
        start = (page - 1) * per_page
        hits = [(column[d], float(score or 0.0)) for d, score in found[start : start + per_page]]
        return SearchResult(
            hits=hits,
            total=total,
            total_is_exact=total_is_exact,
            is_phrase=is_phrase,
            has_more=not complete,
            page=page,
            per_page=per_page,
            terms=sorted(parsed.terms),
            phrase_total=phrase_total,
        )

    @staticmethod
    def _count(s: Searcher, q: wq.Query | None, allowed: set[int] | None, deadline: float) -> int:
        if q is None:
            return 0
        return sum(1 for d in _within(s.docs_for_query(q), deadline) if allowed is None or d in allowed)

    def _totals(self, query: str, filters: Filters, phrase_only: bool) -> tuple[int, int]:
        with self._lock:
            parsed = self._parse(query)
            if parsed.loose is None:
                return 0, 0
            s = self._fresh_searcher()
            if s.doc_count_all() == 0:
                return 0, 0
            allowed, _ = self._allowed(s, filters)
            if allowed is not None and not allowed:
                return 0, 0
            deadline = time.monotonic() + self.time_budget
            total = 0 if phrase_only else self._count(s, parsed.loose, allowed, deadline)
            if parsed.strict == parsed.loose and not phrase_only:
                return total, total
            return total, self._count(s, parsed.strict, allowed, deadline)

    def _count_by_fields(self, field_names: tuple[str, ...], query: str,
                         filters: Filters) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter] = {name: Counter() for name in field_names}
        with self._lock:
            parsed = self._parse(query)
            if parsed.loose is None:
                return {name: {} for name in field_names}
            s = self._fresh_searcher()
            if s.doc_count_all() == 0:
                return {name: {} for name in field_names}
            allowed, _ = self._allowed(s, filters)
            if allowed is not None and not allowed:
                return {name: {} for name in field_names}
            columns = [(name, s.reader().column_reader(name)) for name in field_names]
            for d in _within(s.docs_for_query(parsed.loose), time.monotonic() + self.time_budget):
                if allowed is None or d in allowed:
                    for name, column in columns:
                        counts[name][column[d]] += 1
        return {name: dict(c) for name, c in counts.items()}

    def snippet(self, essay_id_or_text: object, query: str) -> str:
        """HTML-escaped excerpt with <mark> around the original words that match the query."""
        text = str(essay_id_or_text)
        with self._lock:
            parsed = self._parse(query)
            s = self._fresh_searcher()
            docnum = s.document_number(essay_id=text) if len(text) <= 200 else None
            if docnum is not None:
                text = s.stored_fields(docnum).get("body", "")
        return make_snippet(text, parsed)

    def snippets(self, essay_ids: Iterable[object], query: str) -> dict[str, str]:
        """Snippets for a page of essays, parsing the query once; unknown ids are left out."""
        out = {}
        with self._lock:
            parsed = self._parse(query)
            s = self._fresh_searcher()
            for essay_id in essay_ids:
                docnum = s.document_number(essay_id=str(essay_id))
                if docnum is not None:
                    out[str(essay_id)] = make_snippet(s.stored_fields(docnum).get("body", ""), parsed)
        return out
