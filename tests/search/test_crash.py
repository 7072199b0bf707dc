"""An indexer killed with SIGKILL in the middle of a batch leaves a usable index."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from search import EssayIndex

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys
    from search import EssayIndex

    index = EssayIndex(sys.argv[1])
    text = "Chuyển đổi số trong cải cách hành chính, người dân hoà mình. " * 200
    index.upsert_many({"essay_id": f"first-{i}", "text": text} for i in range(20))
    print("committed", flush=True)

    def endless():
        i = 0
        while True:
            if i == 50:
                print("writing", flush=True)
            yield {"essay_id": f"second-{i}", "text": text + str(i)}
            i += 1

    index.upsert_many(endless())
    """
)


def test_index_survives_sigkill_mid_batch(tmp_path):
    path = tmp_path / "index"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "committed"
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    index = EssayIndex(path)
    assert index.all_ids() == {f"first-{i}" for i in range(20)}
    assert len(index.search("cai cach hanh chinh", per_page=50).ids) == 20
    # The dead writer's lock is gone: the next indexer can write at once.
    index.upsert_many([{"essay_id": "after", "text": "Đà Nẵng"}])
    assert index.search("da nang").ids == ["after"]
    index.close()
