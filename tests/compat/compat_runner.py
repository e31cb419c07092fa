"""Run Flask's, Flask-Login's and common extensions' own test suites against the app class.

Each suite (``compat_suites.SUITES``) runs from a fresh copy of its sdist, in separate
processes (``compat_plugin`` explains the modes): on stock Flask (``stock``), with the app
class through the test client (``class``) and with every request served by the ASGI adapter
(``asgi``). The tests that pass on stock Flask but not through the adapter run once more on
stock Flask served by asgiref's ``WsgiToAsgi`` (``asgi-ref``). Then:

* a **regression** is a test that passes on stock Flask and does not pass with the app class,
  through the test client, or through the adapter while it passes through ``WsgiToAsgi``;
* an **ASGI limitation** is a test that passes on stock Flask and fails through both ASGI
  servers: what it relies on does not survive an ASGI round trip (listed, not counted).

Usage: ``python tests/compat/compat_runner.py --src <baked service>/src [--suite NAME]...``;
writes ``report.json`` and the per-run logs under ``--out``, prints the report, and exits 1 if
any suite has a regression or a run that went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import compat_suites
from compat_suites import SUITES, Suite

#: The app class and the ASGI adapter under test, as ``module:attribute`` (the adapter is
#: called with the app). Override with --app-class / --adapter.
APP_CLASS = "my_service.bridge:LoopFlask"
ADAPTER = "my_service.bridge:ASGIAdapter"

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE.parents[1] / ".venv" / "compat"
#: Seconds one suite may run in one mode.
TIMEOUT = 600

Result = dict[str, Any]


def modes(suite: Suite) -> tuple[str, ...]:
    """The modes ``suite`` runs in first; ``asgi-ref`` follows for what fails in ``asgi``."""
    return ("stock", "class", "asgi") if suite.serves_requests else ("stock", "class")


def run_suite(suite: Suite, mode: str, args: argparse.Namespace, tests: list[str]) -> Result:
    """Run ``tests`` of ``suite`` in ``mode`` in a fresh copy of its sdist.

    Returns the plugin's summary (``compat_plugin.pytest_sessionfinish``) plus ``seconds``,
    ``log`` and ``problem``: why the run cannot be compared, or ``None``.
    """
    work = Path(args.out) / f"{suite.name}-{mode}"
    with tarfile.open(compat_suites.sdist(args.cache, suite)) as archive:
        archive.extractall(work, filter="data")
    (root,) = work.iterdir()
    outcomes = work / "outcomes.json"
    log = Path(args.out) / f"{suite.name}-{mode}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COMPAT_"))}
    path = [compat_suites.site(args.cache), HERE, Path(args.src).resolve()]
    env.update(
        PYTHONPATH=os.pathsep.join(str(p) for p in path),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # .venv's plugins (pytest-asyncio...) stay out
        PYTHONDONTWRITEBYTECODE="1",
        COMPAT_MODE=mode,
        COMPAT_APP_CLASS=args.app_class,
        COMPAT_ADAPTER=args.adapter,
        COMPAT_OUTCOMES=str(outcomes),
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "compat_plugin", "--tb=line", *tests]
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as output:
        try:
            subprocess.run(
                command,
                cwd=root,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"problem": f"timed out after {TIMEOUT} s (see {log})", "log": str(log)}
    result: Result = {"log": str(log), "seconds": round(time.monotonic() - started, 1)}
    if not outcomes.exists():
        return result | {"problem": f"pytest wrote no outcomes (see {log})"}
    result |= json.loads(outcomes.read_text("utf-8"))
    result["problem"] = _problem(mode, result, log)
    return result


def _problem(mode: str, result: Result, log: Path) -> str | None:
    """Why this run cannot be compared, if it cannot."""
    if result["exitstatus"] not in (0, 1):  # 1: some tests failed, as on stock
        return f"pytest exited {result['exitstatus']} (see {log})"
    if not result["outcomes"]:
        return "no tests ran"
    if mode in ("class", "asgi") and not result["apps_built"]:
        return f"no {result['app_class']} app was built: the class swap did not reach the suite"
    if mode in ("asgi", "asgi-ref") and not result["asgi_requests"]:
        return "no request went through the ASGI app"
    return None


def _outcome(result: Result, test: str) -> dict[str, str]:
    """``test``'s outcome in a run; a test that did not run says which collection failed."""
    outcomes: dict[str, dict[str, str]] = result.get("outcomes", {})
    if test in outcomes:
        return outcomes[test]
    for node, entry in outcomes.items():
        if entry["outcome"] == "collect-error" and test.startswith(node):
            return {"outcome": "not collected", "message": entry["message"]}
    return {"outcome": "missing", "message": "the test did not run"}


def asgi_only_failures(runs: dict[str, Result]) -> list[str]:
    """Tests that pass on stock Flask and not through the adapter: the reference runs these."""
    if "asgi" not in runs:
        return []
    stock = runs["stock"].get("outcomes", {})
    return [
        test
        for test in sorted(stock)
        if stock[test]["outcome"] == "passed"
        and _outcome(runs["asgi"], test)["outcome"] != "passed"
    ]


def compare(suite: Suite, runs: dict[str, Result], cache: Path) -> Result:
    """The report of one suite: counts per mode, regressions, ASGI limitations, problems."""
    stock = runs["stock"].get("outcomes", {})
    passing = sorted(test for test, entry in stock.items() if entry["outcome"] == "passed")
    regressions: dict[str, list[dict[str, str]]] = {"class": [], "asgi": []}
    for test in passing:
        within = _outcome(runs["class"], test)
        if within["outcome"] != "passed":
            regressions["class"].append({"test": test} | within)
    limitations: list[dict[str, str]] = []
    for test in asgi_only_failures(runs):
        served = _outcome(runs["asgi"], test)
        reference = _outcome(runs["asgi-ref"], test)
        if reference["outcome"] == "passed":
            regressions["asgi"].append({"test": test} | served)
        else:
            limitations.append(
                {"test": test, "message": served["message"], "reference": reference["message"]}
            )
    return {
        "suite": suite.name,
        "version": compat_suites.version(cache, suite),
        "problems": {mode: run["problem"] for mode, run in runs.items() if run["problem"]},
        "modes": {
            mode: {
                "counts": dict(Counter(e["outcome"] for e in run.get("outcomes", {}).values())),
                "seconds": run.get("seconds"),
                "log": run["log"],
            }
            for mode, run in runs.items()
        },
        "stock_passing": len(passing),
        "regressions": regressions,
        "asgi_limitations": limitations,
    }


def format_report(report: Result) -> str:
    lines = [f"== {report['suite']} {report['version']}: {report['stock_passing']} pass on stock"]
    for mode, info in report["modes"].items():
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(info["counts"].items()))
        lines.append(f"  {mode:9} {counts} ({info['seconds']} s)")
    for mode, problem in report["problems"].items():
        lines.append(f"  PROBLEM in {mode}: {problem}")
    for mode, found in report["regressions"].items():
        if found:
            lines.append(f"  regressions, {mode} ({len(found)}):")
            lines += [f"    {r['test']}: {r['outcome']}: {r['message']}" for r in found]
    if report["asgi_limitations"]:
        lines.append(f"  ASGI limitations ({len(report['asgi_limitations'])}):")
        for entry in report["asgi_limitations"]:
            lines.append(f"    {entry['test']}: {entry['message']}")
            lines.append(f"      through WsgiToAsgi: {entry['reference']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, help="the baked service's src folder")
    parser.add_argument("--suite", action="append", choices=[s.name for s in SUITES])
    parser.add_argument("--out", help="where logs and report.json go (default: a new temp dir)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="as bootstrap made it")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--app-class", default=APP_CLASS, help=f"default {APP_CLASS}")
    parser.add_argument("--adapter", default=ADAPTER, help=f"default {ADAPTER}")
    args = parser.parse_args(argv)
    args.out = args.out or tempfile.mkdtemp(prefix="compat-")
    suites = [s for s in SUITES if not args.suite or s.name in args.suite]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, Result]] = {suite.name: {} for suite in suites}

    def run(job: tuple[Suite, str, list[str]]) -> None:
        suite, mode, tests = job
        runs[suite.name][mode] = run_suite(suite, mode, args, tests)

    with ThreadPoolExecutor(args.jobs) as pool:
        # The longest runs first, so that two cores finish together.
        first = [(suite, mode, ["tests"]) for suite in suites for mode in modes(suite)]
        first.sort(key=lambda job: -job[0].weight)
        list(pool.map(run, first))
        again = [(suite, "asgi-ref", asgi_only_failures(runs[suite.name])) for suite in suites]
        list(pool.map(run, [job for job in again if job[2]]))
    reports = [compare(suite, runs[suite.name], args.cache) for suite in suites]
    Path(args.out, "report.json").write_text(json.dumps(reports, indent=1), "utf-8")
    print("\n".join(format_report(report) for report in reports))
    print(f"logs and report.json: {args.out}")
    failed = any(r["problems"] or any(r["regressions"].values()) for r in reports)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
