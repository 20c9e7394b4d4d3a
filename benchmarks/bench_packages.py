"""Budgets of the packages issue (issue 3), as ratios against what users already run.

Builds, once, a realistic target venv (a FastAPI / SQLAlchemy / pytest / boto3 stack, about 100
distributions, nothing pinned) under benchmarks/.venv-packages-target, and a separate tools venv
with `uv` and `pipdeptree` (benchmarks/.venv-bench-tools) so they are not counted in the target.
envdoctor is NOT installed in the target: it inspects it with `--python`, as users will, from a
regular `pip install .` of this checkout (benchmarks/.venv-bench, built as bench_startup.py does).

Then runs, alternating (the order rotates each round), for N rounds, and reports medians of:

- `envdoctor check` on a project with a `python`, a `packages` (requirements.txt of the ~40
  top-level packages, consistent = true) and an `imports` (find mode, 10 modules) check, with the
  inspection cache warm (a user's second run) and with `--no-cache`;
- `T -m pip check`, `uv pip check --python T`, `pipdeptree --python T --warn fail`;
- `python -c "import typer"` in the envdoctor venv (the floor of any typer CLI);
- the packages check alone with the requirements file and with 10 times as many lines;
- an `imports` check in `import` mode on 20 modules, and ONE plain child `T -c "import ..."`.

Budgets: envdoctor check <= 0.5 x pip check and <= 2 x the typer import; 10 x the requirement
lines <= 2 x the time; import mode <= 1.2 x the plain child.

`--stages` adds rows that split the `envdoctor check` time: a bare interpreter, `envdoctor
--version`, and the same project with only the python check, python + packages, python + imports.

    python3 benchmarks/bench_packages.py [--rounds 9] [--stages] [--venv DIR] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench_startup import _fresh_venv, run

REPO = Path(__file__).resolve().parent.parent
TARGET_VENV = REPO / "benchmarks" / ".venv-packages-target"
TOOLS_VENV = REPO / "benchmarks" / ".venv-bench-tools"
MARKER = "bench-packages.txt"  # what the venv was built from; a different list rebuilds it

# What a FastAPI service with SQLAlchemy, Celery, AWS and a pytest suite typically declares.
TOP_LEVEL = (
    "fastapi",
    "uvicorn[standard]",
    "gunicorn",
    "pydantic",
    "pydantic-settings",
    "email-validator",
    "python-multipart",
    "sqlalchemy",
    "alembic",
    "psycopg2-binary",
    "redis",
    "celery",
    "httpx",
    "requests",
    "boto3",
    "jinja2",
    "click",
    "rich",
    "typer",
    "python-dotenv",
    "orjson",
    "structlog",
    "tenacity",
    "pyjwt",
    "passlib",
    "cryptography",
    "sentry-sdk",
    "prometheus-client",
    "pytest",
    "pytest-cov",
    "pytest-asyncio",
    "pytest-mock",
    "pytest-xdist",
    "hypothesis",
    "factory-boy",
    "freezegun",
    "respx",
    "mypy",
    "black",
    "pre-commit",
)
TOOLS = ("uv", "pipdeptree")

# find mode: what a project's imports check names (its first-party deps, by import name).
FIND_MODULES = (
    "fastapi",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "boto3",
    "celery",
    "jinja2",
    "yaml",
    "dotenv",
    "psycopg2",
)
# import mode: 10 stdlib + 10 installed modules, really imported.
IMPORT_MODULES = (
    "json",
    "sqlite3",
    "decimal",
    "email.message",
    "http.client",
    "xml.etree.ElementTree",
    "csv",
    "logging.handlers",
    "asyncio",
    "ssl",
    "fastapi",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "requests",
    "jinja2",
    "click",
    "yaml",
    "redis",
    "boto3",
)

PLAIN_IMPORT = "import " + ", ".join(IMPORT_MODULES)

# Ten ways to write a requirement the installed version satisfies (copy k uses form k).
FORMS = (
    "{name}>={M}.{m}",
    "{name}>={M},<{M1}",
    "{name}~={M}.{m}",
    "{name}=={M}.{m}.*",
    "{name}>={M}.{m}.{p}",
    '{name}<{M1} ; python_version >= "3.8"',
    "{name}>={M}.{m},<{M1}",
    "{name}=={v}",
    "{name}>={M}.0  # the major we test against",
    "{name}!=0.0.1,<={v}",
)

TYPER = "python -c 'import typer'"
JSON = ("--format", "json", "--verbose")
PIP = ("-m", "pip", "install", "-q", "--disable-pip-version-check")


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _built(venv: Path, wanted: tuple[str, ...]) -> bool:
    marker = venv / MARKER
    return _python(venv).exists() and marker.exists() and marker.read_text() == "\n".join(wanted)


def _build(venv: Path, packages: tuple[str, ...]) -> None:
    """A venv with the latest pip and `packages` (nothing pinned), unless already built."""
    if _built(venv, packages):
        return
    print(f"building {venv.relative_to(REPO)} ({len(packages)} packages) ...", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(_python(venv)), *PIP, "--upgrade", "pip"], check=True)
    subprocess.run([str(_python(venv)), *PIP, *packages], check=True)
    (venv / MARKER).write_text("\n".join(packages))


def installed(python: Path) -> dict[str, str]:
    """Canonical name -> version of every distribution the interpreter sees (first wins)."""
    script = (
        "import importlib.metadata as m, json, re\n"
        "out = {}\n"
        "for d in m.distributions():\n"
        "    out.setdefault(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(), d.version)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def requirement_lines(versions: dict[str, str], copies: int) -> str:
    """requirements.txt for TOP_LEVEL: copy k writes every line with the k-th FORMS entry."""
    lines = ["# Service and test dependencies (the bench's target venv satisfies all of them)"]
    for k in range(copies):
        if copies > 1:
            lines.append(f"# --- block {k + 1} of {copies} ---")
        for requirement in TOP_LEVEL:
            base = requirement.split("[", 1)[0]
            version = versions[re.sub(r"[-_.]+", "-", base).lower()]
            match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
            assert match, version
            major, minor, patch = (int(g or 0) for g in match.groups())
            lines.append(
                FORMS[k % len(FORMS)].format(
                    name=requirement, M=major, M1=major + 1, m=minor, p=patch, v=version
                )
            )
    return "\n".join(lines) + "\n"


def _toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def write_project(root: Path, checks: str, requirements: str | None = None) -> Path:
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "bench.toml").write_text(textwrap.dedent(checks))
    if requirements is not None:
        (root / "requirements.txt").write_text(requirements)
    return root


PYTHON_CHECK = """
[[check]]
id = "python"
kind = "python"
version = ">=3.10"
"""
PACKAGES_CHECK = """
[[check]]
id = "packages"
kind = "packages"
requirements = ["requirements.txt"]
consistent = true
"""
FIND_CHECK = f"""
[[check]]
id = "imports"
kind = "imports"
modules = {_toml_list(FIND_MODULES)}
"""
IMPORT_CHECK = f"""
[[check]]
id = "imports"
kind = "imports"
mode = "import"
modules = {_toml_list(IMPORT_MODULES)}
"""


def sanity(envdoctor: str, project: Path, target: Path) -> list[str]:
    """One verbose JSON run: every check must pass; returns the packages evidence worth showing."""
    done = subprocess.run(
        [envdoctor, "check", "--project", str(project), "--python", str(target), *JSON],
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout)
    bad = [c for c in report["checks"] if c["status"] != "pass"]
    if done.returncode != 0 or bad:
        raise SystemExit(
            f"envdoctor check on {project.name} exited {done.returncode}: "
            + "; ".join(f"{c['id']}: {c['status']} {c['message']}" for c in bad)
        )
    shown = []
    for check in report["checks"]:
        for line in check.get("evidence", []):
            if re.search(r"distributions;|requirement lines|consistency:", line):
                shown.append(f"{project.name}/{check['id']}: {line.split('; site')[0]}")
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--venv", type=Path, help="an existing venv with envdoctor installed")
    parser.add_argument("--stages", action="store_true", help="also time the check's parts")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args()
    if args.rounds < 7:
        parser.error("--rounds: at least 7")

    load_before = os.getloadavg()
    _build(TARGET_VENV, TOP_LEVEL)
    _build(TOOLS_VENV, TOOLS)
    venv = args.venv or _fresh_venv()
    target = _python(TARGET_VENV)
    envdoctor = str(venv / "bin" / "envdoctor")
    versions = installed(target)
    if "envdoctor" in versions:
        raise SystemExit(f"envdoctor must not be installed in {TARGET_VENV}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # A cache of our own (warmed by the first run below), and no venv of the caller's.
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        os.environ.pop("VIRTUAL_ENV", None)
        once = requirement_lines(versions, 1)
        tenfold = requirement_lines(versions, 10)
        full = write_project(root / "project", PYTHON_CHECK + PACKAGES_CHECK + FIND_CHECK, once)
        one = write_project(root / "packages-1x", PACKAGES_CHECK, once)
        ten = write_project(root / "packages-10x", PACKAGES_CHECK, tenfold)
        imports = write_project(root / "imports-import", IMPORT_CHECK)

        def check(project: Path, *extra: str) -> list[str]:
            return [envdoctor, "check", "--project", str(project), "--python", str(target), *extra]

        tools = TOOLS_VENV / "bin"
        commands = {
            TYPER: [str(_python(venv)), "-c", "import typer"],
            "envdoctor check (warm cache)": check(full),
            "envdoctor check --no-cache": check(full, "--no-cache"),
            "pip check": [str(target), "-m", "pip", "check"],
            "uv pip check": [str(tools / "uv"), "pip", "check", "--python", str(target)],
            "pipdeptree --warn fail": [
                str(tools / "pipdeptree"),
                *("--python", str(target), "--warn", "fail"),
            ],
            "packages check, 1x lines": check(one),
            "packages check, 10x lines": check(ten),
            "imports mode=import (20)": check(imports),
            "one child importing the 20": [str(target), "-c", PLAIN_IMPORT],
        }
        if args.stages:
            commands.update(
                {
                    "  bare interpreter": [str(_python(venv)), "-c", "pass"],
                    "  envdoctor --version": [envdoctor, "--version"],
                    "  check: python only": check(write_project(root / "s1", PYTHON_CHECK)),
                    "  check: python+packages": check(
                        write_project(root / "s2", PYTHON_CHECK + PACKAGES_CHECK, once)
                    ),
                    "  check: python+imports": check(
                        write_project(root / "s3", PYTHON_CHECK + FIND_CHECK)
                    ),
                }
            )
        evidence = [line for p in (full, one, ten) for line in sanity(envdoctor, p, target)]
        sanity(envdoctor, imports, target)
        codes = {}
        for name, argv in commands.items():  # warm the page cache, .pyc files and our cache
            codes[name] = run(argv, root)[1]
        failed = {name: code for name, code in codes.items() if code != 0}
        if failed:
            print(f"commands exited non-zero on the bench target: {failed}", file=sys.stderr)
            return 1
        times: dict[str, list[float]] = {name: [] for name in commands}
        rss: dict[str, int] = dict.fromkeys(commands, 0)
        names = list(commands)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                wall, code, peak = run(commands[name], root)
                if code != 0:
                    print(f"{name} exited {code} in round {round_ + 1}", file=sys.stderr)
                    return 1
                times[name].append(wall)
                rss[name] = max(rss[name], peak)
    load_after = os.getloadavg()

    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'command':30} {'median':>9} {'min':>9} {'peak RSS':>9}")
    for name in commands:
        print(
            f"{name:30} {median[name] * 1000:7.1f}ms {min(times[name]) * 1000:7.1f}ms "
            f"{rss[name] / 1024:7.1f}MB"
        )
    budgets = [
        ("envdoctor check / pip check", "envdoctor check (warm cache)", "pip check", 0.5),
        ("  --no-cache / pip check", "envdoctor check --no-cache", "pip check", 0.5),
        ("envdoctor check / import typer", "envdoctor check (warm cache)", TYPER, 2.0),
        ("  --no-cache / import typer", "envdoctor check --no-cache", TYPER, 2.0),
        ("10x lines / 1x lines", "packages check, 10x lines", "packages check, 1x lines", 2.0),
        ("import mode / one child", "imports mode=import (20)", "one child importing the 20", 1.2),
    ]
    print(f"\n{'budget':32} {'ratio':>7} {'budget':>8}")
    ok = True
    for label, numerator, denominator, budget in budgets:
        ratio = median[numerator] / median[denominator]
        met = ratio <= budget
        ok &= met
        print(f"{label:32} {ratio:6.2f}x {'<= ' + str(budget) + 'x':>8} {'ok' if met else 'OVER'}")
    pip_version = installed(target).get("pip", "?")
    print(
        f"\n{args.rounds} alternating rounds, medians; target {TARGET_VENV.relative_to(REPO)}: "
        f"{len(versions)} distributions (pip {pip_version}), python "
        f"{'.'.join(map(str, sys.version_info[:3]))}; requirements {len(once.splitlines())} "
        f"and {len(tenfold.splitlines())} lines"
    )
    tool_versions = installed(_python(TOOLS_VENV))
    print(f"tools: uv {tool_versions.get('uv')}, pipdeptree {tool_versions.get('pipdeptree')}")
    print(
        "load average before/after: "
        + " / ".join(", ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    )
    for line in evidence:
        print(f"evidence {line}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
