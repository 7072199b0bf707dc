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
from search.base import EssaySearch, Filters, SearchResult, _as_tuple, _empty, _themes_value
from search.highlight import make_snippet
from search.query import TIME_BUDGET_SECONDS, ParsedQuery, SearchTimeout, parse_query

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "search"
# tsvector limits: positions above 16383 are not representable, 256 positions per lexeme at most.
_MAX_POS = 16383
_MAX_POSITIONS = 256
_EXACT = "="
# Ranking: ts_rank's normalisation 1 divides by 1 + log(length), as BM25 favours the shorter essay.
_RANK_NORM = 1
INDEX_KINDS = ("gin", "rum")
# GIN's first stage: matches are ranked in blocks of this many. Each costs reading its ranking
# vector, and for words in a row its whole tsvector: at 15,000 essays (load 17) blocks of 200 gave
# p50/p95 52/174 ms, of 100 38/84 ms.
_BLOCK = 100
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
    return tsvector_texts(text)[0]


def tsvector_texts(text: str) -> tuple[str, str]:
    """The tsvector literals of a text: every term (matching), and its folded syllables alone (ranking).

    The second is what the GIN backend ranks by: ~8 KB where the whole vector is ~50 KB, and
    ts_rank reads the whole value of each essay it ranks.
    """
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
    ranking = " ".join(parts)
    parts += [_lexeme(_EXACT + e) for e in exact if fold(e) != e]
    for gram, seen_at in bigrams.items():
        listed = _positions(seen_at)
        parts.append(f"{_lexeme(gram)}:{listed}" if listed else _lexeme(gram))
    for gram, seen_at in exact_bigrams.items():
        listed = _positions(seen_at)
        parts.append(f"{_lexeme(_EXACT + gram)}:{listed}" if listed else _lexeme(_EXACT + gram))
    return " ".join(parts), ranking


def _term(field: str, text: str) -> str:
    if field == "exact_bigrams" or (field == "exact" and fold(text) != text):
        return _EXACT + text
    return text


def to_tsquery(q: wq.Query, *, in_a_row: bool = True) -> str:
    """Translate a query of search.query into tsquery text (its input syntax, not to_tsquery).

    in_a_row=False gives what GIN answers without reading a row: each phrase as its words
    anywhere, and no exclusion of a phrase, so that its matches hold every true match.
    """
    if isinstance(q, wq.Term):
        return _lexeme(_term(q.fieldname, q.text))
    if isinstance(q, wq.Prefix):
        return _lexeme(_term(q.fieldname, q.text)) + ":*"
    if isinstance(q, wq.Phrase):
        joint = " <-> " if in_a_row else " & "
        return "(" + joint.join(_lexeme(_term(q.fieldname, w)) for w in q.words) + ")"
    if isinstance(q, wq.ConstantScoreQuery):
        return to_tsquery(q.child, in_a_row=in_a_row)
    if isinstance(q, wq.AndNot):
        if not in_a_row and _has_phrase(q.b):
            return to_tsquery(q.a, in_a_row=False)
        return f"({to_tsquery(q.a, in_a_row=in_a_row)} & !{to_tsquery(q.b)})"
    if isinstance(q, (wq.Require, wq.AndMaybe)):
        # Require: both; AndMaybe: the second only adds score, so the matches are the first's.
        if isinstance(q, wq.AndMaybe):
            return to_tsquery(q.a, in_a_row=in_a_row)
        return f"({to_tsquery(q.a, in_a_row=in_a_row)} & {to_tsquery(q.b, in_a_row=in_a_row)})"
    if isinstance(q, wq.And):
        return "(" + " & ".join(to_tsquery(s, in_a_row=in_a_row) for s in q.subqueries) + ")"
    if isinstance(q, wq.Or):
        return "(" + " | ".join(to_tsquery(s, in_a_row=in_a_row) for s in q.subqueries) + ")"
    raise NotImplementedError(f"no tsquery for {type(q).__name__}")


def _has_phrase(q: wq.Query) -> bool:
    if isinstance(q, wq.Phrase):
        return len(q.words) > 1
    return any(_has_phrase(child) for child in q.children())


def _rank_words(q: wq.Query) -> set[str]:
    """The folded syllables a query looks for (not those it excludes), as tsquery operands of the
    ranking column."""
    if isinstance(q, wq.Prefix):
        return {_lexeme(fold(q.text)) + ":*"}
    if isinstance(q, wq.Term):
        return {_lexeme(fold(w)) for w in q.text.split()}
    if isinstance(q, wq.Phrase):
        return {_lexeme(fold(w)) for gram in q.words for w in gram.split()}
    if isinstance(q, wq.ConstantScoreQuery):
        return _rank_words(q.child)
    if isinstance(q, (wq.AndNot, wq.Require, wq.AndMaybe)):
        return _rank_words(q.a) | (set() if isinstance(q, wq.AndNot) else _rank_words(q.b))
    if isinstance(q, (wq.And, wq.Or)):
        return set().union(*(_rank_words(s) for s in q.subqueries))
    return set()


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
        submitted, *tsvector_texts(text), text,
    )


_UPSERT = """
INSERT INTO {table} (essay_id, course_id, topic_id, unit_code, state, themes, trainee,
                     submitted_at, terms, ranking, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::tsvector, %s::tsvector, %s)
ON CONFLICT (essay_id) DO UPDATE SET
  course_id = EXCLUDED.course_id, topic_id = EXCLUDED.topic_id, unit_code = EXCLUDED.unit_code,
  state = EXCLUDED.state, themes = EXCLUDED.themes, trainee = EXCLUDED.trainee,
  submitted_at = EXCLUDED.submitted_at, terms = EXCLUDED.terms, ranking = EXCLUDED.ranking,
  body = EXCLUDED.body
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


_COLUMNS = "essay_id, course_id, topic_id, unit_code, state, themes, trainee, submitted_at, terms, ranking, body"


def _copy_rows(cur: Any, table: str, rows: list[tuple]) -> None:
    """COPY with psycopg 3 (several times faster than INSERT); executemany with another driver."""
    if hasattr(cur, "copy"):
        with cur.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join(["%s"] * 11)
        cur.executemany(f"INSERT INTO {table} ({_COLUMNS}) VALUES ({placeholders})", rows)


class PgEssayIndex(EssaySearch):
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
        # For this transaction only. The planner prices `terms @@ q` on a row as cheap, but it
        # reads the row's whole tsvector (~40 KB out of line): a sequential scan, or an index scan
        # of another column filtered by @@, counted 2,000 essays in 257 ms where the GIN bitmap
        # took 2.6. Bitmap scans only (RUM keeps index scans: they are its ranking), and one
        # process per query, so that the first stage meets the matches in one order.
        settings = {"enable_seqscan": "off", "max_parallel_workers_per_gather": "0",
                    **({"enable_indexscan": "off"} if index_kind == "gin" else {})}
        self._read_settings = "SELECT " + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in settings.items())

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
                    if not write:
                        cur.execute(self._read_settings)
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
                    for statement in self._upgrades(cur):
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

    def _upgrades(self, cur: Any) -> list[str]:
        """What a table of an earlier version lacks: the ranking column (NULL: ranked by terms),
        and no B-tree that leads the planner to read every tsvector (see _ddl)."""
        cur.execute(
            "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM "
            "information_schema.columns WHERE table_schema = %s AND table_name = 'essays' AND column_name = 'ranking')",
            (f"{self.schema}.essays_unit", f"{self.schema}.essays_submitted", self.schema),
        )
        unit, submitted, ranking = cur.fetchone()
        return [
            *([f"DROP INDEX IF EXISTS {self.schema}.essays_unit"] if unit else []),
            *([f"DROP INDEX IF EXISTS {self.schema}.essays_submitted"] if submitted else []),
            *([] if ranking else [f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS ranking tsvector"]),
        ]

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
                ranking tsvector,
                body text NOT NULL DEFAULT '')""",
            # No B-tree on unit_code or submitted_at: the planner would fetch a unit's rows by it
            # and test `terms @@ q` on each, reading every tsvector (30 ms for 200 essays, against
            # 1 ms from the GIN bitmap with the unit tested on the row). See _read_settings.
            terms_index,
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
        create, index = self._ddl(build, "_build")[-2:]
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
                    cur.execute(index)
                    cur.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
                    cur.execute(f"DROP TABLE {self.table}")
                    cur.execute(f"ALTER TABLE {build} RENAME TO essays")
                    cur.execute(f"ALTER INDEX {self.schema}.essays_terms_build RENAME TO essays_terms")
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
    def _filters(filters: Filters) -> tuple[str, list[Any]] | None:
        """SQL conditions for the filters (values within one OR-ed); None when nothing can pass."""
        clauses: list[str] = []
        params: list[Any] = []
        f = filters
        for column, value in (("course_id", f.course_id), ("topic_id", f.topic_id), ("state", f.state)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(str(value))
        units = _as_tuple(f.unit_codes)
        if units is not None:
            if not units:
                return None
            clauses.append("unit_code = ANY(%s)")
            params.append(list(units))
        wanted = _as_tuple(f.themes)
        if wanted is not None:
            if not wanted:
                return None
            clauses.append("themes && %s")
            params.append(list(wanted))
        if f.trainee:
            names = sorted({folded for _, folded, _, _ in syllables(f.trainee)})
            if names:
                clauses.append("trainee @> %s")
                params.append(names)
        return "".join(f" AND {c}" for c in clauses), params

    def _search(self, query: str, filters: Filters, page: int, per_page: int, sort: str,
                exact_total: bool) -> SearchResult:
        parsed = parse_query(query)
        if parsed.loose is None:
            return _empty(page, per_page)
        where = self._filters(filters)
        if where is None:
            return _empty(page, per_page)
        with self._cursor(timed=True) as cur:
            return self._run(cur, parsed, where, page, per_page, sort, exact_total)

    def _matching(
        self, q: wq.Query, where: tuple[str, list[Any]], columns: str, seen: list[str] | None = None
    ) -> tuple[str, list[Any]]:
        """SQL selecting `columns` of the essays matching q and the filters (less `seen`), and its parameters.

        With GIN, words in a row need the row's tsvector (the index has no positions): the
        filters are tested first, in a subquery the planner may not merge (OFFSET 0), so that
        only the rows passing them are read. Else a unit filter came after reading every
        candidate (a phrase with a 4-unit filter took 300 ms at 15,000 essays).
        """
        cond, params = where
        exclude = " AND NOT (essay_id = ANY(%s))" if seen else ""
        params = [*params, *([seen] if seen else [])]
        tsq = to_tsquery(q)
        candidates = to_tsquery(q, in_a_row=False) if self.index_kind == "gin" else tsq
        if candidates == tsq:
            return f"SELECT {columns} FROM {self.table} WHERE terms @@ %s::tsquery{cond}{exclude}", [tsq, *params]
        return (
            f"SELECT {columns} FROM (SELECT {columns}, terms AS in_a_row FROM {self.table} "
            f"WHERE terms @@ %s::tsquery{cond}{exclude} OFFSET 0) candidates WHERE in_a_row @@ %s::tsquery",
            [candidates, *params, tsq],
        )

    def _stage_hits(
        self, cur: Any, stage: wq.Query, where: tuple[str, list[Any]], seen: list[str], limit: int
    ) -> list[tuple[str, float]]:
        """The next `limit` hits of one stage, best first, leaving out the essays already `seen`."""
        if self.index_kind == "rum":
            cond, params = where
            tsq = to_tsquery(stage)
            exclude = " AND NOT (essay_id = ANY(%s))" if seen else ""
            # RUM walks its index in distance order (the positions are in it): no heap read to rank.
            cur.execute(
                f"SELECT essay_id, -(terms <=> q.q) FROM {self.table}, (SELECT %s::tsquery AS q) q "
                f"WHERE terms @@ q.q{cond}{exclude} ORDER BY terms <=> q.q LIMIT %s",
                [tsq, *params, *([seen] if seen else []), limit],
            )
            return [(essay_id, float(rank or 0.0)) for essay_id, rank in cur.fetchall()]
        # GIN knows which essays hold the terms, not how often: ts_rank reads each essay's tsvector
        # (~40 KB, out of line). So a cheap first stage takes the matches in the order the bitmap
        # scan meets them, in blocks of _BLOCK, and only those are ranked, block by block: the
        # pages of one query are slices of one order, and a query with fewer matches than a
        # block is ranked over all of them.
        rank_query = " | ".join(sorted(_rank_words(stage))) or None  # None: nothing to rank by, 0
        # They are ranked by their folded syllables alone (the `ranking` column, ~8 KB, not ~50).
        wanted = -(-limit // _BLOCK) * _BLOCK
        matching, matching_params = self._matching(stage, where, "essay_id, terms, ranking", seen)
        cur.execute(
            f"SELECT essay_id, coalesce(ts_rank(coalesce(ranking, terms), %s::tsquery, {_RANK_NORM}), 0) AS rank "
            f"FROM (SELECT essay_id, terms, ranking, (row_number() OVER () - 1) / {_BLOCK} AS block "
            f"FROM ({matching} LIMIT %s) first_stage) c ORDER BY block, rank DESC, essay_id LIMIT %s",
            [rank_query, *matching_params, wanted, limit],
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
        if sort == "date":
            matching, params = self._matching(parsed.loose, where, "essay_id, submitted_at")
            cur.execute(
                f"SELECT essay_id FROM ({matching}) m ORDER BY submitted_at DESC NULLS LAST, essay_id LIMIT %s",
                [*params, need],
            )
            found = [(row[0], 0.0) for row in cur.fetchall()]
        else:
            for stage in parsed.stages:
                new = self._stage_hits(cur, stage, where, [e for e, _ in found], need - len(found))
                if stage is parsed.stages[0]:
                    is_phrase = parsed.has_run and bool(new)
                found += new
                if len(found) >= need:
                    break
        complete = len(found) < need
        phrase_total = None
        # As Whoosh with a filter: without exact_total a longer list gives a lower bound, since
        # counting every match of a common word costs more than the page (the search page counts
        # per unit and topic anyway).
        total, total_is_exact = len(found), complete
        if exact_total:
            total, total_is_exact = self._count(cur, parsed.loose, where), True
            phrase_total = total if parsed.strict == parsed.loose else self._count(cur, parsed.strict, where)
        start = (page - 1) * per_page
        return SearchResult(
            hits=found[start : start + per_page],
            total=total,
            total_is_exact=total_is_exact,
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
        matching, params = self._matching(q, where, "essay_id")
        cur.execute(f"SELECT count(*) FROM ({matching}) m", params)
        return int(cur.fetchone()[0])

    def _totals(self, query: str, filters: Filters, phrase_only: bool) -> tuple[int, int]:
        parsed = parse_query(query)
        where = self._filters(filters)
        if parsed.loose is None or where is None:
            return 0, 0
        with self._cursor(timed=True) as cur:
            total = 0 if phrase_only else self._count(cur, parsed.loose, where)
            if parsed.strict == parsed.loose and not phrase_only:
                return total, total
            return total, self._count(cur, parsed.strict, where)

    def _count_by_fields(self, field_names: tuple[str, ...], query: str,
                         filters: Filters) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {name: {} for name in field_names}
        parsed = parse_query(query)
        where = self._filters(filters)
        if parsed.loose is None or where is None or not field_names:
            return counts
        sets = ", ".join(f"({name})" for name in field_names)  # names checked above
        columns = ", ".join(field_names)
        with self._cursor(timed=True) as cur:
            matching, params = self._matching(parsed.loose, where, columns)
            cur.execute(
                f"SELECT {columns}, GROUPING({columns}), count(*) FROM ({matching}) m GROUP BY GROUPING SETS ({sets})",
                params,
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
