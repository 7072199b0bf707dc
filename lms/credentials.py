"""Initial passwords handed out once, never stored in clear (issue 18, item 7).

A roster import creates accounts with random initial passwords and keeps only their hashes. The
passwords reach people once: through the importer's credential sheet, an .xlsx per unit offered
right after the import, or through an officer's or administrator's reset, which shows the new
password once. Between the import and the download a sheet waits in `credential_sheet`, sealed
with a key the server does not keep: the key travels in the importer's (signed, HttpOnly)
session cookie only. A database dump or a backup therefore holds no usable password; the
sheet is deleted at its download, and the worker deletes what was not fetched within
SHEET_LIFETIME. Who lost their sheet asks the unit officer for a reset.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, MutableMapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from lms.db import db, rows_changed, utcnow
from lms.jobs import register_hourly
from lms.models import CredentialSheet, Unit, User
from lms.spreadsheets import xlsx_bytes
from lms.text import vn_name_key

SHEET_LIFETIME = dt.timedelta(hours=1)
SESSION_KEY = "credential_keys"  # {batch: key} in the importer's session cookie
MAX_BATCHES = 5  # the importer's last imports whose sheets can still be fetched
CREDENTIAL_HEADERS = ["STT", "Họ và tên", "Ngày sinh", "Đơn vị", "Tên đăng nhập", "Mật khẩu ban đầu"]


def init_app(app: Flask) -> None:
    """The worker deletes sheets nobody fetched in time."""
    register_hourly(app, "credential_sheets", purge_sheets)


def seal_sheets(new_accounts: Iterable[tuple[int, int, str]], *, course_id: int | None, importer: User,
                now: dt.datetime | None = None) -> tuple[str, str] | None:
    """Store each unit's new (user id, password) pairs sealed with one fresh key; (batch, key), or None
    when there is nothing to hand out. The key is returned, never stored: the caller gives it to the importer."""
    by_unit: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, unit_id, password in new_accounts:
        by_unit[unit_id].append((user_id, password))
    if not by_unit:
        return None
    now = now or utcnow()
    key, batch = Fernet.generate_key(), secrets.token_hex(16)
    fernet = Fernet(key)
    for unit_id, pairs in by_unit.items():
        db.session.add(CredentialSheet(
            batch=batch, created_by_id=importer.id, unit_id=unit_id, course_id=course_id,
            sealed=fernet.encrypt(json.dumps(pairs).encode()).decode(), created_at=now,
            expires_at=now + SHEET_LIFETIME))
    db.session.flush()
    return batch, key.decode()


def remember_key(store: MutableMapping[str, Any], batch: str, key: str) -> None:
    """Keep a batch's key in the importer's session (the last MAX_BATCHES imports)."""
    keys = dict(store.get(SESSION_KEY) or {})
    keys[batch] = key
    store[SESSION_KEY] = dict(list(keys.items())[-MAX_BATCHES:])


def waiting_unit_ids(importer: User, keys: dict[str, str], course_id: int | None,
                     now: dt.datetime | None = None) -> set[int]:
    """Units whose sheet from this importer's session can still be fetched."""
    if not keys:
        return set()
    query = select(CredentialSheet.unit_id).where(*_live(importer, keys, course_id, now or utcnow()))
    return set(db.session.scalars(query))


def take_sheet(importer: User, unit: Unit, course_id: int | None, keys: dict[str, str],
               now: dt.datetime | None = None) -> list[tuple[User, str]] | None:
    """Open this unit's waiting sheets (the importer's own, keys from their session) and delete them.

    (account, initial password) in name order; None when nothing is waiting: fetched already,
    expired, another person's import, or a session without the key.
    """
    if not keys:
        return None
    rows = db.session.scalars(select(CredentialSheet).where(
        *_live(importer, keys, course_id, now or utcnow()), CredentialSheet.unit_id == unit.id)
        .order_by(CredentialSheet.id)).all()
    passwords: dict[int, str] = {}
    for row in rows:
        try:
            pairs = json.loads(Fernet(keys[row.batch].encode()).decrypt(row.sealed.encode()))
        except (InvalidToken, ValueError, KeyError):
            continue  # a key that does not open it: leave it to expire
        passwords.update((int(user_id), str(password)) for user_id, password in pairs)
        db.session.delete(row)
    if not passwords:
        return None
    users = db.session.scalars(_with_units(passwords)).all()
    return [(user, passwords[user.id]) for user in sorted(users, key=lambda u: vn_name_key(u.full_name))]


def _live(importer: User, keys: dict[str, str], course_id: int | None, now: dt.datetime) -> list[Any]:
    conditions = [CredentialSheet.created_by_id == importer.id, CredentialSheet.batch.in_(list(keys)),
                  CredentialSheet.expires_at > now]
    if course_id is not None:
        conditions.append(CredentialSheet.course_id == course_id)
    return conditions


def _with_units(user_ids: Iterable[int]) -> Any:
    # The sheet shows each account's unit: loaded with the accounts, not one query per unit.
    return select(User).where(User.id.in_(list(user_ids))).options(selectinload(User.unit))


def purge_sheets(now: dt.datetime | None = None) -> int:
    """Delete sheets past their expiry (nobody fetched them)."""
    now = now or utcnow()
    return rows_changed(db.session.execute(delete(CredentialSheet).where(CredentialSheet.expires_at <= now)))


def accounts_of(new_accounts: Iterable[tuple[int, int, str]]) -> list[tuple[User, str]]:
    """An import's new accounts with their passwords, by unit then name (the API's answer, the CLI's file)."""
    passwords = {user_id: password for user_id, _, password in new_accounts}
    if not passwords:
        return []
    users = db.session.scalars(_with_units(passwords)).all()
    users = sorted(users, key=lambda u: (u.unit.code if u.unit else "", vn_name_key(u.full_name)))
    return [(user, passwords[user.id]) for user in users]


def build_credentials_xlsx(accounts: list[tuple[User, str]]) -> bytes:
    """A credential sheet: STT, name, birth date, unit, username, initial password."""
    rows = ([n, user.full_name, user.birth_date.strftime("%d/%m/%Y") if user.birth_date else "",
             user.unit.name if user.unit else "", user.username, password]
            for n, (user, password) in enumerate(accounts, start=1))
    return xlsx_bytes([("Tài khoản", CREDENTIAL_HEADERS, rows)])


def credentials_json(accounts: list[tuple[User, str]]) -> list[dict[str, str]]:
    """The same accounts for the API's answer (handed out in that one response)."""
    return [{"username": user.username, "password": password, "full_name": user.full_name,
             "unit": user.unit.code if user.unit else ""} for user, password in accounts]
