"""Backup and restore round-trip: every row and every stored file comes back, SHA-256 intact."""
from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select

from lms.db import Base, db
from lms.models import Role, User


def _submit_some(make_unit, make_user, make_course, enroll):
    from essays.operations import submit_essay

    unit = make_unit(code="31135", name="Phường Ninh Kiều")
    course = make_course()
    officer = make_user(Role.officer, unit=unit)
    versions = []
    for i in range(3):
        trainee = make_user(Role.trainee, unit=unit, full_name=f"Nguyễn Văn Đức {i}")
        enroll(trainee, course)
        body = f"Bài thu hoạch số {i}. Kiến nghị: đẩy mạnh chuyển đổi số ở phường, xã. " * 5
        versions.append(submit_essay(trainee, course.topics[0], data=body.encode(), filename=f"bài {i}.txt",
                                     text=None, uploaded_by=trainee))
        versions.append(submit_essay(trainee, course.topics[1], data=None, filename=None,
                                     text=body + " Bản dán.", uploaded_by=officer))
    db.session.commit()
    return versions


def _table_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_backup_then_restore_round_trips_every_essay(app, app_config, migrated_template, runner, tmp_path,
                                                     make_unit, make_user, make_course, enroll):
    from essays.models import EssayVersion
    from essays.storage import file_path
    from lms import create_app
    from tests.conftest import _database_url

    from lms.lti.adapter import tool_keys

    _submit_some(make_unit, make_user, make_course, enroll)
    tool_keys(app)  # the LTI private key, 0600 in DATA_DIR/lti/
    before = _table_counts()
    expected = {(v.essay_id, v.number): (v.sha256, v.text) for v in db.session.scalars(select(EssayVersion))}
    archive = tmp_path / "sao-luu.tar.gz"
    db.session.commit()
    result = runner.invoke(args=["backup", "--out", str(archive)])
    assert result.exit_code == 0, result.output
    # Before: 0644, readable by every local account, with password hashes and the LTI key inside.
    assert archive.stat().st_mode & 0o777 == 0o600

    # A new machine: an empty migrated database and an empty data folder.
    db.session.commit()
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = create_app({**app_config, "DATABASE_URL": _database_url(migrated_template, fresh_dir),
                        "DATA_DIR": str(fresh_dir / "data")})
    with fresh.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        result = fresh.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 0, result.output
        after = _table_counts()
        after.pop("audit_event"); before.pop("audit_event")  # the restore itself is audited
        assert after == before
        restored = db.session.scalars(select(EssayVersion)).all()
        assert len(restored) == len(expected) == 6
        for version in restored:
            sha, body = expected[(version.essay_id, version.number)]
            data = file_path(fresh.config["DATA_DIR"], version.sha256).read_bytes()
            assert version.sha256 == sha == hashlib.sha256(data).hexdigest()
            assert version.text == body
        # Before: the key came back 0644.
        key = Path(fresh.config["DATA_DIR"]) / "lti" / "tool_private_key.pem"
        assert key.read_bytes() == (Path(app.config["DATA_DIR"]) / "lti" / "tool_private_key.pem").read_bytes()
        assert key.stat().st_mode & 0o777 == 0o600
        # The restored database keeps working: new rows get fresh ids.
        db.session.add(User(username="moi", role=Role.reviewer, full_name="Mới", password_hash="x"))
        db.session.commit()
        db.session.close()
    db.engine(fresh).dispose()


def test_restore_refuses_a_non_empty_database(app, runner, tmp_path, make_user):
    make_user(Role.admin)
    archive = tmp_path / "b.tar.gz"
    assert runner.invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    result = runner.invoke(args=["restore", str(archive)])
    assert result.exit_code == 1
    assert "chưa trống" in result.output


def test_restore_refuses_a_file_that_is_not_a_backup(app, runner, tmp_path):
    bogus = tmp_path / "x.tar.gz"
    bogus.write_bytes(b"not a tar")
    result = runner.invoke(args=["restore", str(bogus)])
    assert result.exit_code == 1
    assert "không đọc được" in result.output
