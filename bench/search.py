"""Print search figures: indexing throughput, index size, query p50/p95, against SQLite FTS5.

Run: .venv/bin/python bench/search.py [--sizes 15000,150000] [--quick] [--workdir DIR] [--limitmb MB]
     [--backend whoosh|postgres|all] [--pg-url URL] [--pg-index gin|rum|both]
     [--build-only] | --alternate WORKDIR/whoosh-<n> [--blocks 4] [--rounds 5]

Essays of ~1,500 words are made by concatenating Vietnamese Wikipedia articles from
../shared/data/viwiki_essays.jsonl.gz (CC BY-SA, Wikipedia contributors), or from the 360-article
sample in tests/data/ when ../shared is not there (a fresh clone). Both engines index the same
essays and answer the same queries in the same run.

Also prints the memory of searching processes (Rss, Pss, private bytes from
/proc/PID/smaps_rollup, one and two processes) and their first query, and the query p50/p95
beside whoosh3's own storage (each process copies the mapped index: the baseline).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whoosh.filedb.filestore import FileStorage  # noqa: E402
from whoosh.index import open_dir  # noqa: E402

from search import EssayIndex  # noqa: E402
from search_pg import bench_postgres, searcher_process_pg, two_searchers  # noqa: E402
from search.storage import memory_of  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "viwiki_essays.jsonl.gz"
SAMPLE = ROOT / "tests" / "data" / "viwiki_sample.jsonl.gz"
MIB = 1024 * 1024
WORDS_PER_ESSAY = 1500
UNITS = [f"u{i:02d}" for i in range(40)]

# Single syllables and phrases, with and without marks; common syllables on purpose.
QUERIES = [
    "số",
    "so",
    "đổi",
    "nước",
    "nuoc",
    "kinh",
    "chuyển đổi số",
    "chuyen doi so",
    "cải cách hành chính",
    "cai cach hanh chinh",
    "việt nam",
    "viet nam",
    "phát triển kinh tế",
    "phat trien kinh te",
    "hà nội",
    "chiến tranh thế giới",
    "khoa học công nghệ",
    "giao duc",
    '"nhà nước" OR "chính phủ"',
    "lịch sử -chiến",
]


def load_articles(corpus: Path) -> list[list[str]]:
    """The corpus articles as lists of words, split once (before any memory is measured)."""
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"].split() for line in f]


class WhooshCopies(EssayIndex):
    """The baseline: whoosh3's own FileStorage, which copies each mapped sub-file per process."""

    def _storage(self, name: str) -> FileStorage:
        return FileStorage(str(self.path / name))


STORAGES = {"shared": EssayIndex, "whoosh": WhooshCopies}


def searcher_process(path: str, storage: str) -> None:
    """Child role (--searcher): open the index, time the first query, run the mix, report, wait."""
    index = STORAGES[storage](path)
    t = time.perf_counter()
    index.search(QUERIES[0])
    first_ms = (time.perf_counter() - t) * 1000
    for q in QUERIES:
        index.search(q)
        index.search(q, unit_codes=UNITS[:4])
        index.search(q, exact_total=True)
    print(json.dumps({"first_ms": first_ms, "memory": memory_of()}), flush=True)
    sys.stdin.read()  # stay alive (holding the maps) until the parent closes stdin


def describe(mem: dict) -> str:
    return (f"Rss {mem['Rss'] / MIB:6.0f}  Pss {mem['Pss'] / MIB:6.0f}  private {mem['Private'] / MIB:6.0f}"
            f"  (anonymous {mem['Anonymous'] / MIB:5.0f}) MiB")


def memory_report(path: Path) -> None:
    """Memory of one, then two searching processes on the same index, for each storage."""
    print("searching processes (after the first query and one pass over the mix):", flush=True)
    for storage in STORAGES:
        one, two, first_again = two_searchers(["--searcher", str(path), "--storage", storage])
        print(f"  {storage:6s} one process:     {describe(one['memory'])}; first query {one['first_ms']:.0f} ms")
        print(f"  {storage:6s} second process:  {describe(two['memory'])}; first query {two['first_ms']:.0f} ms")
        print(f"  {storage:6s} first, with two: {describe(first_again)}", flush=True)


def essays(split: list[list[str]], n: int) -> Iterator[dict]:
    """n essays, each ~1,500 words cut from articles picked by a seeded generator."""
    base = datetime(2024, 1, 1)
    for i in range(n):
        rng = random.Random(i)
        words: list[str] = []
        while len(words) < WORDS_PER_ESSAY:
            art = split[rng.randrange(len(split))]
            start = rng.randrange(max(1, len(art) - 400))
            words.extend(art[start : start + 600])
        yield {
            "essay_id": str(i),
            "course_id": f"c{i % 12}",
            "topic_id": f"t{i % 30}",
            "unit_code": UNITS[i % len(UNITS)],
            "state": "submitted",
            "themes": [],
            "trainee": "Nguyễn Văn An",
            "submitted_at": base + timedelta(minutes=i),
            "text": " ".join(words[:WORDS_PER_ESSAY]),
        }


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def segment_count(index: EssayIndex) -> int:
    live = index.path / (index.path / "CURRENT").read_text().strip()
    with open_dir(str(live)).reader() as reader:
        return len(reader.leaf_readers())


def heap_mb() -> float:
    """Anonymous resident memory of this process (ru_maxrss would count the index files
    Whoosh maps into memory); 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:")) / 1024
    except (OSError, StopIteration):
        return 0.0


class HeapPeak:
    """The largest heap_mb() while in the block, sampled 4 times a second."""

    def __init__(self) -> None:
        self.before = self.mb = heap_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.mb = max(self.mb, heap_mb())

    def __enter__(self) -> HeapPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return p50 * 1000, p95 * 1000


def time_queries(run, queries: list[str], rounds: int) -> tuple[float, float]:
    return time_rounds(run, queries, rounds)[0]


def time_rounds(run, queries: list[str], rounds: int, warm: bool = True) -> tuple[tuple[float, float], list[float]]:
    """(p50, p95) over all samples, and the p95 of each block of 5 rounds (the spread)."""
    if warm:  # warm caches once, as a long-lived web process would have
        for q in queries:
            run(q)
    samples = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            run(q)
            samples.append(time.perf_counter() - t)
    block = 5 * len(queries)
    spread = [percentiles(samples[i : i + block])[1] for i in range(0, len(samples) - block + 1, block)]
    return percentiles(samples), spread


def alternate(path: Path, blocks: int, rounds: int) -> None:
    """Shared maps and whoosh3's copies on one kept index, in alternating blocks of rounds.

    One stretch per storage (bench_size) also times the first faults of a large index into the
    page cache; alternating blocks, none of them warmed, shows that warm-up apart from the steady state.
    """
    runs = {"shared maps": EssayIndex(path).search, "whoosh3 copies": WhooshCopies(path).search}
    for run in runs.values():
        run("số")  # open the readers outside the timing
    print(f"alternating blocks of {rounds} rounds x {len(QUERIES)} queries on {path}; load average {load_average()}")
    for block in range(1, blocks + 1):
        for name, run in runs.items():
            (p50, p95), _ = time_rounds(run, QUERIES, rounds, warm=False)
            print(f"block {block} {name:15s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  load average {load_average()}",
                  flush=True)


def fts_query(q: str) -> str:
    """The FTS5 reading of our query: runs of words as a phrase, OR and -word mapped."""
    out = []
    for part in q.replace('"', " ").split(" OR "):
        words = [w for w in part.split() if not w.startswith("-")]
        nots = [w[1:] for w in part.split() if w.startswith("-")]
        s = '"' + " ".join(words) + '"'
        for w in nots:
            s += f' NOT "{w}"'
        out.append(s)
    return " OR ".join(out)


def bench_size(
    articles: list[list[str]], n: int, workdir: Path, rounds: int, limitmb: int | None, build_only: bool = False
) -> dict:
    print(f"\n== {n} essays ==", flush=True)
    index = EssayIndex(workdir / f"whoosh-{n}")
    t = time.perf_counter()
    chars = 0

    def counted() -> Iterator[dict]:
        nonlocal chars
        for essay in essays(articles, n):
            chars += len(essay["text"])
            yield essay

    def progress(done: int) -> None:
        if done % 5000 == 0:
            print(f"  whoosh indexed {done} in {time.perf_counter() - t:.0f} s", flush=True)

    reused = index.doc_count() == n  # --workdir keeps indexes: re-time queries only
    if not reused:
        with HeapPeak() as heap:
            index.rebuild(counted(), progress=progress, **({"limitmb": limitmb} if limitmb else {}))
    w_secs = time.perf_counter() - t
    w_size = dir_size(index.path)
    if reused:
        print(f"whoosh: reusing the index in --workdir, {w_size / 1e6:.0f} MB (no indexing figures)")
    else:
        print(f"whoosh: {n / w_secs:.1f} essays/s, {chars / w_secs / 1e6:.2f} M chars/s, "
              f"{w_secs:.0f} s, index {w_size / 1e6:.0f} MB (text {chars / 1e6:.0f} M chars), "
              f"{segment_count(index)} segment(s), heap {heap.before:.0f} -> peak {heap.mb:.0f} MB; "
              f"load average {load_average()}", flush=True)

    db_path = workdir / f"fts-{n}.sqlite"
    done_marker = db_path.with_suffix(".complete")  # --workdir: a finished FTS5 build is kept too
    t = time.perf_counter()
    if reused and done_marker.exists():
        db = sqlite3.connect(db_path)
        print(f"fts5:   reusing the database in --workdir, {db_path.stat().st_size / 1e6:.0f} MB")
    else:
        done_marker.unlink(missing_ok=True)
        db_path.unlink(missing_ok=True)
        db = sqlite3.connect(db_path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE VIRTUAL TABLE essays USING fts5(body, unit_code UNINDEXED, "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        with db:
            db.executemany(
                "INSERT INTO essays(rowid, body, unit_code) VALUES (?, ?, ?)",
                ((int(e["essay_id"]), e["text"], e["unit_code"]) for e in essays(articles, n)),
            )
        done_marker.touch()
    f_secs = time.perf_counter() - t
    f_size = db_path.stat().st_size
    print(f"fts5:   {n / f_secs:.1f} essays/s, {f_secs:.0f} s, db {f_size / 1e6:.0f} MB; "
          f"load average {load_average()}", flush=True)

    index.close()
    if build_only:  # queries later, with --workdir, on a quiet machine
        db.close()
        return {"n": n, "w_secs": w_secs, "w_size": w_size, "f_secs": f_secs, "f_size": f_size,
                "figures": {}, "chars": chars}
    memory_report(index.path)
    index = EssayIndex(index.path)
    baseline = WhooshCopies(index.path)
    units = UNITS[:4]
    whoosh_runs = {
        "whoosh": lambda q: index.search(q),
        "whoosh3 copies": lambda q: baseline.search(q),
        "whoosh unit filter": lambda q: index.search(q, unit_codes=units),
        "whoosh3 copies unit": lambda q: baseline.search(q, unit_codes=units),
        "whoosh exact total": lambda q: index.search(q, exact_total=True),
        "whoosh3 copies exact": lambda q: baseline.search(q, exact_total=True),
    }
    sql = "SELECT rowid FROM essays WHERE essays MATCH ? ORDER BY rank LIMIT 21"
    sql_units = (
        "SELECT rowid FROM essays WHERE essays MATCH ? AND unit_code IN (?,?,?,?) "
        "ORDER BY rank LIMIT 21"
    )
    fts_runs = {
        "fts5": lambda q: db.execute(sql, (fts_query(q),)).fetchall(),
        "fts5 unit filter": lambda q: db.execute(sql_units, (fts_query(q), *units)).fetchall(),
        "fts5 + count": lambda q: (
            db.execute(sql, (fts_query(q),)).fetchall(),
            db.execute("SELECT count(*) FROM essays WHERE essays MATCH ?", (fts_query(q),)).fetchone(),
        ),
    }
    figures = {}
    print(f"queries: {rounds} rounds x {len(QUERIES)} = {rounds * len(QUERIES)} samples each; "
          f"spread = p95 of each block of 5 rounds; load average {load_average()}")
    for name, run in {**whoosh_runs, **fts_runs}.items():
        (p50, p95), spread = time_rounds(run, QUERIES, rounds)
        figures[name] = (p50, p95)
        print(f"{name:20s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (p95 spread "
              f"{min(spread, default=p95):.1f}-{max(spread, default=p95):.1f})", flush=True)
    print("per query (whoosh / fts5, ms, median of rounds):")
    for q in QUERIES:
        w = time_queries(whoosh_runs["whoosh"], [q], rounds)[0]
        f = time_queries(fts_runs["fts5"], [q], rounds)[0]
        r = index.search(q)
        print(f"  {q:32s} {w:7.1f} / {f:7.1f}  hits~{r.total}{'' if r.total_is_exact else '+'}"
              f"{' phrase' if r.is_phrase else ''}")
    ratio = figures["whoosh"][1] / max(figures["fts5"][1], 1e-6)
    print(f"p95 ratio whoosh/fts5: {ratio:.1f}x; shared/whoosh3 copies: "
          f"{figures['whoosh'][1] / max(figures['whoosh3 copies'][1], 1e-6):.2f}x; "
          f"load average {load_average()}")
    db.close()
    index.close()
    baseline.close()
    return {"n": n, "w_secs": w_secs, "w_size": w_size, "f_secs": f_secs, "f_size": f_size,
            "figures": figures, "chars": chars}


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="15000,150000", help="comma-separated essay counts")
    parser.add_argument("--quick", action="store_true", help="2,000 essays, fewer rounds")
    parser.add_argument("--workdir", help="keep indexes here (default: a temporary folder)")
    parser.add_argument("--rounds", type=int, default=20,
                        help="timed passes over the 20-query mix (default 20: 400 samples)")
    parser.add_argument("--limitmb", type=int, help="rebuild()'s memory per segment (default: its own)")
    parser.add_argument("--corpus", type=Path, help="articles as .jsonl.gz (default: ../shared, else tests/data)")
    parser.add_argument("--searcher", help=argparse.SUPPRESS)  # child role of the memory figures
    parser.add_argument("--storage", default="shared", help=argparse.SUPPRESS)
    parser.add_argument("--searcher-pg", help=argparse.SUPPRESS)  # child role of the PostgreSQL memory figures
    parser.add_argument("--pg-schema", help=argparse.SUPPRESS)
    # PostgreSQL (bench/search_pg.py): the same essays and queries through search.pg.
    parser.add_argument("--backend", choices=("whoosh", "postgres", "all"), default="whoosh",
                        help="whoosh (with FTS5), postgres, or all in one run")
    parser.add_argument("--pg-url", default="postgresql://thuhoach@127.0.0.1:55432/thuhoach_bench",
                        help="database for --backend postgres/all (schema search_bench_<kind>_<n> is replaced)")
    parser.add_argument("--pg-index", choices=("gin", "rum", "both"), default="both")
    parser.add_argument("--pg-reuse", action="store_true", help="keep a PostgreSQL table of the same size")
    parser.add_argument("--pg-copies-of", type=int, default=0, metavar="N0",
                        help="postgres: build each larger table as copies of the finished N0-essay one, in SQL")
    parser.add_argument("--build-only", action="store_true",
                        help="build (or check) the indexes and tables and print their figures, time no query")
    parser.add_argument("--alternate", type=Path, metavar="INDEX",
                        help="time shared maps and whoosh3 copies in alternating blocks on this kept index "
                             "(a whoosh-<n> folder of --workdir), then stop")
    parser.add_argument("--blocks", type=int, default=4, help="--alternate: blocks per storage (default 4)")
    args = parser.parse_args()
    if args.alternate:
        alternate(args.alternate, args.blocks, 5 if args.quick else args.rounds)
        return
    if args.searcher:
        searcher_process(args.searcher, args.storage)
        return
    if args.searcher_pg:
        searcher_process_pg(args.searcher_pg, args.pg_index, args.pg_schema, QUERIES, UNITS[:4])
        return
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    rounds = 5 if args.quick else args.rounds
    corpus = args.corpus or (CORPUS if CORPUS.exists() else SAMPLE)
    print(f"corpus {corpus}; load average {load_average()} (2 cores)", flush=True)
    articles = load_articles(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            if args.backend in ("whoosh", "all"):
                bench_size(articles, n, workdir, rounds, args.limitmb, args.build_only)
            if args.backend in ("postgres", "all"):
                kinds = ("gin", "rum") if args.pg_index == "both" else (args.pg_index,)
                for kind in kinds:
                    bench_postgres(lambda k: essays(articles, k), n, args.pg_url, kind, QUERIES, UNITS[:4],
                                   rounds, time_queries, reuse=args.pg_reuse, build_only=args.build_only,
                                   copies_of=args.pg_copies_of if n > args.pg_copies_of else 0)


if __name__ == "__main__":
    main()
