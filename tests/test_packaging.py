"""The packaging every service gets: container image, compose stack, CI workflow, Kubernetes
manifests. Nothing here can run (no Docker engine, no cluster, no GitHub), so each file is
checked statically, offline, by the tool its ecosystem uses: hadolint on the Dockerfile,
check-jsonschema's bundled schemas on the workflow and the compose file, kubernetes-validate's
bundled schemas on the manifests; each checker is also shown to reject a broken copy, so a
pass means something. The remaining tests read the files for what the service relies on.

The lock file, the pre-commit hooks and .editorconfig: tests/test_packaging_tools.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker.utils.build import exclude_paths

BIN = Path(sys.executable).parent
PACKAGE = "my_service"
PREFIX = "MY_SERVICE_"
MANIFESTS = ["deployment.yaml", "service.yaml", "poddisruptionbudget.yaml"]


def run_tool(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a checker installed in this venv (scripts/bootstrap installs them all)."""
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def broken_copy(service: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    """``service``'s file ``name`` copied to ``tmp_path`` with ``old`` replaced by ``new``."""
    text = (service / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {name}"
    copy = tmp_path / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- Dockerfile and .dockerignore ---------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = dockerfile.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def test_dockerfile_passes_hadolint(baked_default: Path) -> None:
    result = run_tool("hadolint", "Dockerfile", cwd=baked_default)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_hadolint_rejects_an_unpinned_install(baked_default: Path, tmp_path: Path) -> None:
    broken = broken_copy(baked_default, tmp_path, "Dockerfile", "uv==0.13.9", "uv")
    result = run_tool("hadolint", str(broken), cwd=tmp_path)
    assert result.returncode != 0
    assert "DL3013" in result.stdout  # "Pin versions in pip"


def test_the_image_is_slim_non_root_healthchecked_and_runs_the_launcher(
    baked_default: Path,
) -> None:
    steps = instructions(baked_default / "Dockerfile")
    stages = [arguments for keyword, arguments in steps if keyword == "FROM"]
    assert len(stages) == 2, "a build stage and a runtime stage"
    assert all(re.match(r"python:\$\{PYTHON_VERSION\}-slim-\w+ AS \w+$", s) for s in stages)
    assert ("ARG", "PYTHON_VERSION=3.11") in steps

    runtime = steps[[keyword for keyword, _ in steps].index("FROM", 1) :]
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users == ["10001:10001"], "the runtime stage runs as an unprivileged numeric user"
    (healthcheck,) = [arguments for keyword, arguments in runtime if keyword == "HEALTHCHECK"]
    assert "http://127.0.0.1:8000/healthz" in healthcheck
    (command,) = [arguments for keyword, arguments in runtime if keyword == "CMD"]
    assert json.loads(command) == ["python", "-m", PACKAGE, "serve", "--bind", "0.0.0.0:8000"]

    copied = [arguments for keyword, arguments in steps if keyword == "COPY"]
    assert "pyproject.toml uv.lock README.md ./" in copied
    assert not any(re.match(r"(--\S+ )*\. ", arguments) for arguments in copied), "no COPY ."
    installs = [
        arguments for keyword, arguments in steps if keyword == "RUN" and "uv sync" in arguments
    ]
    assert installs
    assert all("--locked" in arguments for arguments in installs)
    environment = " ".join(arguments for keyword, arguments in steps if keyword == "ENV")
    assert "SECRET_KEY" not in environment


def test_the_build_context_holds_what_the_image_needs_and_no_secret(
    baked_default: Path, tmp_path: Path
) -> None:
    """The files the Docker CLI would send (docker-py's .dockerignore rules), in a copy with the
    clutter of a working checkout added: a git folder, a local database, bytecode, notes."""
    service = tmp_path / "service"
    shutil.copytree(baked_default, service)
    for clutter in (".git/config", "instance/my_service.sqlite3", ".venv/pyvenv.cfg", "notes.txt"):
        (service / clutter).parent.mkdir(parents=True, exist_ok=True)
        (service / clutter).write_text("x\n", encoding="utf-8")
    pycache = service / "src" / PACKAGE / "__pycache__"
    pycache.mkdir(exist_ok=True)  # other tests may have run the suite in baked_default
    (pycache / "app.cpython-311.pyc").write_bytes(b"\0")
    assert (service / ".env").is_file(), "the secret the hooks wrote"

    patterns = (service / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [p for p in patterns if p.strip() and not p.startswith("#")]
    context = {
        Path(p).as_posix() for p in exclude_paths(str(service), patterns) if (service / p).is_file()
    }

    sources = {
        path.relative_to(service).as_posix()
        for path in (service / "src").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    # The CLI always sends the Dockerfile and .dockerignore themselves; the image copies neither.
    needed = {"pyproject.toml", "uv.lock", "README.md", "hypercorn.toml", *sources}
    assert context == {"Dockerfile", ".dockerignore", *needed}


# --- compose.yaml and the CI workflow -----------------------------------------------------------


SCHEMAS = {
    "compose.yaml": "vendor.compose-spec",
    ".github/workflows/ci.yml": "vendor.github-workflows",
}
BREAKAGES = {
    # A dependency condition compose does not know; a job key GitHub does not know.
    "compose.yaml": ("condition: service_healthy", "condition: service_ready"),
    ".github/workflows/ci.yml": ("runs-on:", "runs_on:"),
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_matches_its_bundled_schema(baked_default: Path, tmp_path: Path, name: str) -> None:
    """check-jsonschema's --builtin-schema files ship inside the package: no download."""
    schema = ["--builtin-schema", SCHEMAS[name]]
    result = run_tool("check-jsonschema", *schema, name, cwd=baked_default)
    assert result.returncode == 0, result.stdout + result.stderr

    broken = broken_copy(baked_default, tmp_path, name, *BREAKAGES[name])
    result = run_tool("check-jsonschema", *schema, str(broken), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Schema validation errors were encountered" in result.stdout + result.stderr


@pytest.mark.parametrize("store", ["sqlite", "postgres", "http"])
def test_compose_wires_the_store_redis_and_the_secret(cookies: Any, store: str) -> None:
    result = cookies.bake(extra_context={"user_store": store})
    assert result.exit_code == 0, result.exception
    service = Path(result.project_path)
    schema = ["--builtin-schema", SCHEMAS["compose.yaml"]]
    checked = run_tool("check-jsonschema", *schema, "compose.yaml", cwd=service)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    services = load_yaml(service / "compose.yaml")["services"]
    expected = {"sqlite": {"migrate"}, "postgres": {"migrate", "postgres"}, "http": set()}
    assert set(services) == {"app", "redis", *expected[store]}
    runners = ["app", "migrate"] if "migrate" in services else ["app"]
    for name in runners:
        runner = services[name]
        assert runner["env_file"] == [".env"], "the secret key comes from .env at run time"
        environment = runner["environment"]
        assert not any("SECRET" in variable for variable in environment)
        assert environment[f"{PREFIX}RATE_LIMIT_STORAGE_URI"] == "redis://redis:6379"
        database = environment.get(f"{PREFIX}DATABASE_URL", "")
        if store == "postgres":
            assert database.startswith("postgresql://app:")
            assert "@postgres:5432/" in database
        else:  # SQLite: the image's own URL, a file on the data volume
            assert database == ""
        if store == "sqlite":
            assert runner["volumes"] == ["data:/data"]
    waits_for = {"redis": {"condition": "service_healthy"}}
    if "migrate" in services:
        waits_for["migrate"] = {"condition": "service_completed_successfully"}
        assert services["migrate"]["command"] == ["flask", "--app", PACKAGE, "db", "upgrade"]
    assert services["app"]["depends_on"] == waits_for
    if store == "postgres":
        migrate_waits = {"postgres": {"condition": "service_healthy"}}
        assert services["migrate"]["depends_on"] == migrate_waits
    assert services["app"]["ports"] == ["127.0.0.1:8000:8000"]


def test_ci_runs_the_make_verbs_against_postgres_and_redis(baked_default: Path) -> None:
    workflow = load_yaml(baked_default / ".github/workflows/ci.yml")
    check = workflow["jobs"]["check"]
    assert {"5432:5432", "6379:6379"} == {
        port for service in check["services"].values() for port in service["ports"]
    }
    commands = [step["run"] for step in check["steps"] if "run" in step]
    assert commands[-4:] == ["make install", "make lint", "make test", "make audit"]
    (build,) = [step["run"] for step in workflow["jobs"]["image"]["steps"] if "run" in step]
    assert build.startswith("docker build ")
    uv_pin = re.search(r"uv==(\S+)", (baked_default / "Dockerfile").read_text(encoding="utf-8"))
    assert uv_pin is not None
    assert workflow["env"]["UV_VERSION"] == uv_pin.group(1), "CI and the image use one uv"


# --- Kubernetes manifests -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_manifests_validate_strictly(baked_default: Path, version: str) -> None:
    """kubernetes-validate ships the schemas of each Kubernetes version: no download."""
    files = [f"k8s/{name}" for name in MANIFESTS]
    result = run_tool(
        "kubernetes-validate", "--strict", "-k", version, "--quiet", *files, cwd=baked_default
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.name for path in (baked_default / "k8s").iterdir()) == sorted(MANIFESTS)


def test_kubernetes_validate_rejects_an_unknown_field(baked_default: Path, tmp_path: Path) -> None:
    broken = broken_copy(
        baked_default, tmp_path, "k8s/deployment.yaml", "readinessProbe:", "readynessProbe:"
    )
    result = run_tool("kubernetes-validate", "--strict", str(broken), cwd=tmp_path)
    assert result.returncode != 0
    assert "readynessProbe" in result.stdout + result.stderr


def test_manifests_probe_the_health_endpoints_and_select_the_same_pods(
    baked_default: Path,
) -> None:
    deployment = load_yaml(baked_default / "k8s/deployment.yaml")
    service = load_yaml(baked_default / "k8s/service.yaml")
    budget = load_yaml(baked_default / "k8s/poddisruptionbudget.yaml")

    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert deployment["spec"]["replicas"] >= 2, "a budget of one unavailable pod needs two"

    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert container["envFrom"] == [{"secretRef": {"name": "my-service-env"}}]
    assert {"name": f"{PREFIX}ENV", "value": "production"} in container["env"]

    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == (10001, 10001), "as USER in the image"
