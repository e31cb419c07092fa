"""The generated package as a newcomer meets it: layered folders that its README's map names,
small modules, and comments that say what and why, not how fast on which day."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

#: The subpackages every bake has, and what sits at the top of the package.
LAYERS = ("bridge", "cli", "clients", "observability", "users", "web")
TOP_MODULES = ("app.py", "asgi.py", "launcher.py", "audit.py", "resources.py", "settings.py")
MAX_LINES = 300
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)

#: What a comment or docstring in the generated code must not quote: dates, timings, and
#: files a generated service does not have (the template's bench and docs).
FORBIDDEN_IN_COMMENTS = {
    "a date": re.compile(r"\b20\d\d-\d\d(-\d\d)?\b"),
    "a timing": re.compile(r"\b\d+(\.\d+)?\s?(µs|us|ms|req/s)\b|\b\d+(\.\d+)?\s?%"),
    "the template's bench": re.compile(r"\bbench/|\bbench\b"),
    "the template's docs": re.compile(r"docs/[\w-]+\.md"),
    "history": re.compile(r"services (generated|baked) before|formerly", re.IGNORECASE),
}


def package_of(project: Path) -> Path:
    (package,) = (project / "src").iterdir()
    return package


def python_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*.py") if "versions" not in path.parts)


def comments_and_docstrings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring in ``path``."""
    source = path.read_text()
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, DOCUMENTED) and (docstring := ast.get_docstring(node)):
            found.append((getattr(node, "lineno", 1), docstring))
    return found


def test_the_package_is_layered(baked_default: Path) -> None:
    package = package_of(baked_default)
    for layer in LAYERS:
        assert (package / layer / "__init__.py").is_file(), layer
    for module in TOP_MODULES:
        assert (package / module).is_file(), module
    assert (package / "users" / "sql" / "migrations" / "env.py").is_file()
    # Tests mirror the code: a test package per layer.
    for layer in LAYERS:
        assert list((baked_default / "tests" / layer).glob("test_*.py")), layer


def test_the_readme_map_names_every_folder_and_nothing_else(baked_default: Path) -> None:
    package = package_of(baked_default)
    readme = (baked_default / "README.md").read_text()
    map_section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([\w/.]+)`", map_section, re.MULTILINE))
    named |= {name for row in re.findall(r"^\| (`.*?) \|", map_section, re.MULTILINE)
              for name in re.findall(r"`([\w/.]+)`", row)}  # fmt: skip
    folders = {
        f"{path.name}/"
        for path in package.iterdir()
        if path.is_dir() and path.name != "__pycache__"
    }
    assert folders <= named, f"folders missing from the README map: {folders - named}"
    for name in named:
        assert (package / name.rstrip("/")).exists(), f"the README map names {name}, absent"


def test_no_module_is_over_the_size_limit(baked_default: Path) -> None:
    too_long = {
        str(path.relative_to(baked_default)): lines
        for path in python_files(baked_default / "src")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


@pytest.mark.parametrize("what", FORBIDDEN_IN_COMMENTS)
def test_comments_quote_no_dates_timings_or_template_files(baked_default: Path, what: str) -> None:
    pattern = FORBIDDEN_IN_COMMENTS[what]
    found = [
        f"{path.relative_to(baked_default)}:{line}: {match.group(0)!r}"
        for path in python_files(baked_default)
        for line, text in comments_and_docstrings(path)
        if (match := pattern.search(text))
    ]
    assert found == [], f"{what} in a comment or docstring"


def test_the_sql_store_is_baked_for_sqlite(baked_default: Path) -> None:
    package = package_of(baked_default)
    assert (package / "users" / "sql" / "sqlite.py").is_file()
    assert (package / "users" / "sql" / "migrations" / "versions").is_dir()
