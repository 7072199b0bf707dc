"""Roster import: trainees from an office's .xlsx or .csv into a course, every row or none.

The whole file is read and checked before anything is written; a refused file raises
`RosterRejected` listing every problem with the spreadsheet row number the office sees.
Existing people are matched (given username, else email, else phone, else folded name + birth
date) and updated, never duplicated; new people get a trainee account with an initial password
that their unit officer downloads as an .xlsx sheet.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import logging
import math
import os
import re
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Iterable, Iterator, cast

import pandas as pd
from argon2 import PasswordHasher
from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import lazyload

from lms.db import db, read_only
from lms.models import Course, Enrollment, Role, Unit, User
from lms.text import fold
from lms.units import UnitResolver
from lms.users import USERNAME_RE

logger = logging.getLogger(__name__)

HEADER_SEARCH_ROWS = 10
MAX_ROWS = 100_000
# Bind parameters per IN (...) query: well under SQLite's and PostgreSQL's limits.
CHUNK = 900

# Initial passwords are hashed with a much cheaper argon2id than hash_password(): 256 KiB, one
# pass, ~0.15 ms a hash on an idle core (hash_password: 50–370 ms), so 50,000 new accounts cost
# seconds, not hours. Sound without relying on anything else in the row (the plain initial password
# is not meant to be stored): the password is 10 characters drawn by `secrets` from 31 (~49.5 bits),
# so an offline guess of one account costs 2^49.5 of these hashes, thousands of times the work of a
# 30-bit human password under OWASP's argon2id parameters (19 MiB, t=2); it is replaced at the
# first password change, which hashes with the full parameters (auth.change_password).
# verify_password() reads the parameters from the hash, so these hashes verify as any other.
_initial_hasher = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)

FIELD_LABELS = {
    "full_name": "Họ và tên",
    "birth_date": "Ngày sinh",
    "position": "Chức vụ",
    "unit": "Đơn vị",
    "phone": "Điện thoại",
    "email": "Email",
    "username": "Tên đăng nhập",
}
# Header cells as offices type them, folded and stripped of everything but letters and digits.
HEADER_ALIASES = {
    "full_name": {"hovaten", "hoten", "hotenhocvien", "hovatenhocvien", "tenhocvien", "hotendaydu",
                  "hovatendaydu", "hotendaibieu", "hovatendaibieu"},
    "birth_date": {"ngaysinh", "ngaythangnamsinh", "sinhngay", "ngaysinhddmmyyyy"},
    "position": {"chucvu", "chucdanh", "chucvuchucdanh", "chucvuhiennay"},
    "unit": {"donvi", "diemcau", "madonvi", "tendonvi", "donvicongtac", "madiemcau", "tendiemcau",
             "xaphuong", "phuongxa", "donvidiemcau", "diemcaudonvi"},
    "phone": {"sdt", "sodt", "sodienthoai", "dienthoai", "dt", "didong", "sodidong", "dienthoaididong"},
    "email": {"email", "thudientu", "diachiemail", "diachithudientu", "mail"},
    "username": {"tendangnhap", "taikhoan", "tentaikhoan", "username"},
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
_PARENS = re.compile(r"\([^)]*\)")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_DMY = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2,4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_EMAIL = re.compile(r"^[a-z0-9._%+'\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}$")
_PHONE_JUNK = re.compile(r"[\s.\-()/]")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


# ---------------------------------------------------------------------------------------------
# Results and errors

@dataclass(frozen=True)
class RowError:
    """One problem in the file; row is the spreadsheet row number (None: the file as a whole)."""

    row: int | None
    message: str

    def __str__(self) -> str:
        return f"Dòng {self.row}: {self.message}" if self.row else self.message

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


class RosterRejected(Exception):
    """The file was refused; nothing was imported. Carries every problem found."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = sorted(errors, key=lambda e: (e.row or 0))

    @classmethod
    def single(cls, message: str, row: int | None = None) -> "RosterRejected":
        return cls([RowError(row, message)])

    def summary(self) -> str:
        """Every problem, one a line, in Vietnamese."""
        head = f"Không nhập danh sách (chưa thay đổi gì): {len(self.errors)} lỗi."
        return "\n".join([head] + [f"- {e}" for e in self.errors])


@dataclass
class ImportResult:
    """What an import did."""

    course_id: int
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    enrolled: int = 0
    unit_codes: list[str] = field(default_factory=list)
    # (user id, unit id, initial password) of each new account: handed out once by the caller
    # (the importer's sealed sheet, the API's answer, the CLI's file), stored nowhere in clear.
    new_accounts: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        """One Vietnamese sentence for pages, the CLI and the audit log."""
        return (f"Đã nhập {self.rows} học viên vào lớp {self.course_id}: tạo mới {self.created} tài khoản, "
                f"cập nhật {self.updated}, không đổi {self.unchanged}; ghi danh mới {self.enrolled}.")

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "enrolled": self.enrolled, "rows": self.rows, "units": self.unit_codes, "errors": []}


@dataclass
class RosterRow:
    """One valid trainee row of the file."""

    line: int
    full_name: str
    birth_date: dt.date
    unit: Unit
    position: str | None = None
    phone: str | None = None
    email: str | None = None
    username: str | None = None

    @functools.cached_property
    def name_key(self) -> tuple[str, dt.date]:
        return (fold(self.full_name), self.birth_date)


# ---------------------------------------------------------------------------------------------
# Reading the file into a table of cells

def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell_text(value: Any) -> str:
    """A cell as NFC text with spaces collapsed ("" when empty); 912345678.0 reads as 912345678."""
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def decode_csv(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), UTF-16, else Windows-1258."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # "Unicode text" saved by Excel without a BOM: every other byte of Latin text is NUL.
    if data[1::2].count(0) > len(data) // 4:
        return data.decode("utf-16-le", errors="replace")
    if data[0::2].count(0) > len(data) // 4:
        return data.decode("utf-16-be", errors="replace")
    # cp1258 writes tones as combining marks; NFC later composes them.
    return data.decode("cp1258", errors="replace")


def _sniff_separator(text: str) -> str:
    sample = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS + 5])
    counts = {sep: sample.count(sep) for sep in (";", ",", "\t")}
    return max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """The first sheet (or the CSV) as a frame of raw cells; frame row i is spreadsheet row i + 1."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls", ".csv", ".txt"):
        raise RosterRejected.single("Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")
    if not data or not data.strip():
        raise RosterRejected.single("Tệp trống, không có dữ liệu.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterRejected.single("Tệp Excel 97–2003 (.xls) chưa được hỗ trợ; vui lòng mở bằng Excel và "
                                    "lưu lại dạng .xlsx.")
    if data.startswith(b"PK\x03\x04"):
        frame = _read_xlsx(data)
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        raise RosterRejected.single("Tệp không phải bảng tính Excel (.xlsx) hợp lệ.")
    else:
        text = decode_csv(data)
        if "\x00" in text:
            raise RosterRejected.single("Tệp không phải tệp CSV dạng văn bản.")
        rows = list(csv.reader(io.StringIO(text), delimiter=_sniff_separator(text)))
        width = max((len(r) for r in rows), default=0)
        # Title rows are shorter than the table: pad so every row has every column.
        frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    if len(frame) > MAX_ROWS:
        raise RosterRejected.single(f"Tệp có quá nhiều dòng (tối đa {MAX_ROWS:,}); vui lòng chia nhỏ.")
    return frame


def _read_xlsx(data: bytes) -> pd.DataFrame:
    # dtype=object keeps what Excel holds: real dates stay datetimes, text stays text.
    try:
        # calamine (Rust) reads a 50,000-row sheet ~5x faster than openpyxl, with the same cells.
        return pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, dtype=object, engine="calamine")
    except Exception as exc:  # a .docx renamed, a damaged zip, an encrypted workbook …
        logger.info("roster: unreadable workbook: %r", exc)
        raise RosterRejected.single("Tệp không phải bảng tính Excel (.xlsx) hợp lệ hoặc đã bị hỏng.") from exc


# ---------------------------------------------------------------------------------------------
# Header and cell validation (small pure functions raising ValueError with a user-facing message)

def header_field(text: str) -> str | None:
    """Which roster field a header cell names ("HỌ VÀ TÊN", "Ho ten", "SĐT", "E-mail" …), if any."""
    key = _NOT_ALNUM.sub("", _PARENS.sub("", fold(cell_text(text))))
    return _ALIAS_TO_FIELD.get(key)


def find_header(frame: pd.DataFrame) -> tuple[int, dict[str, int]]:
    """The header row (frame index) within the first rows, and the column of each field found."""
    best: tuple[int, dict[str, int], list[RowError]] | None = None
    for index in range(min(HEADER_SEARCH_ROWS, len(frame))):
        columns: dict[str, int] = {}
        errors = []
        for col, value in enumerate(frame.iloc[index].tolist()):
            name = header_field(value) if not _is_blank(value) else None
            if name is None:
                continue
            if name in columns:
                errors.append(RowError(index + 1, f"Có hai cột “{FIELD_LABELS[name]}”."))
            columns.setdefault(name, col)
        if len(columns) >= 2 and (best is None or len(columns) > len(best[1])):
            best = (index, columns, errors)
    if best is None:
        raise RosterRejected.single(
            f"Không tìm thấy dòng tiêu đề trong {HEADER_SEARCH_ROWS} dòng đầu. Cần các cột: Họ và tên, "
            "Ngày sinh, Chức vụ, Đơn vị, Điện thoại và/hoặc Email (tùy chọn: Tên đăng nhập).")
    index, columns, errors = best
    missing = [FIELD_LABELS[f] for f in ("full_name", "birth_date", "unit") if f not in columns]
    if "phone" not in columns and "email" not in columns:
        missing.append("Điện thoại hoặc Email")
    if missing:
        errors.append(RowError(index + 1, "Thiếu cột: " + ", ".join(missing) + "."))
    if errors:
        raise RosterRejected(errors)
    return index, columns


def parse_birth_date(value: Any) -> dt.date:
    """A birth date from a real Excel date, an Excel serial number, or text dd/mm/yyyy."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        # A date cell that lost its date format shows as its serial number (days since 1899-12-30).
        if not 1 <= value < 80_000:
            raise ValueError(f"Ngày sinh “{cell_text(value)}” không hợp lệ (cần dạng dd/mm/yyyy).")
        day = _EXCEL_EPOCH + dt.timedelta(days=int(value))
    else:
        text = cell_text(value)
        if not text:
            raise ValueError("Thiếu ngày sinh.")
        try:
            if m := _DMY.match(text):
                d, mo, y = (int(g) for g in m.groups())
                if y < 1000:
                    raise ValueError
                day = dt.date(y, mo, d)
            elif m := _ISO.match(text):
                y, mo, d = (int(g) for g in m.groups())
                day = dt.date(y, mo, d)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"Ngày sinh “{text}” không hợp lệ (cần dạng dd/mm/yyyy).") from None
    if not dt.date(1900, 1, 1) <= day <= dt.date.today():
        raise ValueError(f"Ngày sinh {day:%d/%m/%Y} không hợp lý.")
    return day


def normalize_phone(value: Any) -> str | None:
    """A Vietnamese phone number as 0xxxxxxxxx; None when empty."""
    text = cell_text(value)
    if not text:
        return None
    digits = _PHONE_JUNK.sub("", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif digits.isdigit() and len(digits) in (9, 10) and not digits.startswith("0"):
        digits = "0" + digits  # a number cell in Excel drops the leading zero
    if not re.fullmatch(r"0\d{9,10}", digits):
        raise ValueError(f"Số điện thoại “{text}” không hợp lệ.")
    return digits


def normalize_email(value: Any) -> str | None:
    """An email address in lower case; None when empty."""
    text = cell_text(value).lower()
    if not text:
        return None
    if len(text) > 200 or not _EMAIL.match(text):
        raise ValueError(f"Email “{cell_text(value)}” không hợp lệ.")
    return text


def normalize_username(value: Any) -> str | None:
    """A username given in the file; None when empty."""
    text = cell_text(value).lower()
    if not text:
        return None
    if not USERNAME_RE.match(text):
        raise ValueError(f"Tên đăng nhập “{cell_text(value)}” không hợp lệ (chỉ gồm chữ thường không dấu, "
                         "chữ số, dấu chấm, gạch; 2–80 ký tự).")
    return text


def normalize_name(value: Any) -> str:
    """A person's full name in NFC with single spaces."""
    text = cell_text(value)
    if not text:
        raise ValueError("Thiếu họ và tên.")
    if len(text) > 200 or not any(ch.isalpha() for ch in text):
        raise ValueError(f"Họ và tên “{text[:50]}” không hợp lệ.")
    return text


# ---------------------------------------------------------------------------------------------
# Parsing the whole file

# long: one check per column, in the sheet's order
def parse_roster(frame: pd.DataFrame, *, resolver: UnitResolver,  # noqa: C901  (one branch per column rule)
                 only_unit_id: int | None = None) -> tuple[list[RosterRow], list[RowError]]:
    """The valid trainee rows and the problems of the others; RosterRejected when the file as a whole is bad."""
    if frame.empty or all(_is_blank(v) for v in frame.head(HEADER_SEARCH_ROWS).to_numpy().ravel()):
        raise RosterRejected.single("Tệp trống, không có dữ liệu.")
    header_index, columns = find_header(frame)
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, Any], int] = {}
    values = frame.to_numpy(dtype=object)
    for index in range(header_index + 1, len(values)):
        cells = values[index]
        if all(_is_blank(v) for v in cells):
            continue
        line = index + 1
        get = {name: cells[col] for name, col in columns.items()}
        row_errors: list[str] = []

        def check(func, value, row_errors=row_errors):
            try:
                return func(value)
            except ValueError as exc:
                row_errors.append(str(exc))
                return None

        full_name = check(normalize_name, get["full_name"])
        birth_date = check(parse_birth_date, get["birth_date"])
        phone = check(normalize_phone, get.get("phone"))
        email = check(normalize_email, get.get("email"))
        username = check(normalize_username, get.get("username"))
        position = cell_text(get.get("position")) or None
        unit_text = cell_text(get["unit"])
        unit = resolver.resolve(unit_text) if unit_text else None
        if not unit_text:
            row_errors.append("Thiếu đơn vị.")
        elif unit is None:
            row_errors.append(f"Không tìm thấy đơn vị “{unit_text}” (ghi mã hoặc tên xã, phường, đơn vị).")
        elif only_unit_id is not None and unit.id != only_unit_id:
            row_errors.append(f"Đơn vị “{unit.name}” không phải đơn vị của bạn; "
                              "chỉ được nhập học viên của đơn vị mình.")
        if not cell_text(get.get("phone")) and not cell_text(get.get("email")):
            row_errors.append("Cần ít nhất số điện thoại hoặc email.")
        if position and len(position) > 200:
            row_errors.append("Chức vụ quá dài (tối đa 200 ký tự).")
        if row_errors or unit is None:
            errors.extend(RowError(line, message) for message in row_errors)
            continue
        row = RosterRow(line=line, full_name=full_name, birth_date=birth_date, unit=unit,
                        position=position, phone=phone, email=email, username=username)
        # Two rows sharing any key that identifies a person would update the same account.
        keys = [("username", username), ("email", email), ("phone", phone), ("name", row.name_key)]
        first = next((seen[k] for k in keys if k[1] is not None and k in seen), None)
        if first is not None:
            errors.append(RowError(line, f"Trùng người với dòng {first} (cùng tên đăng nhập, email, số điện "
                                         "thoại hoặc cùng họ tên và ngày sinh)."))
            continue
        for k in keys:
            if k[1] is not None:
                seen[k] = line
        rows.append(row)
    if not rows and not errors:
        raise RosterRejected.single("Tệp không có dòng học viên nào dưới dòng tiêu đề.", header_index + 1)
    return rows, errors


# ---------------------------------------------------------------------------------------------
# Import

def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _fetch_users(column: Any, values: set[Any]) -> list[User]:
    """Users whose column is in values, a few IN (...) queries however many values."""
    found: list[User] = []
    for part in _chunks(sorted(values)):
        # Without the joined unit: matching needs unit_id only. populate_existing: the import matches
        # twice (before and under the write lock), the second time on the rows as they are then.
        found.extend(db.session.scalars(select(User).options(lazyload(User.unit)).where(column.in_(part))
                                        .execution_options(populate_existing=True)))
    return found


class _Matcher:
    """Existing accounts of the people in a file, loaded in bulk, looked up per row."""

    def __init__(self, rows: list[RosterRow]) -> None:
        self.by_username = {u.username: u for u in _fetch_users(
            User.username, {r.username for r in rows if r.username})}
        self.by_email: dict[str, dict[int, User]] = {}
        self.by_phone: dict[str, dict[int, User]] = {}
        self.by_name: dict[tuple[str, dt.date], dict[int, User]] = {}
        for u in _fetch_users(User.email, {r.email for r in rows if r.email}):
            self.by_email.setdefault((u.email or "").lower(), {})[u.id] = u
        for u in _fetch_users(User.phone, {r.phone for r in rows if r.phone}):
            self.by_phone.setdefault(u.phone or "", {})[u.id] = u
        wanted = {r.name_key for r in rows}
        for u in _fetch_users(User.birth_date, {r.birth_date for r in rows}):
            key = (fold(u.full_name), u.birth_date)
            if key in wanted:
                self.by_name.setdefault(key, {})[u.id] = u

    def by_keys(self, row: RosterRow) -> User | None:
        """Match by email, else phone, else name + birth date; ValueError when ambiguous."""
        found = self.by_keys_labelled(row)
        return found[0] if found else None

    def by_keys_labelled(self, row: RosterRow) -> tuple[User, str] | None:
        """The matched account and what matched it ("e-mail", …); ValueError when ambiguous."""
        for label, table, key in (("e-mail", self.by_email, row.email), ("số điện thoại", self.by_phone, row.phone),
                                  ("họ tên và ngày sinh", self.by_name, row.name_key)):
            users = cast(dict[Any, dict[Any, User]], table).get(key) if key is not None else None
            if users:
                if len(users) > 1:
                    raise ValueError(f"Có nhiều tài khoản cùng {label} này; vui lòng ghi rõ tên đăng nhập.")
                return next(iter(users.values())), label
        return None

    def match(self, row: RosterRow) -> User | None:
        """The existing account of the row's person, None for a new person; ValueError on conflicts.

        Messages never name another account (username, unit, role): an officer importing a row
        must not learn who else holds an e-mail or a username.
        """
        if row.username:
            user = self.by_username.get(row.username)
            if user is not None:
                if user.role != Role.trainee or fold(user.full_name) != fold(row.full_name) or (
                        user.birth_date is not None and user.birth_date != row.birth_date):
                    raise ValueError(USERNAME_TAKEN.format(username=row.username))
                return user
            other = self.by_keys_labelled(row)
            if other is not None:
                raise ValueError(KEY_TAKEN.format(label=other[1]))
            return None
        found = self.by_keys_labelled(row)
        if found is not None and found[0].role != Role.trainee:
            raise ValueError(KEY_TAKEN.format(label=found[1]))
        return found[0] if found else None


USERNAME_TAKEN = "Tên đăng nhập “{username}” không dùng được cho người này; để trống cột này để hệ thống tự tạo."
KEY_TAKEN = ("{label} đã được dùng cho một tài khoản khác; kiểm tra lại, hoặc liên hệ quản trị viên "
             "nếu đúng là người này.")


def _username_base(full_name: str) -> str:
    base = _NOT_ALNUM.sub("", fold(full_name))[:40]
    return base or "hocvien"


def _taken_usernames(unit_codes: set[str]) -> set[str]:
    """Usernames that could collide with generated ones (all end with ".<unit code>"), in one query."""
    taken: set[str] = set()
    for part in _chunks(sorted(unit_codes), 200):
        # LIKE's "_" wildcard may over-match, which only makes the set larger: harmless.
        query = select(User.username).where(or_(*[User.username.like(f"%.{code}") for code in part]))
        taken.update(u.lower() for u in db.session.scalars(query))
    return taken


def _generate_usernames(rows: list[RosterRow], taken: set[str]) -> list[str]:
    """name.unitcode (e.g. nguyenvanan.31135), then nguyenvanan2.31135 … when taken."""
    names = []
    for row in rows:
        base, code = _username_base(row.full_name), row.unit.code.lower()
        candidate, n = f"{base}.{code}", 1
        while candidate in taken:
            n += 1
            candidate = f"{base}{n}.{code}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _generate_passwords(count: int) -> list[str]:
    """count passwords as lms.security.generate_password makes them (10 of 31 characters), in bulk.

    One call to the system's random source for all of them, rejection-sampled so every character
    stays uniform: secrets.choice per character cost more than the hashing.
    """
    alphabet, length = "abcdefghjkmnpqrstuvwxyz23456789", 10
    limit = 256 - 256 % len(alphabet)  # bytes >= limit would favour the first characters
    chars: list[str] = []
    while len(chars) < count * length:
        chars.extend(alphabet[b % len(alphabet)] for b in secrets.token_bytes(count * length * 9 // 8 + 16)
                     if b < limit)
    return ["".join(chars[i:i + length]) for i in range(0, count * length, length)]


def _hash_initial_passwords(passwords: list[str]) -> list[str]:
    """Hash in a thread pool: argon2-cffi releases the GIL, so threads use every core."""
    if len(passwords) < 32:
        return [_initial_hasher.hash(p) for p in passwords]
    workers = max(1, min(8, os.cpu_count() or 1))
    size = -(-len(passwords) // workers)  # one list per thread: a future per hash cost more than the hash
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda part: [_initial_hasher.hash(p) for p in part],
                         [passwords[i:i + size] for i in range(0, len(passwords), size)])
        return [hashed for part in parts for hashed in part]


def _apply(user: User, row: RosterRow) -> bool:
    """Copy the row onto an existing account; blanks in the file keep what is stored. True if changed."""
    changes = {"full_name": row.full_name, "birth_date": row.birth_date, "unit_id": row.unit.id}
    for name in ("position", "phone", "email"):
        if getattr(row, name):
            changes[name] = getattr(row, name)
    changed = False
    for name, value in changes.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    return changed


def _match_rows(rows: list[RosterRow], only_unit_id: int | None,
                errors: list[RowError]) -> list[tuple[RosterRow, User | None]]:
    """Each valid row with its existing account (None: a new person); problems appended to errors.

    The valid rows are matched even when others are bad, so one pass lists every problem.
    """
    matcher = _Matcher(rows)
    matched: list[tuple[RosterRow, User | None]] = []
    used: dict[int, int] = {}
    for row in rows:
        try:
            user = matcher.match(row)
        except ValueError as exc:
            errors.append(RowError(row.line, str(exc)))
            continue
        if user is not None:
            if only_unit_id is not None and user.unit_id not in (None, only_unit_id):
                errors.append(RowError(row.line, "Người này đang thuộc đơn vị khác; liên hệ quản trị viên "
                                                 "để chuyển đơn vị."))
                continue
            if user.id in used:
                errors.append(RowError(row.line, f"Trùng người với dòng {used[user.id]} (cùng một tài khoản)."))
                continue
            used[user.id] = row.line
        matched.append((row, user))
    return matched


def _checked_rows(frame: pd.DataFrame, course_id: int,
                  only_unit_id: int | None) -> tuple[list[RosterRow], list[tuple[RosterRow, User | None]]]:
    """The file's rows and their matches; RosterRejected listing every problem."""
    if db.session.get(Course, course_id) is None:
        raise RosterRejected.single(f"Không có lớp học mã {course_id}.")
    rows, errors = parse_roster(frame, resolver=UnitResolver(), only_unit_id=only_unit_id)
    matched = _match_rows(rows, only_unit_id, errors)
    if errors:
        raise RosterRejected(errors)
    return rows, matched


def _hashed_passwords(count: int) -> list[tuple[str, str]]:
    """`count` new initial passwords with their hashes."""
    passwords = _generate_passwords(count)
    return list(zip(passwords, _hash_initial_passwords(passwords)))


# long: the import's steps in order, all rows or none
def import_roster(data: bytes, filename: str, course_id: int, *,  # noqa: C901  (the import's steps in order)
                  only_unit_id: int | None = None) -> ImportResult:
    """Import the file's trainees into the course, all rows or none; flushes, the caller commits.

    only_unit_id: an officer's unit; rows of other units (and people of other units) are refused.
    Called outside a transaction (as the pages, the API and the CLI do), the file is parsed, checked
    and the new accounts' passwords hashed in a read transaction of its own, before SQLite's write
    lock: under it only the matching is done again (on the rows as they are then) and the rows written.
    """
    frame = read_table(data, filename)  # before the first query
    prepared: list[tuple[str, str]] = []
    if not db.session.in_transaction():
        with read_only():
            try:
                rows, matched = _checked_rows(frame, course_id, only_unit_id)
            except BaseException:
                db.session.rollback()
                raise
            db.session.commit()  # ends the read transaction (it wrote nothing); loaded rows stay loaded
        prepared = _hashed_passwords(sum(1 for _row, user in matched if user is None))
        # Under the write lock from here: the course and the matches once more, as they are now.
        if db.session.scalar(select(Course.id).where(Course.id == course_id)) is None:
            raise RosterRejected.single(f"Không có lớp học mã {course_id}.")
        errors: list[RowError] = []
        matched = _match_rows(rows, only_unit_id, errors)
        if errors:
            raise RosterRejected(errors)
    else:
        rows, matched = _checked_rows(frame, course_id, only_unit_id)

    result = ImportResult(course_id=course_id, rows=len(rows),
                          unit_codes=sorted({r.unit.code for r in rows}))
    for row, user in matched:
        if user is not None:
            if _apply(user, row):
                result.updated += 1
            else:
                result.unchanged += 1

    new_rows = [row for row, user in matched if user is None]
    taken = _taken_usernames({r.unit.code.lower() for r in new_rows if not r.username})
    taken.update(r.username for r in rows if r.username)
    generated = iter(_generate_usernames([r for r in new_rows if not r.username], taken))
    if len(prepared) < len(new_rows):  # accounts removed meanwhile, or the caller's transaction was open
        prepared += _hashed_passwords(len(new_rows) - len(prepared))
    passwords, hashes = [p for p, _h in prepared[:len(new_rows)]], [h for _p, h in prepared[:len(new_rows)]]
    # Core multi-row INSERTs on the tables, not one tracked ORM object per account.
    users = cast(Table, User.__table__)
    new_ids = db.session.scalars(insert(users).returning(users.c.id, sort_by_parameter_order=True), [
        {"username": row.username or next(generated), "role": Role.trainee, "full_name": row.full_name,
         "unit_id": row.unit.id, "birth_date": row.birth_date, "position": row.position, "phone": row.phone,
         "email": row.email, "password_hash": hashed}
        for row, password, hashed in zip(new_rows, passwords, hashes)]).all() if new_rows else []
    created = {row.line: user_id for row, user_id in zip(new_rows, new_ids)}
    result.created = len(created)
    result.new_accounts = [(user_id, row.unit.id, password)
                           for row, user_id, password in zip(new_rows, new_ids, passwords)]

    enrolled = {user_id: (enrollment_id, unit_id) for enrollment_id, user_id, unit_id in db.session.execute(
        select(Enrollment.id, Enrollment.user_id, Enrollment.unit_id).where(Enrollment.course_id == course_id))}
    new_enrollments, moved = [], []
    for row, user in matched:
        user_id = user.id if user is not None else created[row.line]
        existing = enrolled.get(user_id)
        if existing is None:
            new_enrollments.append({"course_id": course_id, "user_id": user_id, "unit_id": row.unit.id})
        elif existing[1] != row.unit.id:
            moved.append({"id": existing[0], "unit_id": row.unit.id})
    if new_enrollments:
        db.session.execute(insert(cast(Table, Enrollment.__table__)), new_enrollments)
    if moved:
        db.session.execute(update(Enrollment), moved)
    db.session.flush()
    result.enrolled = len(new_enrollments)
    logger.info("roster import course=%s rows=%s created=%s updated=%s enrolled=%s", course_id,
                result.rows, result.created, result.updated, result.enrolled)
    return result
