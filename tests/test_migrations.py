"""The migrations create exactly the schema the models describe."""
from __future__ import annotations

import importlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from lms import create_app
from lms.db import Base, db
from lms.migrate import upgrade


def test_models_and_migrations_agree(app):
    for name in ("lms", *app.config["FEATURES"]):
        importlib.import_module(f"{name}.models")
    with db.engine(app).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_upgrade_keeps_the_rows_of_a_database_in_use(tmp_path):
    """Migrations run on a SQLite database with foreign keys on and rows referring to users."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "SECRET_KEY": "t",
                      "DATA_DIR": str(tmp_path), "INDEXER_IN_PROCESS": False})
    with app.app_context():
        upgrade(app, "9a3c0de1b2f7")  # before initial passwords were dropped
        with db.engine(app).begin() as conn:
            conn.execute(text("INSERT INTO unit (id, code, name, kind, match_name) VALUES (1, '31135', 'P', 'phường', 'p')"))
            conn.execute(text("INSERT INTO user (id, username, password_hash, role, full_name, is_active_account, "
                              "created_at, initial_password) VALUES (1, 'hv1', 'x', 'trainee', 'A', 1, '2026-01-01', 'abc')"))
            conn.execute(text("INSERT INTO course (id, name, starts_on, ends_on, essay_due_at, cutoff_at, created_at) "
                              "VALUES (1, 'L', '2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-01')"))
            conn.execute(text("INSERT INTO enrollment (id, course_id, user_id, unit_id, created_at) "
                              "VALUES (1, 1, 1, 1, '2026-01-01')"))
        upgrade(app)
        with db.engine(app).connect() as conn:
            assert conn.execute(text("SELECT user_id FROM enrollment")).scalars().all() == [1]
            assert conn.execute(text("SELECT username FROM user")).scalars().all() == ["hv1"]
            assert "initial_password" not in {c["name"] for c in inspect(conn).get_columns("user")}
        db.engine(app).dispose()
