"""`flask search …`: the indexer/worker process, a full rebuild of the index, a check against the database."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from essays.indexing import check, drain_all, reindex
from essays.models import Essay
from lms.db import db
from lms.jobs import run_worker

search_cli = AppGroup("search", help="Chỉ mục tìm kiếm.")


@search_cli.command("worker")
def worker_command() -> None:
    """Run the one indexer/worker process (production: THUHOACH_INDEXER_IN_PROCESS=0 on the web)."""
    run_worker(current_app._get_current_object())


@search_cli.command("reindex")
def reindex_command() -> None:
    """Rebuild the index from the database into a new folder and switch atomically."""
    app_obj = current_app._get_current_object()
    session = db.new_session(app_obj)
    total = session.scalar(select(func.count()).select_from(Essay).where(Essay.current_version_id.is_not(None)))
    session.close()
    with click.progressbar(length=total or 0, label="Đang dựng lại chỉ mục") as bar:
        done = [0]

        def progress(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        n = reindex(app_obj, progress)
    click.echo(f"Đã dựng lại chỉ mục: {n} bài thu hoạch.")


@search_cli.command("check")
@click.option("--no-repair", is_flag=True, help="Chỉ báo cáo, không sửa.")
def check_command(no_repair: bool) -> None:
    """Compare database and index, and repair what differs."""
    app_obj = current_app._get_current_object()
    result = check(app_obj, repair=not no_repair)
    click.echo(f"CSDL: {result['database']} bài, chỉ mục: {result['index']} bài, "
               f"thiếu: {result['missing']}, thừa: {result['extra']}.")
    if not no_repair and result["missing"]:
        n = drain_all(app_obj)
        click.echo(f"Đã bổ sung {n} bài vào chỉ mục.")
