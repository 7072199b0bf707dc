"""Essay files stored by content hash under <DATA_DIR>/files/ab/cd/<sha256> (no Flask here).

A file is written to a temporary name in its final folder, fsynced, then published with
`os.link`, which fails when the name exists: whoever links first created the file, and the
content of a name never changes afterwards, so identical uploads share one file. The folder
is fsynced too, so a row committed after `store_bytes` returns never points at a file a power
cut could still take away. Names the user chose are never used on disk.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    """Where a stored file lives, and whether this call created it (False: it was there already)."""

    sha256: str
    path: Path
    size: int
    created: bool


def files_root(data_dir: Path | str) -> Path:
    """The folder holding every stored essay file."""
    return Path(data_dir) / "files"


def file_path(data_dir: Path | str, sha256: str) -> Path:
    """The path of the file with this SHA-256 (hex); raises ValueError for anything else."""
    if not _SHA256_RE.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return files_root(data_dir) / sha256[:2] / sha256[2:4] / sha256


def sha256_of(data: bytes) -> str:
    """SHA-256 of the bytes, lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(folder: Path) -> None:
    """Create the folder and its parents, fsyncing each parent that gained an entry."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # a concurrent upload made it first
            continue
        _fsync_dir(path.parent)


def store_bytes(data_dir: Path | str, data: bytes, sha256: str | None = None) -> StoredFile:
    """Store the bytes durably under their SHA-256; identical content is stored once."""
    digest = sha256 or sha256_of(data)
    path = file_path(data_dir, digest)
    if path.exists() and path.stat().st_size == len(data):
        return StoredFile(digest, path, len(data), created=False)
    _make_dirs(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o640)
        try:
            os.link(tmp, path)  # atomic and exclusive: exactly one writer publishes the name
            created = True
        except FileExistsError:
            if path.stat().st_size != len(data):
                # Only a crash mid-copy by hand could leave this; the hash says what belongs here.
                os.replace(tmp, path)
                created = True
                logger.warning("replaced damaged stored file %s", digest)
            else:
                created = False
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return StoredFile(digest, path, len(data), created=created)


def read_bytes(data_dir: Path | str, sha256: str) -> bytes:
    """The stored file's content (FileNotFoundError if missing)."""
    return file_path(data_dir, sha256).read_bytes()


def remove_file(data_dir: Path | str, sha256: str) -> None:
    """Delete a stored file (used only for files a failed transaction created and nothing uses)."""
    path = file_path(data_dir, sha256)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        _fsync_dir(path.parent)
        logger.info("removed orphan file %s", sha256)


def stored_files(data_dir: Path | str) -> list[Path]:
    """Every stored file (temporary files excluded), for checks and clean-up scripts."""
    root = files_root(data_dir)
    if not root.exists():
        return []
    return sorted(p for p in root.glob("*/*/*") if p.is_file() and not p.name.startswith(".tmp-"))
