"""The country on one machine: N gunicorn app servers behind Debian's nginx (round-robin), and worker
processes, all on one PostgreSQL and one files folder. Used by tests/test_country.py and bench/load.py.

Each app server has its own working and temporary folders (nothing per node may be shared by
accident); everything else comes from the environment given to `Cluster`.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_conf(prefix: Path, port: int, upstreams: list[int]) -> str:
    """The README's nginx block (docs/nginx-thuhoach.conf), with these ports and folders."""
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in upstreams)
    block = (ROOT / "docs" / "nginx-thuhoach.conf").read_text()
    block = block.replace("        server 127.0.0.1:8000;\n", servers).replace("listen 80;", f"listen 127.0.0.1:{port};")
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n access_log off;\n"
            f" client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;\n"
            f" fastcgi_temp_path {prefix}/fcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;\n"
            f"{block}\n}}\n")


def wait_for(url: str, deadline: float) -> None:
    """Wait until url answers (any status), or raise once time.monotonic() passes deadline."""
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Cluster:
    """Start app servers, workers and nginx on entering; stop them all on leaving.

    `base` is nginx's URL, `ports` the app servers' own (to ask one server directly), `worker_logs`
    the workers' stderr files.
    """

    def __init__(self, env: dict[str, str], folder: Path, *, servers: int = 2, workers: int = 2,
                 server_args: list[str] | None = None) -> None:
        self.env, self.folder, self.servers, self.workers = env, folder, servers, workers
        self.server_args = server_args or ["-c", "python:lms.gunicorn_conf"]
        self.ports: list[int] = []
        self.worker_logs: list[Path] = []
        self.base = ""
        self._procs: list[subprocess.Popen] = []
        self._handles: list[IO[str]] = []

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        self.ports = [free_port() for _ in range(self.servers)]
        for i, port in enumerate(self.ports):
            local = self.folder / f"server{i}"
            local.mkdir(parents=True, exist_ok=True)
            log = self._log(local / "gunicorn.log")
            self._procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *self.server_args, "--bind", f"127.0.0.1:{port}",
                 "lms:create_app()"], env=dict(self.env, TMPDIR=str(local)), cwd=local,
                stdout=subprocess.DEVNULL, stderr=log))
        for i in range(self.workers):
            path = self.folder / f"worker{i}.log"
            self.worker_logs.append(path)
            self._procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "lms", "worker"],
                                                env=self.env, stdout=subprocess.DEVNULL, stderr=self._log(path),
                                                cwd=ROOT))
        nginx_dir = self.folder / "nginx"
        nginx_dir.mkdir(parents=True, exist_ok=True)
        nginx_port = free_port()
        (nginx_dir / "nginx.conf").write_text(nginx_conf(nginx_dir, nginx_port, self.ports))
        self._procs.append(subprocess.Popen([NGINX, "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf"),
                                             "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 90
        for port in self.ports:
            wait_for(f"http://127.0.0.1:{port}/login", deadline)
        self.base = f"http://127.0.0.1:{nginx_port}"
        wait_for(self.base + "/login", deadline)

    def _log(self, path: Path) -> IO[str]:
        handle = path.open("w")
        self._handles.append(handle)
        return handle

    def stop(self) -> None:
        """Stop nginx, the workers and the app servers (SIGTERM, then SIGKILL after 30 s)."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        for handle in self._handles:
            handle.close()
        self._handles.clear()
