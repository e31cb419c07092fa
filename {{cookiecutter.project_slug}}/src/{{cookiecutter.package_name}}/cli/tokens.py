"""``flask --app {{ cookiecutter.package_name }} users token ...``: access tokens, from the shell.

For automation that has no browser to log in with: ``users token create NAME --user alice``
prints the token once; the store keeps only its hash.
"""

from __future__ import annotations

import re
from datetime import timedelta

import click
from flask.cli import AppGroup

from ..audit import audit
from ..bridge import run
from ..resources import user_store
from ..users import normalize_username
from ..users.logins import now as utc_now
from ..users.models import SCOPE_PATTERN

token_cli = AppGroup("token", help="Manage a user's access tokens.")
user_option = click.option("--user", "username", required=True, help="Whose tokens.")


def _user_id(username: str) -> int:
    account = run(user_store().account(normalize_username(username)))
    if account is None:
        raise click.UsageError(f"no user {username!r}")
    return account.id


@token_cli.command("create")
@click.argument("name")
@user_option
@click.option("--scope", "scopes", multiple=True, help="A scope the token carries (repeatable).")
@click.option(
    "--expires-in", type=click.IntRange(60), help="Seconds it lives; default: until revoked."
)
def token_create(name: str, username: str, scopes: tuple[str, ...], expires_in: int | None) -> None:
    """Make an access token NAME for a user; the token is printed once."""
    if bad := [scope for scope in scopes if not re.fullmatch(SCOPE_PATTERN, scope)]:
        raise click.BadParameter(f"not a scope: {', '.join(bad)}", param_hint="--scope")
    user_id = _user_id(username)
    expires_at = None if expires_in is None else utc_now() + timedelta(seconds=expires_in)
    token, secret = run(user_store().create_access_token(user_id, name, scopes, expires_at))
    audit("token.create", "success", user_id=user_id)
    click.echo(f"created token {token.id} {token.name!r}; it is shown this once:", err=True)
    click.echo(secret)


@token_cli.command("list")
@user_option
def token_list(username: str) -> None:
    """A user's tokens: id, name, scopes, expiry (never the secret)."""
    for token in run(user_store().access_tokens(_user_id(username))):
        expiry = token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
        click.echo(f"{token.id}\t{token.name}\t{' '.join(token.scopes) or '-'}\t{expiry}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
@user_option
def token_revoke(token_id: int, username: str) -> None:
    """Revoke one of a user's tokens."""
    user_id = _user_id(username)
    if not run(user_store().revoke_access_token(user_id, token_id)):
        raise click.UsageError(f"{username!r} has no token {token_id}")
    audit("token.revoke", "success", user_id=user_id)
    click.echo(f"revoked token {token_id}")
