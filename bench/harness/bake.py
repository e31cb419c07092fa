"""Bake the default service (from this checkout or a git revision) and install it for the bench."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from harness.cells import PACKAGE, PASSWORD, REPO, USERNAME


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def bake(scratch: Path, revision: str | None, store: str = "sqlite") -> Path:
    """Bake the default service, with ``store`` as its user store, into ``scratch``: from the
    working tree, or a git revision.

    The working tree is copied as ``scripts/export-template`` publishes it (tracked and new
    files), so uncommitted changes are measured too.
    """
    from cookiecutter.main import cookiecutter

    service = scratch / "my-service"
    shutil.rmtree(service, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        if revision is None:
            export = [str(REPO / "scripts" / "export-template"), str(template)]
            subprocess.run(export, check=True)
        else:
            template.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", revision], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(template)], input=archive.stdout, check=True)
        cookiecutter(
            str(template),
            no_input=True,
            default_config=True,
            output_dir=str(scratch),
            extra_context={"user_store": store},  # ignored by revisions without the answer
        )
    return service


def bench_requirements() -> list[str]:
    """The ``bench`` extra of the top-level pyproject.toml: what the references need."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements: list[str] = project["optional-dependencies"]["bench"]
    return requirements


def install(service: Path, venv: Path) -> Path:
    """Install the baked service and the references' dependencies into ``venv``; reuse it.

    One venv serves every store: a bake whose ``pyproject.toml`` it has not seen yet adds what
    that store needs (pip installs only what is missing), so ``--store postgres`` after a
    SQLite run costs seconds, not a new venv.
    """
    python = venv / "bin" / "python"
    stamp = venv / ".bench-stamp"
    fingerprint = hashlib.sha256(
        (service / "pyproject.toml").read_bytes() + "\n".join(bench_requirements()).encode()
    ).hexdigest()
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", "install"]
    seen = stamp.read_text().split() if stamp.exists() else []
    if not python.exists():
        log(f"creating {venv} (once; reused while the pyproject files are unchanged)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        seen = []
    if fingerprint not in seen:
        quiet_run([*pip, str(service), *bench_requirements()])
        stamp.write_text("\n".join([*seen, fingerprint]) + "\n")
    # The service itself changes with every edit of the template: always reinstall it.
    quiet_run([*pip, "--no-deps", "--force-reinstall", str(service)])
    return python


def quiet_run(command: list[str], **kwargs: Any) -> str:
    """Run a setup command; show its output only if it fails (pip warns about mirrors).

    Returns what it printed on stdout.
    """
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        shown = " ".join(command[:4])
        raise SystemExit(f"bench: {shown}... failed:\n{result.stdout}{result.stderr}")
    output: str = result.stdout
    return output


def prepare_database(python: Path, service: Path, env: dict[str, str]) -> str:
    """Migrate the service's database and create the bench user and an access token of theirs,
    with the service's CLI; returns the token."""
    flask = [str(python), "-m", "flask", "--app", PACKAGE]
    quiet_run([*flask, "db", "upgrade"], cwd=service, env=env)
    quiet_run(
        [*flask, "users", "create", USERNAME, "--password-stdin"],
        cwd=service,
        env=env,
        input=PASSWORD + "\n",
    )
    token_create = [*flask, "users", "token", "create", "bench", "--user", USERNAME]
    return quiet_run(token_create, cwd=service, env=env).strip()
