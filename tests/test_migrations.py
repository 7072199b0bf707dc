"""The migrations create exactly the schema the models describe."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import importlib

from lms.db import Base, db


def test_models_and_migrations_agree(app):
    for name in ("lms", *app.config["FEATURES"]):
        importlib.import_module(f"{name}.models")
    with db.engine(app).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models differ from migrations: {diff}"
