"""The test suites the compatibility check runs, and their sdists (which carry the tests).

``python compat_suites.py fetch CACHE`` downloads the sdist of each suite's distribution, at
the version the suites will import (``CACHE/site``'s, else this venv's), into
``CACHE/sdists/<dist>-<version>/``, unless it is already there. ``scripts/bootstrap`` runs it
after installing ``CACHE/site``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Suite:
    name: str
    #: The distribution whose sdist holds the suite (``tests/``) and whose version is installed.
    dist: str
    #: False for a suite that never makes a request: serving through ASGI changes nothing there.
    serves_requests: bool = True
    #: Roughly how long one run takes, relative to the others: the runner starts long ones first.
    weight: int = 1


SUITES = (
    Suite("flask", "flask", weight=3),
    Suite("flask-login", "flask-login"),
    Suite("flask-sqlalchemy", "flask-sqlalchemy", serves_requests=False, weight=5),
    Suite("flask-wtf", "flask-wtf"),
    Suite("flask-cors", "flask-cors"),
)


def version(cache: Path, suite: Suite) -> str:
    """The version of ``suite.dist`` the suites import: the compat site's, else .venv's."""
    found = importlib.metadata.distributions(name=suite.dist, path=[str(site(cache)), *sys.path])
    return next(iter(found)).version


def site(cache: Path) -> Path:
    """The folder of the suites' own packages (``requirements.txt``), put ahead of .venv."""
    return cache / "site"


def sdist_dir(cache: Path, suite: Suite) -> Path:
    return cache / "sdists" / f"{suite.dist}-{version(cache, suite)}"


def sdist(cache: Path, suite: Suite) -> Path:
    """The cached sdist of ``suite`` at the installed version; fails if bootstrap has not run."""
    found = sorted(sdist_dir(cache, suite).glob("*.tar.gz"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"no sdist of {suite.dist} {version(cache, suite)} under {sdist_dir(cache, suite)}: "
            "run scripts/bootstrap"
        )
    return found[0]


def fetch(cache: Path, suite: Suite) -> str | None:
    """Download the sdist of ``suite`` into the cache unless it is there; what it downloaded."""
    target = sdist_dir(cache, suite)
    if list(target.glob("*.tar.gz")):
        return None
    work = Path(tempfile.mkdtemp(dir=cache))
    try:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        # --no-binary for this one package only: ":all:" would build the build backends
        # (setuptools, flit_core, hatchling) from source as well.
        command += ["--no-binary", suite.dist, "--disable-pip-version-check", "--dest", str(work)]
        subprocess.run(
            [*command, f"{suite.dist}=={version(cache, suite)}"],
            check=True,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)  # whole or not at all: an interrupted download leaves no sdist
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target.name


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "fetch":
        print("usage: compat_suites.py fetch CACHE", file=sys.stderr)
        return 2
    cache = Path(argv[1])
    cache.mkdir(parents=True, exist_ok=True)
    # pip spends its time preparing each sdist's build backend: in parallel, not one by one.
    with ThreadPoolExecutor(len(SUITES)) as pool:
        for fetched in pool.map(lambda suite: fetch(cache, suite), SUITES):
            if fetched:
                print(f"bootstrap: downloaded the sdist of {fetched}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
