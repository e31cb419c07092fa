"""Unit tests for hooks/pre_gen_project.py and hooks/post_gen_project.py.

The hooks are plain scripts (not a package), so they are loaded by file path.
Their only Jinja is the ANSWERS_JSON literal, which stays unrendered here;
the tests call ``main()`` with answer dicts directly and never bake.
"""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.utils import create_env_with_context

HOOKS_DIR = Path(__file__).resolve().parents[1] / "hooks"


def load_hook(name: str) -> ModuleType:
    """Import ``hooks/<name>.py`` under a private module name."""
    spec = importlib.util.spec_from_file_location(f"_hook_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


def good_answers(**overrides: Any) -> dict[str, Any]:
    """The answers cookiecutter renders for the defaults, plus overrides."""
    answers: dict[str, Any] = {
        "project_name": "My Service",
        "project_slug": "my-service",
        "package_name": "my_service",
        "description": "An async Flask microservice served by Hypercorn.",
        "author_name": "Your Name",
        "author_email": "you@example.com",
        "python_version": "3.11",
        "user_store": "sqlite",
        "__env_prefix": "MY_SERVICE_",
    }
    answers.update(overrides)
    return answers


def run_pre_gen(capsys: pytest.CaptureFixture[str], **overrides: Any) -> tuple[int, str]:
    """Run the pre-gen hook's main; return (exit code, stderr)."""
    code = pre_gen.main(good_answers(**overrides))
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


# --- the Jinja contract --------------------------------------------------


@pytest.mark.parametrize("hook", ["pre_gen_project", "post_gen_project"])
def test_hook_has_exactly_one_jinja_expression_inside_the_answers_literal(hook: str) -> None:
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    assert source.count("{{") == 1
    assert source.count("}}") == 1
    assert "{%" not in source
    assert "{#" not in source
    assert "ANSWERS_JSON = r'''{{ cookiecutter | tojson }}'''" in source


@pytest.mark.parametrize("hook", ["pre_gen_project", "post_gen_project"])
def test_answers_literal_survives_hostile_values(hook: str) -> None:
    """Render the hook the way cookiecutter does and parse the answers back."""
    hostile = "it's ''' \"\"\" \\ \\' <b>&</b> {{ x }} \u00e9\n"
    context = {"cookiecutter": good_answers(project_name=hostile, description=hostile)}
    source = (HOOKS_DIR / f"{hook}.py").read_text(encoding="utf-8")
    rendered = create_env_with_context(context).from_string(source).render(**context)
    namespace: dict[str, Any] = {}
    exec(compile(rendered, "<rendered hook>", "exec"), namespace)  # noqa: S102
    assert json.loads(namespace["ANSWERS_JSON"]) == context["cookiecutter"]


# --- pre_gen_project ------------------------------------------------------


def test_pre_gen_accepts_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_pre_gen(capsys) == (0, "")


@pytest.mark.parametrize(
    "overrides",
    [
        {"project_slug": "billing-service-2", "package_name": "billing_service_2"},
        {"project_slug": "3d-printer-api", "package_name": "svc_3d_printer_api"},
        {"project_slug": "cafe-unicode-senor", "package_name": "cafe_unicode_senor"},
        {"package_name": "_private"},
        {"python_version": "3.12"},
        {"python_version": "3.13"},
        {"python_version": "3.100"},
        {"author_email": "team+svc@sub.example.org"},
        {"description": ""},
    ],
)
def test_pre_gen_accepts_valid_answers(
    capsys: pytest.CaptureFixture[str], overrides: dict[str, Any]
) -> None:
    assert run_pre_gen(capsys, **overrides) == (0, "")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project_slug": ""}, "project_slug is empty"),
        ({"project_slug": "My-Service"}, "project_slug 'My-Service' must be lowercase"),
        ({"project_slug": "my--service"}, "project_slug 'my--service' must be"),
        ({"project_slug": "-service"}, "project_slug '-service' must be"),
        ({"project_slug": "service-"}, "project_slug 'service-' must be"),
        ({"project_slug": "my_service"}, "project_slug 'my_service' must be"),
        ({"project_slug": "my-service\n"}, "project_slug 'my-service\\n' must be"),
        ({"project_slug": "caf\u00e9"}, "must be lowercase letters"),
        ({"package_name": ""}, "package_name '' must be a lowercase ASCII identifier"),
        ({"package_name": "1abc"}, "package_name '1abc' must be a lowercase ASCII identifier"),
        ({"package_name": "my-service"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "MyService"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "my_service\n"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "caf\u00e9"}, "must be a lowercase ASCII identifier"),
        ({"package_name": "class"}, "package_name 'class' is a Python keyword"),
        ({"package_name": "async"}, "package_name 'async' is a Python keyword"),
        ({"package_name": "match"}, "package_name 'match' is a Python keyword"),
        ({"package_name": "type"}, "package_name 'type' is a Python keyword"),
        ({"package_name": "_"}, "package_name '_' is a Python keyword"),
        ({"package_name": "json"}, "package_name 'json' shadows the standard library module"),
        ({"package_name": "asyncio"}, "shadows the standard library module 'asyncio'"),
        (
            {"package_name": "flask"},
            "package_name 'flask' shadows the dependency 'flask'; choose another name",
        ),
        ({"package_name": "sqlalchemy"}, "shadows the dependency 'sqlalchemy'"),
        ({"package_name": "tests"}, "shadows the dependency 'tests'"),
        ({"package_name": "src"}, "shadows the dependency 'src'"),
        ({"python_version": "3.9"}, "python_version '3.9' must be 3.11 or newer"),
        ({"python_version": "3.10"}, "python_version '3.10' must be 3.11 or newer"),
        ({"python_version": "3.11.4"}, "python_version '3.11.4' must be"),
        ({"python_version": "3"}, "python_version '3' must be"),
        ({"python_version": "4.0"}, "python_version '4.0' must be"),
        ({"python_version": "3.012"}, "python_version '3.012' must be"),
        ({"python_version": " 3.12"}, "python_version ' 3.12' must be"),
        ({"python_version": "3.12\n"}, "python_version '3.12\\n' must be"),
        ({"author_email": "you.example.com"}, "author_email 'you.example.com' does not look like"),
        ({"author_email": "a@b@c"}, "does not look like an e-mail address"),
        ({"author_email": "you @example.com"}, "does not look like an e-mail address"),
        ({"author_email": "you@"}, "does not look like an e-mail address"),
        ({"author_email": ""}, "does not look like an e-mail address"),
        ({"author_email": "you@example.com\n"}, "does not look like an e-mail address"),
        ({"user_store": "postgres"}, "user_store 'postgres' is not one of sqlite"),
        ({"user_store": "http"}, "user_store 'http' is not one of sqlite"),
        ({"description": "two\nlines"}, "description must be a single line"),
        ({"description": "carriage\rreturn"}, "description must be a single line"),
    ],
)
def test_pre_gen_rejects_invalid_answers(
    capsys: pytest.CaptureFixture[str], overrides: dict[str, Any], message: str
) -> None:
    code, err = run_pre_gen(capsys, **overrides)
    assert code == 1
    assert err.startswith("error: ")
    assert err.endswith("\n")
    assert err.count("\n") == 1, "exactly one line on stderr"
    assert message in err


def test_pre_gen_reports_only_the_first_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_pre_gen(capsys, package_name="flask", python_version="2.7")
    assert code == 1
    assert (
        err == "error: package_name 'flask' shadows the dependency 'flask'; choose another name\n"
    )


def test_dependency_names_are_import_names() -> None:
    for name in pre_gen.DEPENDENCY_IMPORT_NAMES:
        assert pre_gen.PACKAGE_RE.fullmatch(name), name


def test_every_stdlib_module_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    for name in sorted(sys.stdlib_module_names):
        if not pre_gen.PACKAGE_RE.fullmatch(name):
            continue
        assert pre_gen.main(good_answers(package_name=name)) == 1, name
    capsys.readouterr()


def test_user_stores_match_cookiecutter_json() -> None:
    """The hook's list and the prompt's choices must not drift apart."""
    config = json.loads((HOOKS_DIR.parent / "cookiecutter.json").read_text(encoding="utf-8"))
    assert tuple(config["user_store"]) == pre_gen.USER_STORES


# --- post_gen_project -----------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=VALUE file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_post_gen_writes_private_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert post_gen.main(good_answers()) == 0

    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env(env_file)
    assert set(values) == {"MY_SERVICE_ENV", "MY_SERVICE_SECRET_KEY"}
    assert values["MY_SERVICE_ENV"] == "development"
    assert len(values["MY_SERVICE_SECRET_KEY"]) >= 64


def test_post_gen_uses_the_env_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    post_gen.main(good_answers(package_name="svc_3d_printer_api", __env_prefix="SVC_3D_API_"))
    assert set(read_env(tmp_path / ".env")) == {"SVC_3D_API_ENV", "SVC_3D_API_SECRET_KEY"}


def test_post_gen_secret_differs_per_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_seen = set()
    for name in ("one", "two"):
        project = tmp_path / name
        project.mkdir()
        monkeypatch.chdir(project)
        post_gen.main(good_answers())
        secrets_seen.add(read_env(project / ".env")["MY_SERVICE_SECRET_KEY"])
    assert len(secrets_seen) == 2


def test_post_gen_never_overwrites_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / ".env"
    existing.write_text("MY_SERVICE_SECRET_KEY=keep-me\n", encoding="utf-8")
    existing.chmod(0o644)

    assert post_gen.main(good_answers()) == 0

    assert existing.read_text(encoding="utf-8") == "MY_SERVICE_SECRET_KEY=keep-me\n"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644
    assert ".env already exists" in capsys.readouterr().err


def make_store_files(root: Path, package: str) -> tuple[Path, Path]:
    """Lay out the files the PRUNE table knows about."""
    package_dir = root / "src" / package
    (package_dir / "migrations" / "versions").mkdir(parents=True)
    (package_dir / "migrations" / "versions" / "0001_users.py").write_text("", encoding="utf-8")
    sql_store = package_dir / "sql_store.py"
    sql_store.write_text("", encoding="utf-8")
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    return sql_store, package_dir / "migrations"


def test_prune_keeps_everything_for_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sql_store, migrations = make_store_files(tmp_path, "my_service")
    monkeypatch.chdir(tmp_path)
    assert post_gen.main(good_answers(user_store="sqlite")) == 0
    assert sql_store.is_file()
    assert migrations.is_dir()


def test_prune_removes_sql_files_for_http_store(tmp_path: Path) -> None:
    sql_store, migrations = make_store_files(tmp_path, "billing")
    removed = post_gen.prune(tmp_path, good_answers(package_name="billing", user_store="http"))
    assert sorted(removed) == sorted([sql_store, migrations])
    assert not sql_store.exists()
    assert not migrations.exists()
    assert (tmp_path / "src" / "billing" / "__init__.py").is_file()


def test_prune_skips_missing_paths(tmp_path: Path) -> None:
    assert post_gen.prune(tmp_path, good_answers(user_store="http")) == []


def test_prune_table_is_driven_by_its_predicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new entry only needs a path and a predicate."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pkg_notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    monkeypatch.setattr(
        post_gen,
        "PRUNE",
        (
            ("docs/{package_name}_notes.md", lambda a: a["description"] == ""),
            ("keep.txt", lambda a: False),
        ),
    )
    removed = post_gen.prune(tmp_path, good_answers(package_name="pkg", description=""))
    assert removed == [tmp_path / "docs" / "pkg_notes.md"]
    assert (tmp_path / "keep.txt").exists()


def test_prune_paths_exist_in_the_template() -> None:
    """Every PRUNE entry must name something the template ships; a renamed
    file would otherwise silently stop being pruned."""
    template = HOOKS_DIR.parent / "{{cookiecutter.project_slug}}"
    for pattern, _ in post_gen.PRUNE:
        path = template / pattern.format(package_name="{{cookiecutter.package_name}}")
        assert path.exists(), f"PRUNE entry {pattern!r} matches nothing in the template"
