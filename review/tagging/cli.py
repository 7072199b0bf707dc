"""`flask --app lms themes …`: the Board's codebook from the command line."""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask.cli import AppGroup

from lms.db import db
from lms.security import audit
from review.tagging.models import Theme
from review.tagging.operations import (
    TaggingError,
    create_theme,
    merge_themes,
    ordered_tree,
    retire_theme,
    theme_or_error,
    update_theme,
)

themes_cli = AppGroup("themes", help="Chủ đề (bộ mã) của Ban Tổ chức.")


def _fail(message: str) -> NoReturn:
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@themes_cli.command("add")
@click.argument("name")
@click.option("--parent", "parent_id", type=int, default=None, help="Mã lĩnh vực cha.")
@click.option("--description", default=None)
def themes_add(name: str, parent_id: int | None, description: str | None) -> None:
    """Add a theme; prints its id."""
    try:
        theme = create_theme(name, parent_id=parent_id, description=description)
    except TaggingError as exc:
        _fail(str(exc))
    audit("theme.created", target=f"theme={theme.id}", detail=theme.name)
    db.session.commit()
    click.echo(theme.id)


@themes_cli.command("merge")
@click.argument("source_id", metavar="FROM", type=int)
@click.argument("target_id", metavar="INTO", type=int)
def themes_merge(source_id: int, target_id: int) -> None:
    """Merge theme FROM into theme INTO: its tags move, FROM is retired."""
    try:
        source, target = theme_or_error(source_id), theme_or_error(target_id)
        moved = merge_themes(source, target)
    except TaggingError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"Đã gộp “{source.name}” vào “{target.name}”: {moved} thẻ được chuyển.")


@themes_cli.command("rename")
@click.argument("theme_id", type=int)
@click.argument("name")
def themes_rename(theme_id: int, name: str) -> None:
    """Rename a theme."""
    try:
        theme = update_theme(theme_or_error(theme_id), name=name)
    except TaggingError as exc:
        _fail(str(exc))
    audit("theme.renamed", target=f"theme={theme.id}", detail=theme.name)
    db.session.commit()
    click.echo(f"Đã đổi tên lĩnh vực {theme.id} thành “{theme.name}”.")


@themes_cli.command("retire")
@click.argument("theme_id", type=int)
def themes_retire(theme_id: int) -> None:
    """Hide a theme from choosing (existing tags keep it)."""
    try:
        theme = retire_theme(theme_or_error(theme_id))
    except TaggingError as exc:
        _fail(str(exc))
    audit("theme.retired", target=f"theme={theme.id}")
    db.session.commit()
    click.echo(f"Đã ngừng sử dụng lĩnh vực “{theme.name}”.")


@themes_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Cả lĩnh vực đã ngừng sử dụng hoặc đã gộp.")
def themes_list(show_all: bool) -> None:
    """List themes as a tree: id, name, (retired)."""
    from sqlalchemy import select


    query = select(Theme)
    if not show_all:
        query = query.where(Theme.is_retired.is_(False))
    for theme in ordered_tree(db.session.scalars(query).all()):
        flag = " (đã gộp)" if theme.merged_into_id else " (ngừng sử dụng)" if theme.is_retired else ""
        click.echo(f"{theme.id:>5}  {'  ' * getattr(theme, 'depth', 0)}{theme.name}{flag}")
