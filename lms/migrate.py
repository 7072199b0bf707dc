"""Alembic wiring: the host's migrations plus one branch per feature package."""
from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

HERE = Path(__file__).parent


def alembic_config(app: Flask) -> Config:
    """An Alembic Config pointing at this app's database and every package's versions folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    locations = [str(HERE / "migrations" / "versions")]
    for name in app.config["FEATURES"]:
        package = importlib.import_module(name)
        folder = Path(package.__file__ or ".").parent / "migrations"
        if folder.is_dir():
            locations.append(str(folder))
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["app"] = app
    return cfg


def upgrade(app: Flask, revision: str = "heads") -> None:
    """Bring the database schema up to date."""
    command.upgrade(alembic_config(app), revision)


def revision(app: Flask, message: str, *, head: str = "lms@head", autogenerate: bool = True,
             version_path: str | None = None) -> None:
    """Create a migration (developers only)."""
    command.revision(alembic_config(app), message=message, autogenerate=autogenerate, head=head,
                     version_path=version_path)
