"""Equal login work for every account (issue 18, item 9): an account on its cheaply hashed initial
password costs a full-cost verification too, so one request does not tell it exists and was never used.

No clock here (performance belongs to bench/): the test records which argon2 parameters each
login verifies against, through the real hasher.
"""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from lms import security
from lms.models import Role
from tests.conftest import PASSWORD


@pytest.fixture
def verified(monkeypatch):
    """The (time_cost, memory_cost) of every hash verified, most expensive last."""
    seen: list[tuple[int, int]] = []
    real = security._hasher

    class Recording(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - argon2's signature
            params = extract_parameters(hash)
            seen.append((params.time_cost, params.memory_cost))
            return super().verify(hash, password)

    monkeypatch.setattr(security, "_hasher", Recording(
        time_cost=real.time_cost, memory_cost=real.memory_cost, parallelism=real.parallelism,
        hash_len=real.hash_len, salt_len=real.salt_len))
    return seen


def _with_hash(user, stored: str):
    from lms.db import db

    user.password_hash = stored
    db.session.commit()
    return user


def _full() -> tuple[int, int]:
    return security._hasher.time_cost, security._hasher.memory_cost


@pytest.mark.parametrize("password", ["sai-mat-khau", "mat-khau-dau"])
def test_an_initial_password_account_costs_a_full_verification(client, auth, make_user, verified, password):
    from lms.roster import _initial_hasher

    user = _with_hash(make_user(Role.trainee), _initial_hasher.hash("mat-khau-dau"))
    auth.login(user, password)
    assert max(verified) == _full()


def test_unknown_and_ordinary_accounts_cost_the_same(client, auth, make_user, verified):
    auth.login("khong-co-ai", "sai")
    auth.login(make_user(Role.trainee), "sai")
    assert verified == [_full(), _full()]


def test_a_cheap_hash_is_replaced_at_the_first_login(client, auth, make_user):
    from lms.db import db
    from lms.roster import _initial_hasher

    user = _with_hash(make_user(Role.trainee), _initial_hasher.hash(PASSWORD))
    assert auth.login(user).status_code == 302
    db.session.expire_all()
    params = extract_parameters(db.session.get(type(user), user.id).password_hash)
    assert (params.time_cost, params.memory_cost) == _full()
