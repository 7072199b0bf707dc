"""Login throttling per account and per address, shared by every process through the database."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import re

from lms import throttle
from lms.db import db, utcnow
from lms.models import LoginThrottle, Role
from tests.conftest import PASSWORD, csrf_token_from


def _attempt(client, username: str, password: str, address: str = "10.0.0.1"):
    token = csrf_token_from(client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_guessing_from_one_address_slows_down_exponentially(client, make_user):
    user = make_user(Role.trainee, unit=None)
    for _ in range(throttle.PAIR_FREE_FAILURES):
        assert _attempt(client, user.username, "sai").status_code == 200
    blocked = _attempt(client, user.username, PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "1"
    assert "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 1 giây" in blocked.get_data(as_text=True)
    key = f"pair:{user.username}|10.0.0.1"
    row = db.session.get(throttle.LoginThrottle, key)
    for failures, seconds in ((6, 2), (8, 8), (15, 900), (40, 900)):
        row.failures = failures
        db.session.commit()
        wait = throttle.blocked_for(user.username, "10.0.0.1", now=row.last_failure_at)
        assert wait == dt.timedelta(seconds=seconds)


def test_the_owner_is_never_locked_out_by_someone_else(client, make_user):
    """Before: 5 wrong passwords from anywhere locked the account for 15 minutes, right password too."""
    user = make_user(Role.reviewer, unit=None)
    for i in range(throttle.ACCOUNT_FREE_FAILURES - 1):
        _attempt(client, user.username, "sai", address=f"10.0.3.{i}")
    assert _attempt(client, user.username, PASSWORD, address="10.7.7.7").status_code == 302


def test_many_failures_on_an_account_cost_seconds_not_minutes(app, client, make_user):
    user = make_user(Role.reviewer, unit=None)
    for i in range(throttle.ACCOUNT_FREE_FAILURES + 20):
        throttle.record_failure(user.username, f"10.0.4.{i}")
    db.session.commit()
    wait = throttle.blocked_for(user.username, "10.7.7.8")
    assert wait is not None and wait <= throttle.ACCOUNT_COOLDOWN
    row = db.session.get(throttle.LoginThrottle, f"user:{user.username}")
    later = row.last_failure_at + throttle.ACCOUNT_COOLDOWN
    assert throttle.blocked_for(user.username, "10.7.7.8", now=later) is None


def test_unknown_username_is_throttled_the_same_way(client, make_user):
    known = make_user(Role.trainee, unit=None)
    answers = {}
    for name in (known.username, "khong-ton-tai"):
        for _ in range(throttle.PAIR_FREE_FAILURES):
            _attempt(client, name, "sai", address=f"10.0.1.{len(answers)}")
        answers[name] = _attempt(client, name, "sai", address=f"10.0.1.{len(answers)}")
    texts = [re.sub(r'khong-ton-tai|' + known.username + r'|value="[^"]*"', "X", a.get_data(as_text=True))
             for a in answers.values()]
    assert [a.status_code for a in answers.values()] == [429, 429]
    assert texts[0] == texts[1]


def test_behind_a_proxy_the_real_client_address_counts(app_config, make_user):
    """Before: behind nginx every client was 127.0.0.1, so 30 failures by anyone blocked every login."""
    from lms import create_app

    proxied = create_app({**app_config, "PROXIES": 1})
    client = proxied.test_client()
    user = make_user(Role.trainee, unit=None)

    def attempt(forwarded: str, password: str):
        headers = {"X-Forwarded-For": forwarded}
        token = csrf_token_from(client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
                                .get_data(as_text=True))
        return client.post("/login", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"},
                           data={"username": user.username if password == PASSWORD else f"x{forwarded}-{password}",
                                 "password": password, "csrf_token": token})

    try:
        for i in range(throttle.MAX_PER_ADDRESS):
            attempt("203.0.113.9", f"sai{i}")
        assert attempt("203.0.113.9", "sai-nua").status_code == 429
        # A client writing its own X-Forwarded-For does not pick the address: only the proxy's hop counts.
        assert attempt("1.2.3.4, 203.0.113.9", "sai-nua").status_code == 429
        assert attempt("198.51.100.7", PASSWORD).status_code == 302
    finally:
        db.engine(proxied).dispose()


def test_admin_sees_and_releases_blocked_logins(app, client, auth, make_user):
    victim = make_user(Role.trainee, unit=None)
    for _ in range(throttle.PAIR_FREE_FAILURES + 3):
        throttle.record_failure(victim.username, "10.0.5.5")
    throttle.hit_rate("search:1", 30, 30)  # a busy searcher's rate row shares the table, never the page
    # Enough busier rate rows to fill the page's 500 rows, were they not left out of its query.
    now = utcnow()
    db.session.add_all(LoginThrottle(key=f"rate:search:{n}", window_start=now, last_failure_at=now, failures=40)
                       for n in range(2, 502))
    db.session.commit()
    assert [b.kind for b in throttle.blocked_now()] == ["pair"]
    auth.login(make_user(Role.admin))
    page = client.get("/admin/blocked-logins").get_data(as_text=True)
    assert victim.username in page and "10.0.5.5" in page
    key = f"pair:{victim.username}|10.0.5.5"
    assert auth.post("/admin/blocked-logins/release", {"key": key}).status_code == 302
    assert throttle.blocked_for(victim.username, "10.0.5.5") is None
    assert victim.username not in client.get("/admin/blocked-logins").get_data(as_text=True)


def test_address_limit_spans_accounts(client):
    for i in range(throttle.MAX_PER_ADDRESS):
        _attempt(client, f"nguoi-{i}", "sai", address="10.9.9.9")
    assert _attempt(client, "nguoi-moi", "sai", address="10.9.9.9").status_code == 429
    assert _attempt(client, "nguoi-moi", "sai", address="10.9.9.10").status_code == 200


def test_window_expires(app, make_user):
    user = make_user(Role.trainee, unit=None)
    past = utcnow() - throttle.WINDOW - dt.timedelta(minutes=1)
    for _ in range(throttle.ACCOUNT_FREE_FAILURES):
        throttle.record_failure(user.username, None, now=past)
    db.session.commit()
    assert throttle.blocked_for(user.username, None, now=past) is not None
    assert throttle.blocked_for(user.username, None) is None
    throttle.record_failure(user.username, None)
    db.session.commit()
    assert db.session.get(throttle.LoginThrottle, f"user:{user.username}").failures == 1


def _fail_many(config: dict, username: str, count: int) -> None:
    from lms import create_app

    app = create_app(config)
    with app.app_context():
        for _ in range(count):
            throttle.record_failure(username, None)
            db.session.commit()


def test_counters_hold_across_processes(app, app_config):
    # Four real processes, as four gunicorn workers would be: no failure may be lost.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fail_many, args=(app_config, "dich-vu", 10)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    db.session.expire_all()
    assert db.session.get(throttle.LoginThrottle, "user:dich-vu").failures == 40
