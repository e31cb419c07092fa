"""hooks/steps.py: each built-in step (write_secret, prune, render_team_files,
record_template, git_init) on a real folder."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    REPO_ROOT,
    context,
    git,
    good_answers,
    make_profile,
    steps,
)

# --- steps.py: write_secret --------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=VALUE file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_write_secret_writes_a_private_env_file(tmp_path: Path) -> None:
    steps.write_secret(context(tmp_path))

    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env(env_file)
    assert set(values) == {"MY_SERVICE_ENV", "MY_SERVICE_SECRET_KEY"}
    assert values["MY_SERVICE_ENV"] == "development"
    assert len(values["MY_SERVICE_SECRET_KEY"]) >= 64


def test_write_secret_uses_the_env_prefix(tmp_path: Path) -> None:
    steps.write_secret(
        context(tmp_path, package_name="svc_3d_printer_api", __env_prefix="SVC_3D_API_")
    )
    assert set(read_env(tmp_path / ".env")) == {"SVC_3D_API_ENV", "SVC_3D_API_SECRET_KEY"}


def test_write_secret_differs_per_project(tmp_path: Path) -> None:
    secrets_seen = set()
    for name in ("one", "two"):
        project = tmp_path / name
        project.mkdir()
        steps.write_secret(context(project))
        secrets_seen.add(read_env(project / ".env")["MY_SERVICE_SECRET_KEY"])
    assert len(secrets_seen) == 2


def test_write_secret_never_overwrites_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / ".env"
    existing.write_text("MY_SERVICE_SECRET_KEY=keep-me\n", encoding="utf-8")
    existing.chmod(0o644)

    steps.write_secret(context(tmp_path))

    assert existing.read_text(encoding="utf-8") == "MY_SERVICE_SECRET_KEY=keep-me\n"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644
    assert ".env already exists" in capsys.readouterr().err


# --- steps.py: prune ---------------------------------------------------------------------------


def make_store_files(root: Path, package: str) -> tuple[Path, Path]:
    """Lay out the files the PRUNE table knows about."""
    package_dir = root / "src" / package
    sql = package_dir / "users" / "sql"
    (sql / "migrations" / "versions").mkdir(parents=True)
    (sql / "migrations" / "versions" / "0001_users.py").write_text("", encoding="utf-8")
    sql_store = sql / "store.py"
    sql_store.write_text("", encoding="utf-8")
    (package_dir / "__init__.py").write_text("", encoding="utf-8")
    return sql_store, sql / "migrations"


def test_prune_keeps_everything_for_sqlite(tmp_path: Path) -> None:
    sql_store, migrations = make_store_files(tmp_path, "my_service")
    steps.prune(context(tmp_path, user_store="sqlite"))
    assert sql_store.is_file()
    assert migrations.is_dir()


def test_prune_removes_sql_files_for_http_store(tmp_path: Path) -> None:
    sql_store, migrations = make_store_files(tmp_path, "billing")
    steps.prune(context(tmp_path, package_name="billing", user_store="http"))
    assert not sql_store.exists()
    assert not migrations.exists()
    assert (tmp_path / "src" / "billing" / "__init__.py").is_file()


def test_prune_skips_missing_paths(tmp_path: Path) -> None:
    steps.prune(context(tmp_path, user_store="http"))
    assert list(tmp_path.iterdir()) == []


def test_prune_removes_a_symlink_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.py").write_text("", encoding="utf-8")
    users_dir = tmp_path / "project" / "src" / "my_service" / "users"
    users_dir.mkdir(parents=True)
    (users_dir / "sql").symlink_to(outside, target_is_directory=True)

    steps.prune(context(tmp_path / "project", user_store="http"))

    assert not (users_dir / "sql").is_symlink()
    assert (outside / "keep.py").is_file()


def test_prune_table_is_driven_by_its_predicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new entry only needs a path and a predicate."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pkg_notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    table: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
        ("docs/{package_name}_notes.md", lambda a: a["description"] == ""),
        ("keep.txt", lambda a: False),
    )
    monkeypatch.setattr(steps, "PRUNE", table)
    steps.prune(context(tmp_path, package_name="pkg", description=""))
    assert not (tmp_path / "docs" / "pkg_notes.md").exists()
    assert (tmp_path / "docs").is_dir()
    assert (tmp_path / "keep.txt").exists()


def test_prune_paths_exist_in_the_template() -> None:
    """Every PRUNE entry must name something the template ships; a renamed
    file would otherwise silently stop being pruned."""
    template = REPO_ROOT / "{{cookiecutter.project_slug}}"
    for pattern, _ in steps.PRUNE:
        path = template / pattern.format(package_name="{{cookiecutter.package_name}}")
        assert path.exists(), f"PRUNE entry {pattern!r} matches nothing in the template"


# --- steps.py: render_team_files ---------------------------------------------------------------


def test_render_team_files_renders_cookiecutter_answers(tmp_path: Path) -> None:
    team = make_profile(
        tmp_path / "renderer",
        '[[files]]\nsource = "files/owners.txt"\ntarget = "deep/er/OWNERS"\n'
        '[[files]]\nsource = "files/raw.txt"\ntarget = "raw.txt"\n',
        files={
            "files/owners.txt": "{{ cookiecutter.project_name }} is {{ cookiecutter.project_slug }}"
            " by {{ cookiecutter.author_name }}\n",
            "files/raw.txt": "<b>&</b> {% raw %}{{ kept }}{% endraw %}\n",
        },
    )
    project = tmp_path / "project"
    project.mkdir()

    steps.render_team_files(context(project, team=str(team), author_name="A <b>&</b>"))

    owners = (project / "deep" / "er" / "OWNERS").read_text(encoding="utf-8")
    assert owners == "My Service is my-service by A <b>&</b>\n"  # no HTML escaping
    assert (project / "raw.txt").read_text(encoding="utf-8") == "<b>&</b> {{ kept }}\n"


def test_render_team_files_of_the_example_team(tmp_path: Path) -> None:
    steps.render_team_files(context(tmp_path, team="example", project_slug="billing"))
    codeowners = (tmp_path / "CODEOWNERS").read_text(encoding="utf-8")
    assert "* @example-org/billing-maintainers\n" in codeowners
    template = (tmp_path / ".github" / "pull_request_template.md").read_text(encoding="utf-8")
    assert template.startswith("## What changes in My Service\n")


def test_an_undefined_variable_in_a_team_file_fails_its_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_generation: None
) -> None:
    team = make_profile(
        tmp_path / "typo",
        '[[files]]\nsource = "files/x.txt"\ntarget = "x.txt"\n',
        files={"files/x.txt": "{{ cookiecutter.projcet_name }}\n"},
    )
    project = tmp_path / "project"
    project.mkdir()
    assert steps.run("post", good_answers(team=str(team)), project) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: step 'render team files' failed: UndefinedError(")
    assert "projcet_name" in err
    assert err.count("\n") == 1


# --- steps.py: record_template -----------------------------------------------------------------


def test_record_template_needs_a_repo_dir(tmp_path: Path) -> None:
    steps.record_template(context(tmp_path))
    assert not (tmp_path / ".cruft.json").exists()


def test_record_template_needs_a_git_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "template"
    template.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    steps.record_template(context(project, _repo_dir=str(template), _template=str(template)))
    assert not (project / ".cruft.json").exists()
    assert "not a git checkout" in capsys.readouterr().err


def test_record_template_writes_cruft_json_for_a_git_checkout(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "cookiecutter.json").write_text("{}", encoding="utf-8")
    git(template, "init", "--quiet")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "--message", "template")
    head = git(template, "rev-parse", "HEAD")
    project = tmp_path / "project"
    project.mkdir()
    ctx = context(
        project,
        _repo_dir=str(template),
        _template="https://example.com/template.git",
        _output_dir=str(tmp_path),
        _checkout="main",
    )

    steps.record_template(ctx)

    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    expected = {k: v for k, v in ctx.answers.items() if k not in ("_repo_dir", "_output_dir")}
    assert state == {
        "template": "https://example.com/template.git",
        "commit": head,
        "checkout": "main",
        "context": {"cookiecutter": expected},
        "directory": None,
    }


# --- steps.py: git_init ------------------------------------------------------------------------


def test_git_init_makes_one_commit_by_the_author(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# My Service\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text(".env\n", encoding="utf-8")
    (tmp_path / ".env").write_text("SECRET=x\n", encoding="utf-8")

    steps.git_init(
        context(
            tmp_path, git_init="yes", author_name="Ada Lovelace", author_email="ada@example.com"
        )
    )

    log = git(tmp_path, "log", "--format=%an <%ae>|%cn <%ce>|%s")
    assert log.splitlines() == [
        "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>|"
        "Generate My Service from the async-flask-service template"
    ]
    assert git(tmp_path, "branch", "--show-current") == "main"
    assert git(tmp_path, "ls-files").splitlines() == [".gitignore", "README.md"]
    assert git(tmp_path, "status", "--porcelain") == ""


def test_git_init_does_nothing_when_not_asked(tmp_path: Path) -> None:
    steps.git_init(context(tmp_path, git_init="no"))
    assert not (tmp_path / ".git").exists()


def test_git_init_without_git_fails_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(steps.StepFailed, match="git is not installed"):
        steps.git_init(context(tmp_path, git_init="yes"))


def test_git_init_reports_why_git_failed(tmp_path: Path) -> None:
    """An empty project has nothing to commit; git says so on stdout, not stderr."""
    with pytest.raises(steps.StepFailed, match=r"^git commit: .*nothing"):
        steps.git_init(context(tmp_path, git_init="yes"))
