"""The one mechanism behind the hooks: named steps, run in order, per phase.

A step is a plain function taking a :class:`StepContext`. The built-in steps below and a team
profile's steps (``teams.py``) run through :func:`run`, which stops at the first failure and
prints one line naming the step. Cookiecutter then removes the half-written project, so a
failed generation leaves nothing behind.

``cruft update`` and ``cruft diff`` re-render the template twice in temporary folders to
compute a patch. Steps with side effects outside those renders (``git init``, a new secret, a
team registering the service somewhere) must not run then; steps that shape the files (pruning,
team files) must, or the patch would be wrong. Each step says which it is with ``on_update``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import answers as answer_checks
import locking
import teams


class StepFailed(Exception):
    """Raise from a step with a one-line reason to stop generation."""


@dataclass(frozen=True)
class StepContext:
    answers: dict[str, Any]
    project: Path
    profile: teams.Profile
    updating: bool


@dataclass(frozen=True)
class Step:
    name: str
    function: Callable[[StepContext], None]
    on_update: bool = False


# --- built-in steps --------------------------------------------------------------------------


def validate_answers(ctx: StepContext) -> None:
    if (problem := answer_checks.first_error(ctx.answers)) is not None:
        raise StepFailed(problem)


ENV_FILE = ".env"
SECRET_KEY_BYTES = 48


def write_secret(ctx: StepContext) -> None:
    """Write ``.env`` (mode 0600) with a fresh SECRET_KEY, so no two services share one and it
    never sits in the template or in cookiecutter's replay file. An existing ``.env`` is kept:
    replacing a secret logs everybody out."""
    prefix = ctx.answers["__env_prefix"]
    secret = secrets.token_urlsafe(SECRET_KEY_BYTES)
    lines = [f"{prefix}ENV=development", f"{prefix}SECRET_KEY={secret}"]
    try:
        fd = os.open(ctx.project / ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"note: {ENV_FILE} already exists; left it unchanged", file=sys.stderr)
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    (ctx.project / ENV_FILE).chmod(0o600)  # os.open's mode is filtered by the umask


#: (path with ``{package_name}``, predicate saying these answers do NOT need the path). Each
#: bake keeps the code, and the tests, of its own user store only.
def _store_is(*stores: str) -> Callable[[dict[str, Any]], bool]:
    return lambda answers: answers.get("user_store") in stores


PRUNE: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    # The HTTP store asks another service: no tables, migrations, hashing or provider API here.
    ("src/{package_name}/users/sql", _store_is("http")),
    ("src/{package_name}/users/passwords.py", _store_is("http")),
    ("src/{package_name}/cli/db.py", _store_is("http")),
    ("src/{package_name}/web/users_api.py", _store_is("http")),
    ("tests/users/test_sqlite.py", _store_is("http", "postgres")),
    ("tests/users/test_passwords.py", _store_is("http")),
    ("tests/web/test_users_api.py", _store_is("http")),
    ("src/{package_name}/users/sql/sqlite.py", _store_is("postgres")),
    ("src/{package_name}/users/sql/sqlite_accounts.py", _store_is("postgres")),
    ("src/{package_name}/users/sql/statements.py", _store_is("postgres")),
    ("src/{package_name}/users/sql/engine.py", _store_is("postgres")),
    ("src/{package_name}/users/sql/postgres.py", _store_is("sqlite")),
    ("src/{package_name}/users/sql/postgres_accounts.py", _store_is("sqlite")),
    ("tests/users/test_postgres.py", _store_is("sqlite", "http")),
    ("src/{package_name}/users/http_store.py", _store_is("sqlite", "postgres")),
    ("tests/users/test_http_store.py", _store_is("sqlite", "postgres")),
    ("tests/user_service.py", _store_is("sqlite", "postgres")),
    ("tests/memory_store.py", _store_is("sqlite", "postgres")),
    ("tests/cli/test_db.py", _store_is("http")),
)


def prune(ctx: StepContext) -> None:
    """Remove what the answers do not use; the template itself has no per-file conditionals."""
    for pattern, not_needed in PRUNE:
        target = ctx.project / pattern.format(package_name=ctx.answers["package_name"])
        if not not_needed(ctx.answers):
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def render_team_files(ctx: StepContext) -> None:
    """Render the profile's ``[[files]]`` with Jinja, with ``cookiecutter`` as in the template."""
    from jinja2 import Environment, StrictUndefined  # cookiecutter's own dependency

    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)  # noqa: S701
    for source, target in ctx.profile.files:
        text = (ctx.profile.root / source).read_text(encoding="utf-8")
        destination = ctx.project / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(env.from_string(text).render(cookiecutter=ctx.answers))


def lock_dependencies(ctx: StepContext) -> None:
    """Write ``uv.lock`` (``locking.py``); without uv or the package index, warn in one line
    and go on: the service works without a lock until ``make lock`` writes one."""
    if (problem := locking.lock(ctx.project)) is not None:
        print(f"warning: uv.lock not written: {problem}; run `make lock` later", file=sys.stderr)


def record_template(ctx: StepContext) -> None:
    """Write ``.cruft.json`` for services made with plain cookiecutter, so that ``cruft
    update`` and ``cruft check`` work on them too (``cruft create`` writes its own)."""
    if "_repo_dir" not in ctx.answers:
        return
    repo = Path(ctx.answers["_repo_dir"]).resolve()
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--show-toplevel", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = head.stdout.split()
    # rev-parse searches upwards: a template folder inside some other repository is no checkout.
    if head.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != repo:
        print("note: the template is not a git checkout; .cruft.json not written", file=sys.stderr)
        return
    context = {k: v for k, v in ctx.answers.items() if k not in ("_repo_dir", "_output_dir")}
    state = {
        "template": ctx.answers["_template"],
        "commit": lines[1],
        "checkout": ctx.answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
    }
    (ctx.project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def git_init(ctx: StepContext) -> None:
    """``git init`` with a first commit, when the ``git_init`` answer asks for it."""
    if ctx.answers.get("git_init") != "yes":
        return
    if shutil.which("git") is None:
        raise StepFailed("git is not installed; install it or answer git_init=no")
    # The first commit is the author's; variables from the caller's shell must not override it.
    name, email = ctx.answers["author_name"], ctx.answers["author_email"]
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    env |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    message = f"Generate {ctx.answers['project_name']} from the async-flask-service template"
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "--message", message],
    ):
        result = subprocess.run(
            ["git", *command], cwd=ctx.project, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:  # git explains on stderr, or on stdout ("nothing to commit")
            output = result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}"
            raise StepFailed(f"git {command[0]}: {output.splitlines()[-1]}")


# --- the mechanism ---------------------------------------------------------------------------


def team_steps(profile: teams.Profile, phase: str) -> list[Step]:
    return [
        Step(f"team {profile.name}: {s.run}", profile.function(s.run), s.on_update)
        for s in profile.steps
        if s.when == phase
    ]


def plan(phase: str, profile: teams.Profile) -> list[Step]:
    """Every step of a phase, in order: built-ins around the team's own."""
    if phase == "pre":
        return [
            Step("validate answers", validate_answers, on_update=True),
            *team_steps(profile, "pre"),
        ]
    return [
        Step("prune files", prune, on_update=True),
        Step("write secret", write_secret),
        Step("render team files", render_team_files, on_update=True),
        *team_steps(profile, "post"),
        # After the team's steps, which may change pyproject.toml. Not under cruft update: the
        # service keeps its own lock, which a changed pyproject.toml marks stale (make lock).
        Step("lock dependencies", lock_dependencies),
        Step("record template", record_template),
        Step("git init", git_init),
    ]


def under_cruft_update() -> bool:
    """True when ``cruft update`` or ``cruft diff`` runs this hook.

    cruft re-renders the template to compute a patch but does not tell hooks so (cruft issues
    143 and 199); the hook's parent process is cruft itself, so ask ``ps`` what it is.
    """
    # ps cuts the command line at $COLUMNS (procps) or at the terminal's width (BSD, unless -ww),
    # which could drop the "update" after a long path to cruft.
    environment = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    try:
        parent = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(os.getppid())],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        ).stdout
    except OSError:  # no ps (Windows): assume a fresh generation
        return False
    return re.search(r"cruft(\.exe)?\s+(.*\s)?(update|diff)\b", parent) is not None


def run(phase: str, answers: dict[str, Any], project: Path) -> int:
    """Run a phase's steps; print one ``error:`` line and return 1 at the first failure."""
    try:
        profile = teams.load(str(answers.get("team", "default")))
        steps = plan(phase, profile)
    except teams.ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    updating = under_cruft_update()
    ctx = StepContext(answers, project, profile, updating)
    for step in steps:
        if updating and not step.on_update:
            continue
        try:
            step.function(ctx)
        except StepFailed as error:
            print(f"error: step {step.name!r} failed: {error}", file=sys.stderr)
            return 1
        except Exception as error:  # a team's step may raise anything
            print(f"error: step {step.name!r} failed: {error!r}", file=sys.stderr)
            return 1
    return 0
