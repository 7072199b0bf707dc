"""Alembic environment: runs against the engine of the Flask app that invoked it."""
from __future__ import annotations

import importlib

from alembic import context

from lms.db import Base, make_engine

config = context.config
app = config.attributes["app"]
# Every model must be imported so autogenerate sees the whole schema.
importlib.import_module("lms.models")
for feature in app.config["FEATURES"]:
    try:
        importlib.import_module(f"{feature}.models")
    except ModuleNotFoundError as exc:
        if exc.name != f"{feature}.models":
            raise

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
