"""Bake the template with pytest-cookies and check what comes out.

These tests only render the template; they do not install or run the
generated service (that is tests/test_generated.py).
"""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException

# Unrendered cookiecutter syntax. "${{" is a GitHub Actions expression, not
# Jinja, so it does not count.
JINJA_RE = re.compile(r"(?<!\$)\{\{|\{%")
COOKIECUTTER_RE = re.compile(r"cookiecutter\s*\.")
# The service's own Flask/Jinja page templates legitimately keep their Jinja
# syntax (the template wraps them in raw blocks); they still must not mention
# cookiecutter variables.
FLASK_TEMPLATE_SUFFIXES = (".html", ".jinja", ".j2")


def read_text_or_none(path: Path) -> str | None:
    """Return the file's text, or None for binary files (NUL byte or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_flask_template(path: Path, project: Path) -> bool:
    """True for files the service renders with Jinja at runtime."""
    parts = path.relative_to(project).parts
    return "templates" in parts[:-1] and path.suffix in FLASK_TEMPLATE_SUFFIXES


def leftover_template_syntax(project: Path) -> list[str]:
    """Every file or path in the baked project that still has template syntax."""
    problems: list[str] = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project).as_posix()
        if "{{" in relative or "{%" in relative or "cookiecutter" in relative:
            problems.append(f"{relative}: unrendered path")
        if not path.is_file():
            continue
        text = read_text_or_none(path)
        if text is None:
            continue
        pattern = COOKIECUTTER_RE if is_flask_template(path, project) else JINJA_RE
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line) or COOKIECUTTER_RE.search(line):
                problems.append(f"{relative}:{number}: {line.strip()}")
    return problems


def read_env(path: Path) -> dict[str, str]:
    """Parse the KEY=VALUE .env file the post-gen hook writes."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def bake_ok(cookies: Any, **extra_context: str) -> Path:
    """Bake with ``extra_context`` and return the project path, failing loudly."""
    result = cookies.bake(extra_context=extra_context)
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0
    assert result.project_path is not None
    return Path(result.project_path)


@pytest.mark.parametrize(
    ("extra_context", "slug", "package"),
    [
        ({}, "my-service", "my_service"),
        ({"project_name": "Billing Service 2"}, "billing-service-2", "billing_service_2"),
        ({"project_name": "3D Printer API"}, "3d-printer-api", "svc_3d_printer_api"),
        (
            {"project_name": "Caf\u00e9 \u00dcn\u00efcode Se\u00f1or"},
            "cafe-unicode-senor",
            "cafe_unicode_senor",
        ),
        ({"project_name": "  ORDERS -- API  "}, "orders-api", "orders_api"),
        ({"project_name": "Inventory", "package_name": "stock"}, "inventory", "stock"),
    ],
    ids=["defaults", "spaces-digits", "leading-digit", "non-ascii", "messy", "own-package"],
)
def test_bake_names(cookies: Any, extra_context: dict[str, str], slug: str, package: str) -> None:
    project = bake_ok(cookies, **extra_context)
    assert project.name == slug
    assert (project / "src" / package).is_dir()
    assert (project / "src" / package / "__init__.py").is_file()
    assert (project / "pyproject.toml").is_file()
    assert f'name = "{slug}"' in (project / "pyproject.toml").read_text(encoding="utf-8")


def test_bake_leaves_no_template_syntax(cookies: Any) -> None:
    project = bake_ok(cookies, project_name="Caf\u00e9 \u00dcn\u00efcode Se\u00f1or")
    assert leftover_template_syntax(project) == []


QUOTING_ANSWERS = {
    "project_name": 'Caf\u00e9 "Quoted" Service',
    "description": "Says \"hi\" to O'Brien's \\ backslash <b>&</b> service",
    "author_name": 'Se\u00e1n "Bob" O\'Brien',
}


@pytest.mark.parametrize(
    "extra_context", [{}, QUOTING_ANSWERS], ids=["defaults", "quotes-backslashes"]
)
def test_baked_toml_and_python_parse(cookies: Any, extra_context: dict[str, str]) -> None:
    """Free-text answers end up inside TOML strings and Python docstrings;
    quotes or backslashes in them must not produce an unparsable project."""
    project = bake_ok(cookies, **extra_context)
    for path in sorted(project.rglob("*.toml")):
        with path.open("rb") as handle:
            tomllib.load(handle)
    for path in sorted(project.rglob("*.py")):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")

    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    answers = {
        "description": "An async Flask microservice served by Hypercorn.",
        "author_name": "Your Name",
        **extra_context,
    }
    assert metadata["description"] == answers["description"]
    assert metadata["authors"][0]["name"] == answers["author_name"]


def test_bake_writes_a_private_env_with_a_fresh_secret(cookies: Any) -> None:
    first = bake_ok(cookies)
    second = bake_ok(cookies)
    assert first != second

    keys = []
    for project in (first, second):
        env_file = project / ".env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        values = read_env(env_file)
        assert values["MY_SERVICE_ENV"] == "development"
        assert len(values["MY_SERVICE_SECRET_KEY"]) >= 64
        keys.append(values["MY_SERVICE_SECRET_KEY"])
    assert keys[0] != keys[1]


def test_env_prefix_follows_the_package_name(cookies: Any) -> None:
    project = bake_ok(cookies, project_name="3D Printer API")
    assert set(read_env(project / ".env")) >= {
        "SVC_3D_PRINTER_API_ENV",
        "SVC_3D_PRINTER_API_SECRET_KEY",
    }


def assert_one_error_and_no_project(
    result: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> str:
    """The bake failed in a hook, said why in exactly one ``error:`` line (returned), and
    cookiecutter removed the half-made project folder again."""
    assert result.exit_code != 0
    assert isinstance(result.exception, FailedHookException)
    assert result.project_path is None

    hook_errors = [
        line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")
    ]
    assert len(hook_errors) == 1, hook_errors

    # pytest-cookies bakes into <tmp_path>/cookies/bakeNN; cookiecutter must
    # have removed the half-made project folder again.
    output_dirs = list((tmp_path / "cookies").iterdir())
    assert output_dirs
    for output_dir in output_dirs:
        assert list(output_dir.iterdir()) == []
    return hook_errors[0]


INVALID = "error: step 'validate answers' failed: "


@pytest.mark.parametrize(
    ("extra_context", "message"),
    [
        (
            {"package_name": "flask"},
            "package_name 'flask' shadows the dependency 'flask'; choose another name",
        ),
        ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
        ({"package_name": "json"}, "package_name 'json' shadows the standard library"),
        ({"package_name": "1abc"}, "package_name '1abc' must be a lowercase ASCII"),
        ({"python_version": "3.9"}, "python_version '3.9' must be 3.11 or newer"),
        ({"author_email": "not-an-email"}, "author_email 'not-an-email' does not look"),
        ({"description": "two\nlines"}, "description must be a single line"),
    ],
    ids=[
        "dependency",
        "keyword",
        "stdlib",
        "leading-digit",
        "old-python",
        "email",
        "nl",
    ],
)
def test_bake_rejects_invalid_answers(
    cookies: Any,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra_context: dict[str, str],
    message: str,
) -> None:
    result = cookies.bake(extra_context=extra_context)
    error = assert_one_error_and_no_project(result, capfd, tmp_path)
    assert error.startswith(INVALID + message)


def test_bake_rejects_an_unknown_team(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = cookies.bake(extra_context={"team": "nope"})
    error = assert_one_error_and_no_project(result, capfd, tmp_path)
    assert error.startswith("error: unknown team 'nope': no ")
    assert error.endswith("; built-in teams: default, example")


def test_name_without_letters_or_digits_is_refused(cookies: Any, tmp_path: Path) -> None:
    """An empty slug would make the project folder the output folder itself.
    Cookiecutter refuses that first (the folder exists); the pre-gen hook is
    the backstop for ``--overwrite-if-exists`` and is unit-tested."""
    result = cookies.bake(extra_context={"project_name": "!!!"})
    assert result.exit_code != 0
    assert result.project_path is None
    for output_dir in (tmp_path / "cookies").iterdir():
        assert list(output_dir.iterdir()) == []


def test_choice_outside_user_stores_is_refused_before_hooks(cookies: Any) -> None:
    """Cookiecutter itself rejects a store that is not in the choice list."""
    result = cookies.bake(extra_context={"user_store": "mongodb"})
    assert result.exit_code != 0
    assert result.project_path is None


def test_leftover_scanner_finds_unrendered_syntax(tmp_path: Path) -> None:
    """The check above is only as good as its scanner."""
    (tmp_path / "src" / "pkg" / "templates").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "ok.py").write_text("x = {'a': {1: 2}}\n", encoding="utf-8")
    (tmp_path / "src" / "pkg" / "bad.py").write_text("NAME = '{{ x }}'\n", encoding="utf-8")
    (tmp_path / "src" / "pkg" / "tag.toml").write_text("{% if x %}\n", encoding="utf-8")
    (tmp_path / "ci.yml").write_text("run: echo ${{ matrix.python }}\n", encoding="utf-8")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0{{")
    templates = tmp_path / "src" / "pkg" / "templates"
    (templates / "page.html").write_text("<p>{{ user.name }}</p>\n", encoding="utf-8")
    (templates / "leak.html").write_text("{{ cookiecutter.project_name }}\n", encoding="utf-8")
    (tmp_path / "{{cookiecutter.project_slug}}").mkdir()

    found = leftover_template_syntax(tmp_path)

    assert [problem.split(":")[0] for problem in found] == [
        "src/pkg/bad.py",
        "src/pkg/tag.toml",
        "src/pkg/templates/leak.html",
        "{{cookiecutter.project_slug}}",
    ]
