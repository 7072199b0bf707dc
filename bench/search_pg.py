"""The PostgreSQL part of bench/search.py (`--backend postgres` or `all`): search.pg on the same essays.

Builds the table through PgEssayIndex.rebuild (COPY, then the index), once with GIN and once with
RUM when --pg-index both, and times the query mix by kind: single syllables, phrases, marked words,
with a unit filter, and the search page's full work (hits + counts per unit and topic + totals).
Memory of searching processes (one, then two, as web processes with one pooled connection each)
is read from /proc/PID/smaps_rollup (PSS and private bytes), with that of the PostgreSQL backend
serving each connection.

Needs a database: --pg-url postgresql://thuhoach@127.0.0.1:55432/thuhoach_bench (its schema
`search_bench_<kind>_<n>` is replaced unless --pg-reuse finds it complete).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from search.analysis import has_marks
from search.pg import PgEssayIndex
from search.storage import memory_of

MIB = 1024 * 1024


def query_kinds(queries: list[str]) -> dict[str, list[str]]:
    """The query mix split by kind (a query may count in two kinds)."""
    words = [q for q in queries if len(q.split()) == 1 and q.isalpha()]
    return {
        "single syllables": words,
        "phrases": [q for q in queries if len(q.split()) > 1],
        "marked words": [q for q in queries if has_marks(q)],
        "all": queries,
    }


def bench_postgres(
    essays: Callable[[int], Iterator[dict]],
    n: int,
    url: str,
    kind: str,
    queries: list[str],
    units: list[str],
    rounds: int,
    time_queries: Callable[..., tuple[float, float]],
    reuse: bool = False,
    build_only: bool = False,
    copies_of: int = 0,
) -> dict:
    """Build (or reuse) n essays in PostgreSQL with one index kind and print its figures.

    copies_of=n0: the table is built in SQL from the finished n0-essay table, n / n0 copies of each
    row under new ids (same units, topics, terms): no Python analysis, only PostgreSQL's COPY-free
    insert and its index build. For when the machine cannot give the analysis of n new essays.
    """
    schema = f"search_bench_{kind}_{n}"  # one table per size: a 150,000 build keeps the 15,000 one
    index = PgEssayIndex(lambda: psycopg.connect(url), index_kind=kind, schema=schema)
    index.ensure_schema()
    t = time.perf_counter()
    reused = reuse and index.doc_count() == n
    if not reused:

        def progress(done: int) -> None:
            if done % 10000 == 0:
                print(f"  postgres/{kind} indexed {done} in {time.perf_counter() - t:.0f} s", flush=True)

        same_rows = f"search_bench_gin_{n}"
        if copies_of:
            _build_copies(url, index, f"search_bench_{kind}_{copies_of}", copies_of, n)
        elif kind == "rum" and _count(url, same_rows) == n:
            # The same rows as GIN's table (its analysis done once), indexed with RUM.
            copies_of = n
            _build_copies(url, index, same_rows, n, n)
        else:
            index.rebuild(essays(n), progress=progress)
    secs = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {schema}.essays")
        sizes = conn.execute(
            "SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)",
            (f"{schema}.essays",) * 3,
        ).fetchone()
    total, _heap, indexes = (s / 1e6 for s in sizes)
    build = "reused" if reused else f"{n / secs:.1f} essays/s, {secs:.0f} s"
    if copies_of and not reused:
        build += (f" (as {n // copies_of} copies of the {copies_of}-essay table, in SQL)" if copies_of < n
                  else " (the rows of GIN's table copied in SQL, then indexed: no analysis)")
    print(f"postgres/{kind}: {build}, table+TOAST+indexes {total:.0f} MB (indexes {indexes:.0f} MB); "
          f"load average {_load()}", flush=True)
    if build_only:
        return {"n": n, "kind": kind, "secs": secs, "size_mb": total, "figures": {}}

    # One connection held open, as a web process keeps one from its pool.
    conn = psycopg.connect(url)
    index_one = PgEssayIndex(lambda: _Borrowed(conn), index_kind=kind, schema=schema)
    runs = {
        "search": lambda q: index_one.search(q),
        "search unit filter": lambda q: index_one.search(q, unit_codes=units),
        "page (hits+counts+totals)": lambda q: (
            index_one.search(q),
            index_one.count_by_fields(("unit_code", "topic_id"), q),
            index_one.totals(q),
        ),
    }
    figures = {}
    for label, mix in query_kinds(queries).items():
        for name, run in runs.items():
            if label != "all" and name == "page (hits+counts+totals)":
                continue
            p50, p95 = time_queries(run, mix, rounds)
            figures[(label, name)] = (p50, p95)
            print(f"postgres/{kind} {label:17s} {name:27s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    print(f"per query (postgres/{kind}, ms, median of rounds):")
    for q in queries:
        p50 = time_queries(runs["search"], [q], rounds)[0]
        r = index_one.search(q, exact_total=True)
        print(f"  {q:32s} {p50:7.1f}  hits {r.total} (in a row {r.phrase_total})")
    memory_report_pg(url, kind, schema)
    conn.close()
    return {"n": n, "kind": kind, "secs": secs, "size_mb": total, "figures": figures}


def searcher_process_pg(url: str, kind: str, schema: str, queries: list[str], units: list[str]) -> None:
    """Child role (--searcher-pg): a web process's search work on one pooled connection, then report."""
    conn = psycopg.connect(url)
    index = PgEssayIndex(lambda: _Borrowed(conn), index_kind=kind, schema=schema)
    t = time.perf_counter()
    index.search(queries[0])
    first_ms = (time.perf_counter() - t) * 1000
    for q in queries:
        index.search(q)
        index.search(q, unit_codes=units)
        index.count_by_fields(("unit_code", "topic_id"), q)
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    print(json.dumps({"first_ms": first_ms, "memory": memory_of(), "backend": memory_of(backend)}), flush=True)
    sys.stdin.read()  # stay alive (holding the connection) until the parent closes stdin


def two_searchers(args: list[str]) -> tuple[dict, dict, dict]:
    """Start `bench/search.py *args` (a searcher role) twice, one after the other: the first's report,
    the second's, and the first's memory once both run. Both are stopped before returning."""
    def start() -> tuple[subprocess.Popen, dict]:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("search.py")), *args],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return proc, json.loads(proc.stdout.readline())

    first, one = start()
    second, two = start()
    again = memory_of(first.pid)
    for proc in (second, first):
        proc.stdin.close()  # the child waits for this, holding its index or connection
        proc.wait()
        proc.stdout.close()
    return one, two, again


def memory_report_pg(url: str, kind: str, schema: str) -> None:
    """Memory of one, then two searching processes (and of their PostgreSQL backends)."""
    one, two, again = two_searchers(["--searcher-pg", url, "--pg-index", kind, "--pg-schema", schema])

    def describe(mem: dict) -> str:
        return f"Pss {mem['Pss'] / MIB:5.0f}  private {mem['Private'] / MIB:5.0f} MiB"

    print(f"postgres/{kind} searching processes (after one pass over the mix, counts included):")
    for label, report in (("one process", one), ("second process", two)):
        print(f"  {label:15s} {describe(report['memory'])}; its PostgreSQL backend {describe(report['backend'])}; "
              f"first query {report['first_ms']:.0f} ms")
    print(f"  first, with two {describe(again)} (shared_buffers are shared by every backend)", flush=True)


def _count(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.essays",)).fetchone()[0] is None:
            return -1
        return int(conn.execute(f"SELECT count(*) FROM {schema}.essays").fetchone()[0])


def _build_copies(url: str, index: PgEssayIndex, source_schema: str, n0: int, n: int) -> None:
    """Fill index's table with n // n0 copies of the n0-essay table in source_schema, then index it."""
    source = f"{source_schema}.essays"
    build = f"{index.schema}.essays_build"
    create, terms_index = index._ddl(build, "_build")[-2:]
    with psycopg.connect(url) as conn:
        if conn.execute(f"SELECT count(*) FROM {source}").fetchone()[0] != n0:
            raise SystemExit(f"{source} does not hold {n0} essays: build it first")
        conn.execute(f"DROP TABLE IF EXISTS {build}")
        conn.execute(create)
        conn.execute(
            f"INSERT INTO {build} SELECT (essay_id::int + k * {n0})::text, course_id, topic_id, unit_code, state, "
            f"themes, trainee, submitted_at + k * interval '1 year', terms, ranking, body "
            f"FROM {source}, generate_series(0, {n // n0 - 1}) k"
        )
        conn.execute(terms_index)
        conn.execute(f"DROP TABLE IF EXISTS {index.table}")
        conn.execute(f"ALTER TABLE {build} RENAME TO essays")
        conn.execute(f"ALTER INDEX {index.schema}.essays_terms_build RENAME TO essays_terms")
        conn.execute(f"ALTER INDEX {index.schema}.essays_build_pkey RENAME TO essays_pkey")


def _load() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class _Borrowed:
    """A held connection handed out as if borrowed from a pool (close() gives it back)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def cursor(self):
        return self._conn.cursor()

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        pass
