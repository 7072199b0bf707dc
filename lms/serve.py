"""Production: gunicorn web workers plus the one background worker (jobs and indexing), started together.

`make serve` runs `python -m lms.serve`. The web workers only read the search index
(THUHOACH_INDEXER_IN_PROCESS=0); a single `flask --app lms worker` process writes it and runs the jobs.
If either side dies, everything stops with a non-zero status so a supervisor (systemd) restarts it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    """Start gunicorn and the worker; forward SIGTERM/SIGINT; exit when either exits."""
    env = dict(os.environ, THUHOACH_INDEXER_IN_PROCESS="0")
    bind = os.environ.get("THUHOACH_BIND", "127.0.0.1:8000")
    workers = os.environ.get("WEB_CONCURRENCY", "3")
    threads = os.environ.get("THUHOACH_THREADS", "4")
    # Workers, threads, timeouts and the workers' GIL switch interval: lms/gunicorn_conf.py.
    web = subprocess.Popen([
        sys.executable, "-m", "gunicorn", "-c", "python:lms.gunicorn_conf", "--bind", bind,
        "--access-logfile", "-", "lms:create_app()",
    ], env=env)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "lms", "worker"], env=env)
    children = [web, worker]

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"thuhoach: web on http://{bind} ({workers} workers × {threads} threads), worker pid {worker.pid}",
          flush=True)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    stop(signal.SIGTERM, None)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return max(child.returncode or 0 for child in children)


if __name__ == "__main__":
    sys.exit(main())
