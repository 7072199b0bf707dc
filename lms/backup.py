"""Backup and restore: every table as JSON lines plus the stored files, in one .tar.gz.

Portable on purpose: a backup taken on SQLite restores into PostgreSQL and back. The search
index is not included: it is derived from the database and rebuilt after a restore.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from flask import Flask
from sqlalchemy import Date, func, insert, select, text

from lms.db import Base, UTCDateTime, db, read_only

FORMAT_VERSION = 1
# Folders of DATA_DIR that are derived (rebuilt from the database) and not worth backing up.
DERIVED_DIRS = {"search", "tmp"}


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message is for the user."""


def _tables():
    import importlib

    from flask import current_app

    for name in ("lms", *current_app.config["FEATURES"]):
        try:
            importlib.import_module(f"{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.models":
                raise
    # Tables marked info={"backup": False} hold nothing worth restoring (credential_sheet: sealed
    # with keys that only importers' browsers had).
    return [t for t in Base.metadata.sorted_tables if t.info.get("backup", True)]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        return value.value
    if isinstance(value, str) and hasattr(value, "value"):
        return value.value
    return value


def _decode(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return dt.date.fromisoformat(value)
    return value


def _data_files(data_dir: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(data_dir):
        rel_root = Path(root).relative_to(data_dir)
        if rel_root == Path("."):
            dirs[:] = [d for d in dirs if d not in DERIVED_DIRS]
        for name in files:
            path = Path(root) / name
            if rel_root == Path(".") and path.suffix in {".db", ".db-wal", ".db-shm"}:
                continue  # the SQLite file itself when DATA_DIR is the instance folder
            if rel_root == Path(".") and name == "secret_key":
                continue
            yield path


def write_backup(app: Flask, out: Path) -> dict[str, int]:
    """Write the database and the stored files to `out` (.tar.gz); returns row counts per table."""
    data_dir = Path(app.config["DATA_DIR"])
    counts: dict[str, int] = {}
    tmp = out.with_name(out.name + ".part")
    # One read transaction: every table is read from the same snapshot, without the write lock.
    session = db.new_session(app)
    # 0600 from the first byte: the archive holds password hashes and the LTI private key.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older .part left by a crash keeps its mode otherwise
    try:
        with read_only(), os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for table in _tables():
                buf = io.BytesIO()
                n = 0
                for row in session.execute(select(table)).mappings():
                    buf.write(json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False).encode())
                    buf.write(b"\n")
                    n += 1
                counts[table.name] = n
                info = tarfile.TarInfo(f"db/{table.name}.jsonl")
                info.size = buf.tell()
                buf.seek(0)
                tar.addfile(info, buf)
            for path in _data_files(data_dir):
                tar.add(path, arcname=f"files/{path.relative_to(data_dir).as_posix()}")
            manifest = json.dumps({"format": FORMAT_VERSION, "tables": counts,
                                   "created_at": dt.datetime.now(dt.timezone.utc).isoformat()}).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(manifest)
            tar.addfile(info, io.BytesIO(manifest))
    finally:
        session.rollback()
        session.close()
    os.replace(tmp, out)
    return counts


def _member_file(tar: tarfile.TarFile, member: str | tarfile.TarInfo) -> IO[bytes]:
    """A regular file of the archive, opened for reading; BackupError for anything else."""
    handle = tar.extractfile(member)
    if handle is None:
        raise BackupError("Tệp sao lưu không đọc được.")
    return handle


def restore_backup(app: Flask, archive: Path) -> dict[str, int]:
    """Restore a backup into an empty, migrated database and DATA_DIR; returns row counts."""
    data_dir = Path(app.config["DATA_DIR"])
    tables = _tables()
    session = db.session
    try:
        tar = tarfile.open(archive, "r:gz")
        names = set(tar.getnames())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError("Tệp sao lưu không đọc được.") from exc
    counts: dict[str, int] = {}
    with tar:
        if "manifest.json" not in names:
            raise BackupError("Tệp không phải bản sao lưu của hệ thống (thiếu manifest.json).")
        manifest = json.load(_member_file(tar, "manifest.json"))
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError("Bản sao lưu có định dạng không hỗ trợ.")
        for table in tables:
            if session.scalar(select(func.count()).select_from(table)):
                raise BackupError(f"Cơ sở dữ liệu chưa trống (bảng {table.name} đã có dữ liệu): "
                                  "chỉ khôi phục vào cơ sở dữ liệu mới.")
        for table in tables:
            member = f"db/{table.name}.jsonl"
            if member not in names:
                continue
            rows = [json.loads(line) for line in _member_file(tar, member).read().splitlines() if line]
            columns = {c.name: c for c in table.columns}
            rows = [{k: _decode(columns[k], v) for k, v in row.items() if k in columns} for row in rows]
            for start in range(0, len(rows), 1000):
                session.execute(insert(table), rows[start:start + 1000])
            counts[table.name] = len(rows)
        if session.get_bind().dialect.name == "postgresql":
            _reset_sequences(session, tables)
        staging = Path(tempfile.mkdtemp(dir=data_dir.parent if data_dir.parent.exists() else None))
        try:
            for entry in tar.getmembers():
                if not entry.name.startswith("files/") or not entry.isfile():
                    continue
                rel = Path(entry.name[len("files/"):])
                if rel.is_absolute() or ".." in rel.parts:
                    raise BackupError("Bản sao lưu chứa đường dẫn tệp không hợp lệ.")
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                # The mode the file had (0600 for the LTI key), never more than rw-r--r--.
                mode = entry.mode & 0o644
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.fchmod(out, mode)
                with _member_file(tar, entry) as src, os.fdopen(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            for path in staging.rglob("*"):
                if path.is_file():
                    dest = data_dir / path.relative_to(staging)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return counts


def _reset_sequences(session, tables) -> None:
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement and str(pk[0].type).upper().startswith("INTEGER"):
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{pk[0].name}'), "
                f"COALESCE((SELECT MAX(\"{pk[0].name}\") FROM \"{table.name}\"), 0) + 1, false)"))
