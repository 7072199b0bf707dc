"""The PostgreSQL part of bench/search.py (`--backend postgres` or `all`): search.pg on the same essays.

Builds the table through PgEssayIndex.rebuild (COPY, then the index), once with GIN and once with
RUM when --pg-index both, and times the query mix by kind: single syllables, phrases, marked words,
with a unit filter, and the search page's full work (hits + counts per unit and topic + totals).
Memory of the searching process is read from /proc/PID/smaps_rollup (PSS and private bytes), for
this process and for the PostgreSQL backend serving its connection.

Needs a database: --pg-url postgresql://thuhoach@127.0.0.1:55432/thuhoach_bench (its schema
`search_bench_<kind>_<n>` is replaced unless --pg-reuse finds it complete).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from search.analysis import has_marks
from search.pg import PgEssayIndex


def smaps_rollup(pid: int | str = "self") -> dict[str, float]:
    """Rss, Pss and private (clean + dirty) in MB from /proc/PID/smaps_rollup ({} where missing)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return {}
    kb = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            kb[parts[0].rstrip(":")] = int(parts[1])
    return {
        "rss": kb.get("Rss", 0) / 1024,
        "pss": kb.get("Pss", 0) / 1024,
        "private": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024,
    }


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
) -> dict:
    """Build (or reuse) n essays in PostgreSQL with one index kind and print its figures."""
    schema = f"search_bench_{kind}_{n}"  # one table per size: a 150,000 build keeps the 15,000 one
    index = PgEssayIndex(lambda: psycopg.connect(url), index_kind=kind, schema=schema)
    index.ensure_schema()
    t = time.perf_counter()
    reused = reuse and index.doc_count() == n
    if not reused:

        def progress(done: int) -> None:
            if done % 10000 == 0:
                print(f"  postgres/{kind} indexed {done} in {time.perf_counter() - t:.0f} s", flush=True)

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
    backend_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    me, server = smaps_rollup(), smaps_rollup(backend_pid)
    print(f"memory of the searching process: PSS {me.get('pss', 0):.0f} MB, private {me.get('private', 0):.0f} MB; "
          f"its PostgreSQL backend: PSS {server.get('pss', 0):.0f} MB, private {server.get('private', 0):.0f} MB "
          "(shared_buffers are shared by every backend)", flush=True)
    conn.close()
    return {"n": n, "kind": kind, "secs": secs, "size_mb": total, "figures": figures}


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
