"""`flask --app lms lti …`: register platforms, list them, sync rosters and send scores."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lms.db import db, read_only
from lms.lti.models import LtiContext
from lms.lti.operations import LtiError, platforms, push_scores, register_platform, sync_from_platform
from lms.security import audit

lti_cli = AppGroup("lti", help="Kết nối LMS qua LTI 1.3.")
platform_cli = AppGroup("platform", help="Nền tảng LMS đã đăng ký.")
lti_cli.add_command(platform_cli)


def init_app(app: Flask) -> None:
    """Register the `lti` command group."""
    app.cli.add_command(lti_cli)


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@platform_cli.command("add")
@click.option("--name", default="", help="Tên hiển thị, ví dụ Moodle Trường Chính trị.")
@click.option("--issuer", required=True, help="Platform ID (issuer) đúng như LMS gửi.")
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True)
@click.option("--key-set-url", required=True)
@click.option("--auth-login-url", required=True)
@click.option("--access-token-url", required=True)
@click.option("--unit", "unit_code", default=None, help="Mã đơn vị của học viên đến từ LMS này.")
def platform_add(name: str, issuer: str, client_id: str, deployment_ids: tuple[str, ...], key_set_url: str,
                 auth_login_url: str, access_token_url: str, unit_code: str | None) -> None:
    """Register an LMS that may launch thuhoach."""
    try:
        platform = register_platform(name=name, issuer=issuer, client_id=client_id, deployment_ids=deployment_ids,
                                     key_set_url=key_set_url, auth_login_url=auth_login_url,
                                     auth_token_url=access_token_url, unit_code=unit_code)
    except LtiError as exc:
        _fail(exc.message)
    audit("lti.platform_added", target=platform.issuer, detail=f"client_id={platform.client_id}")
    db.session.commit()
    click.echo(f"Đã đăng ký nền tảng {platform.name} (mã {platform.id}).")


@platform_cli.command("list")
def platform_list() -> None:
    """List registered platforms, one a line, tab-separated."""
    for p in platforms():
        click.echo("\t".join([str(p.id), p.name, p.issuer, p.client_id, p.deployment_ids,
                              p.unit.code if p.unit else "-"]))


def _context(context_id: int) -> LtiContext:
    # Read without a write lock: the LMS is called next and may be slow.
    with read_only():
        context = db.session.get(LtiContext, context_id)
    if context is None:
        _fail(f"Không có khoá học LMS đã liên kết mã {context_id}.")
    return context


@lti_cli.command("contexts")
def contexts_list() -> None:
    """List LMS courses linked to thuhoach courses."""
    for c in db.session.scalars(select(LtiContext).order_by(LtiContext.id)):
        click.echo("\t".join([str(c.id), c.platform.name, c.context_id, c.title or "", str(c.course_id)]))


@lti_cli.command("sync")
@click.argument("context_id", type=int)
def sync(context_id: int) -> None:
    """Fill a linked course's roster from the LMS (Names and Roles)."""
    context = _context(context_id)
    try:
        result = sync_from_platform(context)
    except LtiError as exc:
        _fail(exc.message)
    audit("lti.roster_synced", target=f"context={context.id}", detail=result.summary()[:500])
    db.session.commit()
    click.echo(result.summary())


@lti_cli.command("scores")
@click.argument("context_id", type=int)
@click.option("--resend", is_flag=True, help="Send every score again (a gradebook that was reset).")
def scores(context_id: int, resend: bool) -> None:
    """Send each linked trainee's "submitted" score for each placed topic (changed or not yet sent)."""
    context = _context(context_id)
    result = push_scores(context, resend=resend)
    audit("lti.scores_sent", target=f"context={context.id}", detail=result.summary())
    db.session.commit()
    click.echo(result.summary())
    if result.failed:
        sys.exit(1)
