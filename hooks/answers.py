"""Every check of the cookiecutter answers, in one place.

Each check is a plain function taking the answers and returning a one-line reason, or None.
``first_error`` runs them in order; the pre-generation step reports the first failure so that
one typo gives one clear message rather than a cascade.
"""

from __future__ import annotations

import keyword
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

import teams

# Used with fullmatch: "$" alone would accept a trailing newline.
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PACKAGE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
PYTHON_VERSION_RE = re.compile(r"^3\.([1-9][0-9]*)$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PYTHON_MINOR = 11

# Which user stores the template can generate. A later issue adds "postgres"
# and "http"; keep this in step with the choice list in cookiecutter.json.
USER_STORES = teams.USER_STORES

# Soft keywords of every Python the service may run on, not only the one
# running cookiecutter ("type" became one in 3.12).
SOFT_KEYWORDS = frozenset({"_", "case", "match", "type", *keyword.softkwlist})

# Import names of the generated service's runtime and dev dependencies (and
# of its own top-level folders). A package with one of these names would
# shadow the real module on sys.path and break the service in confusing ways.
DEPENDENCY_IMPORT_NAMES = frozenset(
    {
        "flask",
        "flask_login",
        "flask_limiter",
        "limits",
        "coredis",
        "werkzeug",
        "jinja2",
        "click",
        "itsdangerous",
        "markupsafe",
        "blinker",
        "aiohttp",
        "aiohappyeyeballs",
        "aiosignal",
        "attr",
        "attrs",
        "frozenlist",
        "multidict",
        "propcache",
        "yarl",
        "httpx",
        "httpcore",
        "httpx_aiohttp",
        "truststore",
        "h11",
        "h2",
        "anyio",
        "sniffio",
        "hypercorn",
        "greenback",
        "greenlet",
        "sqlalchemy",
        "alembic",
        "argon2",
        "pydantic",
        "pydantic_settings",
        "pydantic_core",
        "structlog",
        "asgi_lifespan",
        "pytest",
        "pytest_asyncio",
        "mypy",
        "ruff",
        "dotenv",
        "mako",
        "importlinter",
        "grimp",
        "tests",
        "src",
    }
)


def check_project_slug(answers: dict[str, Any]) -> str | None:
    """The slug names the folder and the distribution, so it must be a plain
    lowercase, dash-separated word list (an empty slug comes from a name with
    no letters or digits at all)."""
    slug = str(answers.get("project_slug", ""))
    if not slug:
        return "project_slug is empty; give a project_name with letters or digits"
    if not SLUG_RE.fullmatch(slug):
        return (
            f"project_slug {slug!r} must be lowercase letters and digits separated by single dashes"
        )
    return None


def check_package_name(answers: dict[str, Any]) -> str | None:
    """The package name is imported everywhere; it must be an ASCII identifier
    that does not collide with a keyword, the standard library, or one of the
    service's own dependencies."""
    name = str(answers.get("package_name", ""))
    if not PACKAGE_RE.fullmatch(name):
        return (
            f"package_name {name!r} must be a lowercase ASCII identifier "
            "(letters, digits, underscores; not starting with a digit)"
        )
    if keyword.iskeyword(name) or name in SOFT_KEYWORDS:
        return f"package_name {name!r} is a Python keyword; choose another name"
    if name in sys.stdlib_module_names:
        return (
            f"package_name {name!r} shadows the standard library module {name!r}; "
            "choose another name"
        )
    if name in DEPENDENCY_IMPORT_NAMES:
        return f"package_name {name!r} shadows the dependency {name!r}; choose another name"
    return None


def check_python_version(answers: dict[str, Any]) -> str | None:
    """The service uses 3.11 features (TaskGroup, tomllib, ExceptionGroup);
    the value lands in requires-python and tool configs, so it must be a bare
    ``3.N`` with N >= 11."""
    version = str(answers.get("python_version", ""))
    match = PYTHON_VERSION_RE.fullmatch(version)
    if match is None or int(match.group(1)) < MIN_PYTHON_MINOR:
        return (
            f"python_version {version!r} must be 3.{MIN_PYTHON_MINOR} or newer, written like '3.12'"
        )
    return None


def check_author_email(answers: dict[str, Any]) -> str | None:
    """The address goes into pyproject.toml metadata, which packaging tools
    reject when it is malformed; only catch the obvious mistakes here."""
    email = str(answers.get("author_email", ""))
    if not EMAIL_RE.fullmatch(email):
        return f"author_email {email!r} does not look like an e-mail address"
    return None


def check_user_store(answers: dict[str, Any]) -> str | None:
    """Cookiecutter already limits choices, but a hand-edited replay file or
    --replay bypasses that; generating a store we do not ship would produce a
    service that cannot start."""
    store = str(answers.get("user_store", ""))
    if store not in USER_STORES:
        return f"user_store {store!r} is not one of {', '.join(USER_STORES)}"
    return None


def check_team(answers: dict[str, Any]) -> str | None:
    """The team names a profile under teams/ or a folder holding a team.toml; a typo would
    otherwise silently generate without the team's files and steps."""
    try:
        teams.load(str(answers.get("team", "default")))
    except teams.ProfileError as error:
        return str(error)
    return None


def check_git_init(answers: dict[str, Any]) -> str | None:
    """A yes/no question; anything else would silently mean "no". Saying yes needs git, and
    finding out before any file is written beats failing at the very end."""
    value = answers.get("git_init", "no")
    if value not in ("yes", "no"):
        return f"git_init {value!r} must be yes or no"
    if value == "yes" and shutil.which("git") is None:
        return "git_init is yes but git is not installed; install git or answer no"
    return None


def check_description(answers: dict[str, Any]) -> str | None:
    """The description is written into a one-line TOML string; a newline
    would make pyproject.toml invalid."""
    description = str(answers.get("description", ""))
    if "\n" in description or "\r" in description:
        return "description must be a single line"
    return None


CHECKS: tuple[Callable[[dict[str, Any]], str | None], ...] = (
    check_project_slug,
    check_package_name,
    check_python_version,
    check_author_email,
    check_user_store,
    check_description,
    check_git_init,
    check_team,
)


def first_error(answers: dict[str, Any]) -> str | None:
    """Return the first failing check's message; one clear error beats a
    cascade of follow-up complaints about the same typo."""
    for check in CHECKS:
        message = check(answers)
        if message is not None:
            return message
    return None
