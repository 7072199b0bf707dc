"""Searching processes share one copy of the index (the page cache) instead of copying it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search import EssayIndex
from search.storage import MappedStorage, memory_of

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc/PID/smaps_rollup"
)

# A searching process: warms imports on a tiny index first, so that what it adds after
# "before" is what the big index costs it; then waits until the test closes its stdin.
SEARCHER = """
import json, sys
from search import EssayIndex
from search.storage import memory_of
QUERIES = ["lịch sử", "viet nam", "nước", '"thành phố" OR "tỉnh"', "kinh tế -chiến", "sông"]
def work(ix):
    for q in QUERIES:
        ix.search(q)
        ix.search(q, unit_codes=["u1", "u2"], exact_total=True)
        ix.count_by_fields(("unit_code", "topic_id"), q)
        ix.snippets(ix.search(q).ids, q)
warm = EssayIndex(sys.argv[2])
warm.upsert_many([{"essay_id": "w", "unit_code": "u1", "text": "lịch sử việt nam sông nước"}])
work(warm)
warm.close()
before = memory_of()
ix = EssayIndex(sys.argv[1])
work(ix)
after = memory_of()
print(json.dumps({"before": before, "after": after}), flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def big_index(tmp_path_factory, sample_essays) -> Path:
    """About 13 MB of index: 120 essays of five sample articles each."""
    path = tmp_path_factory.mktemp("shared_index")
    texts = [essay["text"] for essay in sample_essays]
    with EssayIndex(path) as index:
        index.rebuild(
            {**sample_essays[i % len(sample_essays)], "essay_id": f"e{i}",
             "text": "\n".join(texts[(i * 7 + k) % len(texts)] for k in range(5))}
            for i in range(120)
        )
    return path


def start_searcher(index_path: Path, warm_path: Path) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SEARCHER, str(index_path), str(warm_path)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.wait()
        pytest.fail("the searching process died before reporting its memory")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def index_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.seg"))


def test_second_searching_process_adds_little_private_memory(big_index, tmp_path):
    size = index_bytes(big_index)
    assert size > 8 * MB  # big enough that a private copy would show
    first, _ = start_searcher(big_index, tmp_path / "warm1")
    try:
        second, figures = start_searcher(big_index, tmp_path / "warm2")
        try:
            added = figures["after"]["Private"] - figures["before"]["Private"]
            print(f"index {size / MB:.1f} MB, second process added {added / MB:.1f} MB private")
            assert added < 50 * MB
            # whoosh3's own storage copied every sub-file: the process would add about `size`.
            assert added < size / 3, (added, size)
            assert figures["after"]["Pss"] < figures["after"]["Rss"]  # the index pages are shared
        finally:
            stop(second)
    finally:
        stop(first)


def test_mapped_files_read_like_whoosh_files(tmp_path):
    storage = MappedStorage(str(tmp_path))
    with storage.create_file("f.bin") as f:
        f.write(b"\x00" * 5000 + b"hello\nworld" + b"\x00\x00\x00\x2a")
    whole = storage.open_file("f.bin")
    part = whole.subset(5000, 15, name="part")  # not on a page boundary
    assert part.read(5) == b"hello"
    assert part.readline() == b"\n"
    assert part.tell() == 6
    assert part.get(6, 5) == b"world"
    assert part.tell() == 6  # get() does not move
    assert part.get_array(11, "i", 1).tolist() == [42]
    assert part.seek(-4, 2) == 11 and part.read_int() == 42
    assert part.read() == b""
    assert whole.subset(0, 0).read() == b""
    whole.close()  # the part stays readable: it has its own map
    part.seek(0)
    assert part.read(5) == b"hello"
    part.close()
    with pytest.raises(ValueError):
        part.close()


def test_memory_of_reports_private_and_shared_bytes():
    figures = memory_of()
    assert figures["Rss"] > 0 and figures["Pss"] > 0
    assert figures["Private"] == figures["Private_Clean"] + figures["Private_Dirty"]
