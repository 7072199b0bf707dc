"""The essay index in PostgreSQL: the same interface and the same hits as the Whoosh EssayIndex.

Nothing lives per node: every app server reads the same table, so an essay is searchable from
all of them as soon as the transaction that indexed it commits. No Flask, no SQLAlchemy: the
index is given a callable returning a DB-API connection (psycopg 3), and `write_many` can run
inside a caller's own transaction.

The terms are ours, not PostgreSQL's parser's: each essay's tsvector holds what the Whoosh
analyzers yield (search.analysis), one lexeme space for the three fields::

    hoa          folded syllable, with positions (ranking counts them)
    =hòa         exact form with tone placement normalised, only when it differs from the folded one
    hoa binh     folded syllable pair, with positions (phrases are pairs in a row: 'a b' <-> 'b c')
    =hoà bình    exact pair where either syllable carries a mark, with the same positions

A query is parsed once by search.query (the Whoosh query tree, so both backends share one
reading of what a user typed) and translated to tsquery text here. Stages run in order as in
Whoosh: phrase holders first, then marks folded, then the words anywhere.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from typing import Any

from whoosh import query as wq

from search.analysis import document_terms, fold, syllables
from search.highlight import make_snippet
from search.index import MAX_PER_PAGE, SearchResult, _as_tuple, _empty, _themes_value
from search.query import TIME_BUDGET_SECONDS, ParsedQuery, SearchTimeout, parse_query
from search.schema import COUNTABLE_FIELDS

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "search"
# tsvector limits: positions above 16383 are not representable, 256 positions per lexeme at most.
_MAX_POS = 16383
_MAX_POSITIONS = 256
_EXACT = "="
# Ranking: ts_rank's normalisation 1 divides by 1 + log(length), as BM25 favours the shorter essay.
_RANK_NORM = 1
INDEX_KINDS = ("gin", "rum")
_WRITE_CHUNK = 200

Connect = Callable[[], Any]


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _positions(at: int | list[int]) -> str:
    if type(at) is int:
        return str(at + 1) if at < _MAX_POS else ""
    kept = [p + 1 for p in at if p < _MAX_POS][:_MAX_POSITIONS]  # type: ignore[union-attr]
    return ",".join(map(str, kept))


def tsvector_text(text: str) -> str:
    """The tsvector literal of a text: our analyzer's three term streams in one lexeme space."""
    text = unicodedata.normalize("NFC", text or "")
    exact, _folded, bigrams, exact_bigrams = document_terms(text)
    positions: dict[str, list[int]] = {}
    for pos, (_, f, _, _) in enumerate(syllables(text)):
        if pos >= _MAX_POS:
            break
        at = positions.setdefault(f, [])
        if len(at) < _MAX_POSITIONS:
            at.append(pos)
    parts = [f"{_lexeme(f)}:{','.join(str(p + 1) for p in at)}" for f, at in positions.items()]
    parts += [_lexeme(_EXACT + e) for e in exact if fold(e) != e]
    for gram, seen_at in bigrams.items():
        listed = _positions(seen_at)
        parts.append(f"{_lexeme(gram)}:{listed}" if listed else _lexeme(gram))
    for gram, seen_at in exact_bigrams.items():
        listed = _positions(seen_at)
        parts.append(f"{_lexeme(_EXACT + gram)}:{listed}" if listed else _lexeme(_EXACT + gram))
    return " ".join(parts)


def _term(field: str, text: str) -> str:
    if field == "exact_bigrams" or (field == "exact" and fold(text) != text):
        return _EXACT + text
    return text


def to_tsquery(q: wq.Query) -> str:
    """Translate a query of search.query into tsquery text (its input syntax, not to_tsquery)."""
    if isinstance(q, wq.Term):
        return _lexeme(_term(q.fieldname, q.text))
    if isinstance(q, wq.Prefix):
        return _lexeme(_term(q.fieldname, q.text)) + ":*"
    if isinstance(q, wq.Phrase):
        return "(" + " <-> ".join(_lexeme(_term(q.fieldname, w)) for w in q.words) + ")"
    if isinstance(q, wq.ConstantScoreQuery):
        return to_tsquery(q.child)
    if isinstance(q, wq.AndNot):
        return f"({to_tsquery(q.a)} & !{to_tsquery(q.b)})"
    if isinstance(q, (wq.Require, wq.AndMaybe)):
        # Require: both; AndMaybe: the second only adds score, so the matches are the first's.
        return f"({to_tsquery(q.a)} & {to_tsquery(q.b)})" if isinstance(q, wq.Require) else to_tsquery(q.a)
    if isinstance(q, wq.And):
        return "(" + " & ".join(to_tsquery(s) for s in q.subqueries) + ")"
    if isinstance(q, wq.Or):
        return "(" + " | ".join(to_tsquery(s) for s in q.subqueries) + ")"
    raise NotImplementedError(f"no tsquery for {type(q).__name__}")


def _row(doc: dict) -> tuple:
    text = unicodedata.normalize("NFC", doc.get("text") or "")
    themes = _themes_value(doc.get("themes"))
    trainee = unicodedata.normalize("NFC", str(doc.get("trainee") or ""))
    submitted = doc.get("submitted_at") if isinstance(doc.get("submitted_at"), datetime) else None

    def opt(name: str) -> str | None:
        return None if doc.get(name) is None else str(doc[name])

    return (
        str(doc["essay_id"]), opt("course_id"), opt("topic_id"), opt("unit_code"), opt("state"),
        [t for t in themes.split(",") if t], sorted({f for _, f, _, _ in syllables(trainee)}),
        submitted, tsvector_text(text), text,
    )


_UPSERT = """
INSERT INTO {table} (essay_id, course_id, topic_id, unit_code, state, themes, trainee,
                     submitted_at, terms, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::tsvector, %s)
ON CONFLICT (essay_id) DO UPDATE SET
  course_id = EXCLUDED.course_id, topic_id = EXCLUDED.topic_id, unit_code = EXCLUDED.unit_code,
  state = EXCLUDED.state, themes = EXCLUDED.themes, trainee = EXCLUDED.trainee,
  submitted_at = EXCLUDED.submitted_at, terms = EXCLUDED.terms, body = EXCLUDED.body
"""


def _chunks(docs: Iterable[dict], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for doc in docs:
        chunk.append(_row(doc))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_COLUMNS = "essay_id, course_id, topic_id, unit_code, state, themes, trainee, submitted_at, terms, body"


def _copy_rows(cur: Any, table: str, rows: list[tuple]) -> None:
    """COPY with psycopg 3 (several times faster than INSERT); executemany with another driver."""
    if hasattr(cur, "copy"):
        with cur.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join(["%s"] * 10)
        cur.executemany(f"INSERT INTO {table} ({_COLUMNS}) VALUES ({placeholders})", rows)


class PgEssayIndex:
    """Essays searchable in PostgreSQL; any number of processes on any number of servers."""

    def __init__(self, connect: Connect, *, index_kind: str = "gin", schema: str = DEFAULT_SCHEMA,
                 time_budget: float = TIME_BUDGET_SECONDS) -> None:
        """connect() returns a DB-API connection (closed after each use; a pool's proxy is fine).

        The table lives in its own PostgreSQL schema, apart from the application's tables
        (Alembic compares only those), and is created on first use. time_budget: seconds each
        reading statement may run (statement_timeout); beyond it the call raises SearchTimeout.
        """
        if index_kind not in INDEX_KINDS:
            raise ValueError(f"index_kind must be one of {INDEX_KINDS}")
        if not schema.isidentifier():
            raise ValueError("schema must be a plain identifier")
        self.schema = schema
        self.table = f"{schema}.essays"
        self._connect = connect
        self.index_kind = index_kind
        self.time_budget = time_budget
        self._schema_ready = False

    # -- connections and schema --------------------------------------------------------------

    @contextmanager
    def _cursor(self, write: bool = False, timed: bool = False) -> Iterator[Any]:
        if not self._schema_ready:
            self.ensure_schema()
        with closing(self._connect()) as conn:
            try:
                with closing(conn.cursor()) as cur:
                    if timed:
                        # Searches only (not indexing, not `search check`). LOCAL: it ends with
                        # this transaction, so a pooled connection goes back without it.
                        cur.execute("SELECT set_config('statement_timeout', %s, true)",
                                    (str(max(1, int(self.time_budget * 1000))),))
                    yield cur
                conn.commit() if write else conn.rollback()
            except BaseException as exc:
                conn.rollback()
                if getattr(exc, "sqlstate", None) == "57014":  # query_canceled: the statement_timeout
                    raise SearchTimeout() from exc
                raise

    def ensure_schema(self) -> None:
        """Create the schema, table and indexes once (several processes may start at once)."""
        with closing(self._connect()) as conn:
            try:
                with closing(conn.cursor()) as cur:
                    # DDL only when something is missing: even CREATE INDEX IF NOT EXISTS waits
                    # for every open write on the table.
                    if not self._schema_exists(cur):
                        cur.execute("SELECT pg_advisory_xact_lock(hashtext('thuhoach.search.schema'))")
                        for statement in self._ddl():
                            cur.execute(statement)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        self._schema_ready = True

    def _schema_exists(self, cur: Any) -> bool:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                    (self.table, f"{self.schema}.essays_terms"))
        return bool(cur.fetchone()[0])

    def _ddl(self, table: str = "", suffix: str = "") -> list[str]:
        table = table or self.table
        terms_index = (
            f"CREATE INDEX IF NOT EXISTS essays_terms{suffix} ON {table} USING rum (terms rum_tsvector_ops)"
            if self.index_kind == "rum"
            else f"CREATE INDEX IF NOT EXISTS essays_terms{suffix} ON {table} USING gin (terms)"
        )
        return [
            f"CREATE SCHEMA IF NOT EXISTS {self.schema}",
            *(["CREATE EXTENSION IF NOT EXISTS rum"] if self.index_kind == "rum" else []),
            f"""CREATE TABLE IF NOT EXISTS {table} (
                essay_id text PRIMARY KEY,
                course_id text, topic_id text, unit_code text, state text,
                themes text[] NOT NULL DEFAULT '{{}}', trainee text[] NOT NULL DEFAULT '{{}}',
                submitted_at timestamp,
                terms tsvector NOT NULL,
                body text NOT NULL DEFAULT '')""",
            terms_index,
            f"CREATE INDEX IF NOT EXISTS essays_unit{suffix} ON {table} (unit_code)",
            f"CREATE INDEX IF NOT EXISTS essays_submitted{suffix} ON {table} (submitted_at)",
        ]

    def close(self) -> None:
        """Nothing is held between calls; here for the interface."""

    def __enter__(self) -> PgEssayIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def write_many(self, cur: Any, docs: Iterable[dict]) -> int:
        """Add or replace essays with the caller's cursor, in the caller's transaction."""
        if not self._schema_ready:
            self.ensure_schema()
        n = 0
        for chunk in _chunks(docs, _WRITE_CHUNK):
            cur.executemany(_UPSERT.format(table=self.table), chunk)
            n += len(chunk)
        return n

    def upsert_many(self, docs: Iterable[dict]) -> int:
        """Add or replace essays in one transaction; returns once it has committed."""
        with self._cursor(write=True) as cur:
            return self.write_many(cur, docs)

    def delete_with(self, cur: Any, essay_ids: Iterable[object]) -> int:
        """Remove essays with the caller's cursor, in the caller's transaction."""
        ids = [str(i) for i in essay_ids]
        if not ids:
            return 0
        cur.execute(f"DELETE FROM {self.table} WHERE essay_id = ANY(%s)", (ids,))
        return int(cur.rowcount)

    def delete_many(self, essay_ids: Iterable[object]) -> int:
        """Remove essays; returns how many rows were deleted."""
        ids = [str(i) for i in essay_ids]
        if not ids:
            return 0
        with self._cursor(write=True) as cur:
            cur.execute(f"DELETE FROM {self.table} WHERE essay_id = ANY(%s)", (ids,))
            return cur.rowcount

    def rebuild(
        self,
        docs: Iterable[dict],
        progress: Callable[[int], None] | None = None,
        *,
        limitmb: int | None = None,
    ) -> int:
        """Build a new table from docs, index it once, then swap it in: readers see the old set until then."""
        del limitmb  # Whoosh's memory per segment; PostgreSQL builds with maintenance_work_mem
        if not self._schema_ready:
            self.ensure_schema()
        build = f"{self.schema}.essays_build"
        create, indexes = self._ddl(build, "_build")[-4], self._ddl(build, "_build")[-3:]
        n = 0
        with closing(self._connect()) as conn:
            try:
                with closing(conn.cursor()) as cur:
                    cur.execute(f"DROP TABLE IF EXISTS {build}")
                    cur.execute(create)
                    for chunk in _chunks(docs, _WRITE_CHUNK):
                        _copy_rows(cur, build, chunk)
                        before, n = n, n + len(chunk)
                        if progress and n // 1000 != before // 1000:
                            progress(n)
                    for statement in indexes:
                        cur.execute(statement)
                    cur.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
                    cur.execute(f"DROP TABLE {self.table}")
                    cur.execute(f"ALTER TABLE {build} RENAME TO essays")
                    for name in ("essays_terms", "essays_unit", "essays_submitted"):
                        cur.execute(f"ALTER INDEX {self.schema}.{name}_build RENAME TO {name}")
                    cur.execute(f"ALTER INDEX {self.schema}.essays_build_pkey RENAME TO essays_pkey")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        if progress:
            progress(n)
        logger.info("rebuilt the PostgreSQL search table with %d essays", n)
        return n

    # -- reading -----------------------------------------------------------------------------

    def doc_count(self) -> int:
        """Number of essays in the index."""
        with self._cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {self.table}")
            return int(cur.fetchone()[0])

    def all_ids(self) -> set[str]:
        """Ids of all essays, for the check/repair command."""
        with self._cursor() as cur:
            cur.execute(f"SELECT essay_id FROM {self.table}")
            return {row[0] for row in cur.fetchall()}

    @staticmethod
    def _filters(
        course_id: object,
        topic_id: object,
        unit_codes: Iterable[object] | None,
        state: object,
        themes: Iterable[str] | str | None,
        trainee: str | None,
    ) -> tuple[str, list[Any]] | None:
        """SQL conditions for the filters (values within one OR-ed); None when nothing can pass."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("course_id", course_id), ("topic_id", topic_id), ("state", state)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(str(value))
        units = _as_tuple(unit_codes)
        if units is not None:
            if not units:
                return None
            clauses.append("unit_code = ANY(%s)")
            params.append(list(units))
        wanted = _as_tuple(themes)
        if wanted is not None:
            if not wanted:
                return None
            clauses.append("themes && %s")
            params.append(list(wanted))
        if trainee:
            names = sorted({f for _, f, _, _ in syllables(trainee)})
            if names:
                clauses.append("trainee @> %s")
                params.append(names)
        return "".join(f" AND {c}" for c in clauses), params

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
        parsed = parse_query(query)
        if parsed.loose is None:
            return _empty(page, per_page)
        where = self._filters(course_id, topic_id, unit_codes, state, themes, trainee)
        if where is None:
            return _empty(page, per_page)
        with self._cursor(timed=True) as cur:
            return self._run(cur, parsed, where, page, per_page, sort, exact_total)

    def _rank(self) -> str:
        if self.index_kind == "rum":
            return "-(terms <=> q.q)"  # RUM orders by distance from its index, no heap reads
        return f"ts_rank(terms, q.q, {_RANK_NORM})"

    def _stage_hits(
        self, cur: Any, tsq: str, where: tuple[str, list[Any]], seen: list[str], limit: int
    ) -> list[tuple[str, float]]:
        cond, params = where
        exclude = " AND NOT (essay_id = ANY(%s))" if seen else ""
        # RUM walks its index in distance order only when that is the whole ORDER BY.
        order = "terms <=> q.q" if self.index_kind == "rum" else "rank DESC, essay_id"
        cur.execute(
            f"SELECT essay_id, {self._rank()} AS rank FROM {self.table}, (SELECT %s::tsquery AS q) q "
            f"WHERE terms @@ q.q{cond}{exclude} ORDER BY {order} LIMIT %s",
            [tsq, *params, *([seen] if seen else []), limit],
        )
        return [(essay_id, float(rank or 0.0)) for essay_id, rank in cur.fetchall()]

    def _run(
        self,
        cur: Any,
        parsed: ParsedQuery,
        where: tuple[str, list[Any]],
        page: int,
        per_page: int,
        sort: str,
        exact_total: bool,
    ) -> SearchResult:
        need = page * per_page + 1  # one more than the page needs tells whether a next page exists
        found: list[tuple[str, float]] = []
        is_phrase = False
        cond, params = where
        if sort == "date":
            loose = to_tsquery(parsed.loose)
            cur.execute(
                f"SELECT essay_id FROM {self.table} WHERE terms @@ %s::tsquery{cond} "
                "ORDER BY submitted_at DESC NULLS LAST, essay_id LIMIT %s",
                [loose, *params, need],
            )
            found = [(row[0], 0.0) for row in cur.fetchall()]
        else:
            for stage in parsed.stages:
                new = self._stage_hits(cur, to_tsquery(stage), where, [e for e, _ in found], need - len(found))
                if stage is parsed.stages[0]:
                    is_phrase = parsed.has_run and bool(new)
                found += new
                if len(found) >= need:
                    break
        complete = len(found) < need
        phrase_total = None
        if complete and not exact_total:
            total = len(found)
        else:
            total = self._count(cur, parsed.loose, where)
        if exact_total:
            phrase_total = total if parsed.strict == parsed.loose else self._count(cur, parsed.strict, where)
        start = (page - 1) * per_page
        return SearchResult(
            hits=found[start : start + per_page],
            total=total,
            total_is_exact=True,
            is_phrase=is_phrase,
            has_more=not complete,
            page=page,
            per_page=per_page,
            terms=sorted(parsed.terms),
            phrase_total=phrase_total,
        )

    def _count(self, cur: Any, q: wq.Query | None, where: tuple[str, list[Any]]) -> int:
        if q is None:
            return 0
        cond, params = where
        cur.execute(f"SELECT count(*) FROM {self.table} WHERE terms @@ %s::tsquery{cond}", [to_tsquery(q), *params])
        return int(cur.fetchone()[0])

    def totals(self, query: str, **filters: Any) -> tuple[int, int]:
        """(total, phrase_total): essays holding every word as typed, and holding each run in a row."""
        parsed = parse_query(query)
        names = ("course_id", "topic_id", "unit_codes", "state", "themes", "trainee")
        where = self._filters(*(filters.get(name) for name in names))
        if parsed.loose is None or where is None:
            return 0, 0
        with self._cursor(timed=True) as cur:
            total = self._count(cur, parsed.loose, where)
            if parsed.strict == parsed.loose:
                return total, total
            return total, self._count(cur, parsed.strict, where)

    def count_by(self, field_name: str, query: str, **filters: Any) -> dict[str, int]:
        """Exact number of matching essays per value of a field (course_id, topic_id, unit_code, state)."""
        return self.count_by_fields((field_name,), query, **filters)[field_name]

    def count_by_fields(
        self,
        field_names: Iterable[str],
        query: str,
        *,
        course_id: object = None,
        topic_id: object = None,
        unit_codes: Iterable[object] | None = None,
        state: object = None,
        themes: Iterable[str] | str | None = None,
        trainee: str | None = None,
    ) -> dict[str, dict[str, int]]:
        """Counts per value of several fields in one scan of the matches (the search page's side panel)."""
        field_names = tuple(field_names)
        for name in field_names:
            if name not in COUNTABLE_FIELDS:
                raise ValueError(f"cannot count by {name!r}; use one of {COUNTABLE_FIELDS}")
        counts: dict[str, dict[str, int]] = {name: {} for name in field_names}
        parsed = parse_query(query)
        where = self._filters(course_id, topic_id, unit_codes, state, themes, trainee)
        if parsed.loose is None or where is None or not field_names:
            return counts
        cond, params = where
        sets = ", ".join(f"({name})" for name in field_names)  # names checked above
        columns = ", ".join(field_names)
        with self._cursor(timed=True) as cur:
            cur.execute(
                f"SELECT {columns}, GROUPING({columns}), count(*) FROM {self.table} "
                f"WHERE terms @@ %s::tsquery{cond} GROUP BY GROUPING SETS ({sets})",
                [to_tsquery(parsed.loose), *params],
            )
            for row in cur.fetchall():
                values, grouping, n = row[: len(field_names)], row[-2], row[-1]
                for i, name in enumerate(field_names):
                    # GROUPING() sets bit (len-1-i) for a column not grouped in this row.
                    if not grouping & (1 << (len(field_names) - 1 - i)) and values[i] is not None:
                        counts[name][values[i]] = int(n)
        return counts

    def _bodies(self, essay_ids: list[str]) -> dict[str, str]:
        with self._cursor() as cur:
            cur.execute(f"SELECT essay_id, body FROM {self.table} WHERE essay_id = ANY(%s)", (essay_ids,))
            return dict(cur.fetchall())

    def snippet(self, essay_id_or_text: object, query: str) -> str:
        """HTML-escaped excerpt with <mark> around the original words that match the query."""
        text = str(essay_id_or_text)
        if len(text) <= 200:
            text = self._bodies([text]).get(text, text)
        return make_snippet(text, parse_query(query))

    def snippets(self, essay_ids: Iterable[object], query: str) -> dict[str, str]:
        """Snippets for a page of essays, parsing the query once; unknown ids are left out."""
        parsed = parse_query(query)
        bodies = self._bodies([str(i) for i in essay_ids])
        return {essay_id: make_snippet(body, parsed) for essay_id, body in bodies.items()}

    def table_bytes(self) -> int:
        """Size of the table, its TOAST and its indexes on disk."""
        with self._cursor() as cur:
            cur.execute("SELECT pg_total_relation_size(%s)", (self.table,))
            return int(cur.fetchone()[0])
