"""``flask --app {{ cookiecutter.package_name }} users ...``: manage accounts in the user store.

Every change is an audit event. Changing a password, deactivating or deleting a user ends
every login and access token of theirs at once, on every worker and instance.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..audit import audit
from ..bridge import run
from ..resources import current_settings, user_store
from ..users import Account, StoreUnavailable, UsernameTaken, normalize_username, validate_username
from ..users.password_rules import password_problem
from .tokens import token_cli

users_cli = AppGroup("users", help="Manage users.")
users_cli.add_command(token_cli)

password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting (for scripts).",
)


def read_password(username: str, from_stdin: bool) -> str:
    """The new password, prompted for without echo or read from stdin, and checked."""
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    minimum = current_settings().password_min_length
    if problem := password_problem(password, username=username, min_length=minimum):
        raise click.UsageError(problem)
    return password


def existing(username: str) -> Account:
    """The account named USERNAME, or a usage error naming it."""
    account = run(user_store().account(normalize_username(username)))
    if account is None:
        raise click.UsageError(f"no user {username!r}")
    return account


@users_cli.command("create")
@click.argument("username")
@password_stdin
def users_create(username: str, password_stdin: bool) -> None:
    """Create USERNAME; the password is prompted for without echo, or read from stdin."""
    username = normalize_username(username)
    if problem := validate_username(username):
        raise click.BadParameter(problem, param_hint="USERNAME")
    password = read_password(username, password_stdin)
    try:
        user = run(user_store().create_user(username, password))
    except UsernameTaken:
        raise click.UsageError(f"user {username!r} exists already") from None
    except StoreUnavailable as error:
        raise click.ClickException(f"the user store is not available: {error}") from None
    audit("user.create", "success", user_id=user.id)
    click.echo(f"created user {user.username!r} with id {user.id}")


@users_cli.command("set-password")
@click.argument("username")
@password_stdin
def users_set_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; their logins and access tokens end."""
    account = existing(username)
    password = read_password(account.username, password_stdin)
    run(user_store().set_password(account.id, password))
    audit("password.set", "success", user_id=account.id)
    click.echo(f"set the password of {account.username!r}; their logins and tokens ended")


@users_cli.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Stop USERNAME from logging in; their logins and access tokens end."""
    account = existing(username)
    run(user_store().set_active(account.id, False))
    audit("user.deactivate", "success", user_id=account.id)
    click.echo(f"deactivated {account.username!r}; their logins and tokens ended")


@users_cli.command("activate")
@click.argument("username")
def users_activate(username: str) -> None:
    """Let USERNAME log in again."""
    account = existing(username)
    run(user_store().set_active(account.id, True))
    audit("user.activate", "success", user_id=account.id)
    click.echo(f"activated {account.username!r}")


@users_cli.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(username: str, yes: bool) -> None:
    """Delete USERNAME, with their logins and access tokens."""
    account = existing(username)
    if not yes:
        click.confirm(f"Delete {account.username!r} for good?", abort=True)
    run(user_store().delete_user(account.id))
    audit("user.delete", "success", user_id=account.id)
    click.echo(f"deleted {account.username!r}")


@users_cli.command("list")
def users_list() -> None:
    """Every user: id, name, whether active, when created."""
    for account in run(user_store().accounts()):
        state = "active" if account.is_active else "inactive"
        created = account.created_at.isoformat(timespec="seconds")
        click.echo(f"{account.id}\t{account.username}\t{state}\t{created}")
