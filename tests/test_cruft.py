"""Template updates with cruft: a service made from one template revision takes a later
revision with ``cruft update``; the template's change arrives, the team's local change and
secret survive, and the generated tests still pass."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT, git, run, run_in_service

CRUFT = str(Path(sys.executable).parent / "cruft")


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--message", message)
    return git(cwd, "rev-parse", "HEAD")


def test_cruft_create_then_update_keeps_local_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The example team's profile, kept outside the template; its steps write to this registry.
    # They must not run again on update: the pre step would refuse the now-registered name.
    registry = tmp_path / "registry.jsonl"
    monkeypatch.setenv("EXAMPLE_TEAM_REGISTRY", str(registry))
    profile = tmp_path / "team-profile"
    shutil.copytree(REPO_ROOT / "teams" / "example", profile)

    # Revision A of the template, in a repository of its own.
    template = tmp_path / "template"
    subprocess.run([str(REPO_ROOT / "scripts" / "export-template"), str(template)], check=True)
    git(template, "init", "--quiet", "--initial-branch=main")
    revision_a = commit_all(template, "revision A")

    team = json.dumps({"team": str(profile)})
    created = run(CRUFT, "create", "--no-input", "--extra-context", team,
                  "--output-dir", str(tmp_path), str(template), cwd=tmp_path)  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    service = tmp_path / "my-service"
    state = json.loads((service / ".cruft.json").read_text())
    assert state["commit"] == revision_a
    assert not (service / ".template-hooks").exists()
    secret = (service / ".env").read_text()
    assert "MY_SERVICE_SECRET_KEY=" in secret
    assert (service / "CODEOWNERS").is_file()
    assert len(registry.read_text().splitlines()) == 1

    # The service's team commits a local change to a template-made file.
    hypercorn_toml = service / "hypercorn.toml"
    git(service, "init", "--quiet", "--initial-branch=main")
    commit_all(service, "generated")
    hypercorn_toml.write_text(hypercorn_toml.read_text().replace("workers = 1", "workers = 4"))
    commit_all(service, "four workers")

    # Revision B of the template changes the generated README and adds a file.
    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\n## Changelog\n\nSee CHANGELOG.md.\n")
    (template / "{{cookiecutter.project_slug}}" / "CHANGELOG.md").write_text(
        "# {{ cookiecutter.project_name }} changelog\n"
    )
    revision_b = commit_all(template, "revision B")

    assert run(CRUFT, "check", cwd=service).returncode != 0  # behind the template
    updated = run(CRUFT, "update", "--skip-apply-ask", cwd=service)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert run(CRUFT, "check", cwd=service).returncode == 0

    assert (service / "CHANGELOG.md").read_text() == "# My Service changelog\n"
    assert "## Changelog" in (service / "README.md").read_text()
    assert "workers = 4" in hypercorn_toml.read_text()  # the local change survived
    assert (service / ".env").read_text() == secret  # no new secret on update
    assert json.loads((service / ".cruft.json").read_text())["commit"] == revision_b
    assert not (service / ".template-hooks").exists()
    assert len(registry.read_text().splitlines()) == 1  # team steps did not run again
    assert (service / "CODEOWNERS").is_file()
    assert git(service, "status", "--porcelain", "--untracked-files=no") != ""  # left to review

    suite = run_in_service(service, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert suite.returncode == 0, suite.stdout + suite.stderr


def test_plain_cookiecutter_records_the_template_for_cruft(tmp_path: Path) -> None:
    template = tmp_path / "template"
    subprocess.run([str(REPO_ROOT / "scripts" / "export-template"), str(template)], check=True)
    git(template, "init", "--quiet", "--initial-branch=main")
    revision = commit_all(template, "revision A")
    cookiecutter = str(Path(sys.executable).parent / "cookiecutter")
    baked = run(cookiecutter, "--no-input", "-o", str(tmp_path), str(template), cwd=tmp_path)
    assert baked.returncode == 0, baked.stderr
    service = tmp_path / "my-service"
    state = json.loads((service / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(template), revision)
    assert state["context"]["cookiecutter"]["package_name"] == "my_service"
    assert run(CRUFT, "check", cwd=service).returncode == 0


#: The last template commit before the package was split into layers (bridge/, users/, web/,
#: clients/): services baked from it must take every later template with ``cruft update``.
BEFORE_LAYERS = "aa3491a8247c03831d00e8154906034e0d5cd597"

TEAM_TEST = '''"""A test the service's team wrote, using only the suite's fixtures."""


async def test_the_team_checks_health(client):  # type: ignore[no-untyped-def]
    assert (await client.get("/healthz")).status_code == 200
'''


def test_a_service_baked_before_the_layers_takes_the_current_template(tmp_path: Path) -> None:
    # The template as it was, in a repository of its own (as a team's fork would hold it).
    template = tmp_path / "template"
    template.mkdir()
    tar = tmp_path / "template.tar"
    archived = run("git", "archive", f"--output={tar}", BEFORE_LAYERS, cwd=REPO_ROOT)
    assert archived.returncode == 0, f"git cannot read {BEFORE_LAYERS} (a shallow clone?)"
    with tarfile.open(tar) as archive:
        archive.extractall(template, filter="data")
    git(template, "init", "--quiet", "--initial-branch=main")
    commit_all(template, "before the layers")

    created = run(CRUFT, "create", "--no-input", "--output-dir", str(tmp_path), str(template),
                  cwd=tmp_path)  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    service = tmp_path / "my-service"
    assert (service / "src" / "my_service" / "runtime.py").is_file()
    git(service, "init", "--quiet", "--initial-branch=main")
    commit_all(service, "generated")
    # The team's own changes: a setting and a test of theirs.
    hypercorn_toml = service / "hypercorn.toml"
    hypercorn_toml.write_text(hypercorn_toml.read_text().replace("workers = 1", "workers = 4"))
    (service / "tests" / "test_team.py").write_text(TEAM_TEST)
    commit_all(service, "team changes")

    # The template moves on to what this checkout holds now.
    for path in template.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    subprocess.run([str(REPO_ROOT / "scripts" / "export-template"), str(template)], check=True)
    commit_all(template, "now")

    updated = run(CRUFT, "update", "--skip-apply-ask", cwd=service)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    leftovers = [str(p) for p in service.rglob("*") if p.suffix in (".rej", ".orig")]
    assert leftovers == []
    package = service / "src" / "my_service"
    assert not (package / "runtime.py").exists()
    assert (package / "bridge" / "portal.py").is_file()
    assert "workers = 4" in hypercorn_toml.read_text()
    assert (service / "tests" / "test_team.py").read_text() == TEAM_TEST

    suite = run_in_service(service, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider")
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert "PASSED tests/test_team.py::test_the_team_checks_health" in suite.stdout
