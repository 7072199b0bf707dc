"""The job table: queued in the request's transaction, claimed once, survives a dead worker."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from sqlalchemy import update

from lms import jobs
from lms.db import db, utcnow
from lms.models import Job, Role


def _register_echo(app, runs: list):
    def echo(app_, params, progress):
        runs.append(params["n"])
        progress(50, "Đang làm")
        out = jobs.jobs_dir(app_) / f"echo-{params['n']}.txt"
        out.write_text(f"kết quả {params['n']}", encoding="utf-8")
        return out, f"kết quả {params['n']}.txt"

    jobs.register_handler(app, "echo", echo)


def test_job_runs_once_and_its_result_downloads(app, client, auth, make_user):
    runs: list = []
    _register_echo(app, runs)
    user = make_user(Role.reviewer)
    job = jobs.enqueue_job("echo", {"n": 1}, user)
    db.session.commit()
    assert jobs.run_one_job(app) == 1
    assert jobs.run_one_job(app) == 0
    assert runs == [1]
    db.session.refresh(job)
    assert (job.status, job.progress, job.result_name) == ("done", 100, "kết quả 1.txt")
    auth.login(user)
    state = client.get(f"/api/v1/jobs/{job.id}").json
    assert state["status"] == "done" and state["download_url"].endswith(f"/jobs/{job.id}/download")
    with client.get(state["download_url"]) as download:
        assert download.get_data(as_text=True) == "kết quả 1"
        assert "attachment" in download.headers["Content-Disposition"]
    assert "jobs.js" in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_other_users_cannot_follow_or_download_a_job(app, client, auth, make_user):
    _register_echo(app, [])
    owner, other = make_user(Role.reviewer), make_user(Role.reviewer)
    job = jobs.enqueue_job("echo", {"n": 2}, owner)
    db.session.commit()
    jobs.run_one_job(app)
    auth.login(other)
    assert client.get(f"/api/v1/jobs/{job.id}").status_code == 404
    assert client.get(f"/jobs/{job.id}/download").status_code == 404


def test_two_workers_never_run_the_same_job(app, make_user):
    runs: list = []
    _register_echo(app, runs)
    user = make_user(Role.admin)
    for n in range(30):
        jobs.enqueue_job("echo", {"n": n}, user)
    db.session.commit()

    def work():
        while jobs.run_one_job(app):
            pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(runs) == list(range(30))


def test_job_of_a_dead_worker_is_queued_again(app, make_user):
    runs: list = []
    _register_echo(app, runs)
    job = jobs.enqueue_job("echo", {"n": 7}, make_user(Role.admin))
    db.session.commit()
    # A worker claimed it and died: running, with a heartbeat from long ago.
    db.session.execute(update(Job).where(Job.id == job.id).values(
        status="running", attempts=1, heartbeat_at=utcnow() - jobs.STALE_AFTER - dt.timedelta(seconds=1)))
    db.session.commit()
    assert jobs.run_one_job(app) == 1
    assert runs == [7]
    db.session.refresh(job)
    assert job.status == "done" and job.attempts == 2


def test_failing_job_is_marked_failed_with_a_message(app, make_user):
    def boom(app_, params, progress):
        raise RuntimeError("hỏng")

    jobs.register_handler(app, "boom", boom)
    job = jobs.enqueue_job("boom", {}, make_user(Role.admin))
    db.session.commit()
    jobs.run_one_job(app)
    db.session.refresh(job)
    assert job.status == "failed" and "hỏng" in job.message
