"""Login throttling per account and per address, shared by every process through the database."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import re

from lms import throttle
from lms.db import db, utcnow
from lms.models import Role
from tests.conftest import PASSWORD, csrf_token_from


def _attempt(client, username: str, password: str, address: str = "10.0.0.1"):
    token = csrf_token_from(client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_account_locked_after_five_failures_even_with_right_password(client, make_user):
    user = make_user(Role.trainee, unit=None)
    for _ in range(throttle.MAX_PER_ACCOUNT):
        assert _attempt(client, user.username, "sai").status_code == 200
    blocked = _attempt(client, user.username, PASSWORD)
    assert blocked.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in blocked.get_data(as_text=True)


def test_unknown_username_is_throttled_the_same_way(client, make_user):
    known = make_user(Role.trainee, unit=None)
    answers = {}
    for name in (known.username, "khong-ton-tai"):
        for _ in range(throttle.MAX_PER_ACCOUNT):
            _attempt(client, name, "sai", address=f"10.0.1.{len(answers)}")
        answers[name] = _attempt(client, name, "sai", address=f"10.0.1.{len(answers)}")
    texts = [re.sub(r'khong-ton-tai|' + known.username + r'|value="[^"]*"', "X", a.get_data(as_text=True))
             for a in answers.values()]
    assert [a.status_code for a in answers.values()] == [429, 429]
    assert texts[0] == texts[1]


def test_address_limit_spans_accounts(client):
    for i in range(throttle.MAX_PER_ADDRESS):
        _attempt(client, f"nguoi-{i}", "sai", address="10.9.9.9")
    assert _attempt(client, "nguoi-moi", "sai", address="10.9.9.9").status_code == 429
    assert _attempt(client, "nguoi-moi", "sai", address="10.9.9.10").status_code == 200


def test_window_expires(app, make_user):
    user = make_user(Role.trainee, unit=None)
    past = utcnow() - throttle.WINDOW - dt.timedelta(minutes=1)
    for _ in range(throttle.MAX_PER_ACCOUNT):
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
