"""The JSON report is a contract (DESIGN.md §7, schema_version 1): keys and types exactly."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from envdoctor.model import Status
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.json import render

from ._reports import (
    E2E_SECRET,
    E2E_SECRET_URL,
    FORMATS,
    REDACTED_URL,
    every_status_report,
    report,
    result,
    secret_renders,
    secret_runs,
)

if TYPE_CHECKING:
    from conftest import Project

PLAIN = RenderOptions()
VERBOSE = RenderOptions(verbose=True)
NUMBER = (int, float)
OPT_STR = (str, type(None))

# §7 keys, plus `interrupted` and `reasons`, which the foundation added (additive, same version).
TOP = {
    "schema_version": int,
    "envdoctor_version": str,
    "project": str,
    "python": dict,
    "ready": bool,
    "score": int,
    "min_score": int,
    "duration_ms": NUMBER,
    "counts": dict,
    "checks": list,
    "interrupted": bool,
    "reasons": list,
}
CHECK = {
    "id": str,
    "kind": str,
    "title": str,
    "severity": str,
    "weight": NUMBER,
    "tags": list,
    "status": str,
    "duration_ms": NUMBER,
    "source": str,
    "message": str,
    "fix": OPT_STR,
    "findings": list,
}
FINDING = {
    "subject": str,
    "status": str,
    "message": str,
    "expected": OPT_STR,
    "found": OPT_STR,
    "source": OPT_STR,
    "fix": OPT_STR,
}
STATUSES = {"pass", "warn", "fail", "error", "blocked", "skip"}


def load(options: RenderOptions = PLAIN, rep: Any = None) -> dict[str, Any]:
    text = render(rep or every_status_report(), options)
    assert text.endswith("}\n")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def assert_shape(value: dict[str, Any], shape: dict[str, Any]) -> None:
    assert set(value) == set(shape)
    for key, types in shape.items():
        assert isinstance(value[key], types), f"{key}: {value[key]!r} is not {types}"
        if types is int or types == NUMBER:
            assert not isinstance(value[key], bool), key


def test_top_level_keys_and_types() -> None:
    data = load()
    assert_shape(data, TOP)
    assert data["schema_version"] == 1
    assert data["envdoctor_version"] == "0.1.0"
    assert data["project"] == "/srv/shop"
    assert data["python"] == {"executable": "/srv/shop/.venv/bin/python", "version": "3.12.3"}
    assert data["ready"] is False
    assert data["score"] == 28
    assert data["min_score"] == 0
    assert data["duration_ms"] == 312.4
    assert data["interrupted"] is False
    assert data["reasons"] == ["3 required checks failed"]


def test_counts_name_every_status() -> None:
    counts = load()["counts"]
    assert counts == {"pass": 1, "warn": 1, "fail": 2, "error": 1, "blocked": 1, "skip": 1}
    assert all(type(n) is int for n in counts.values())


def test_python_version_may_be_null() -> None:
    data = load(rep=report([result("a", Status.PASS, "ok")], version=None))
    assert data["python"]["version"] is None


def test_every_check_has_the_schema_keys_in_declared_order() -> None:
    checks = load()["checks"]
    assert [c["id"] for c in checks] == [
        "python",
        "packages",
        "postgres",
        "redis",
        "alertmanager",
        "env",
        "docs",
    ]
    for check in checks:
        assert_shape(check, CHECK)
        assert check["status"] in STATUSES
        assert check["severity"] in ("required", "optional")
        assert all(isinstance(t, str) for t in check["tags"])
        for finding in check["findings"]:
            assert_shape(finding, FINDING)
            assert finding["status"] in STATUSES


def test_check_values() -> None:
    by_id = {c["id"]: c for c in load()["checks"]}
    packages = by_id["packages"]
    assert packages["kind"] == "packages"
    assert packages["title"] == "packages"
    assert packages["status"] == "fail"
    assert packages["weight"] == 3
    assert packages["duration_ms"] == 41.0
    assert packages["source"] == "checks/python.toml:7"
    assert packages["message"] == "2 of 41 requirements not met"
    assert packages["fix"] == ".venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'"
    alert = by_id["alertmanager"]
    assert (alert["severity"], alert["status"], alert["weight"]) == ("optional", "fail", 1)
    assert by_id["python"]["fix"] is None


def test_findings_list_only_problems_unless_verbose() -> None:
    plain = {c["id"]: c for c in load()["checks"]}
    assert [f["subject"] for f in plain["packages"]["findings"]] == ["hvac", "pydantic", "./local"]
    assert plain["packages"]["findings"][0] == {
        "subject": "hvac",
        "status": "fail",
        "message": "not installed",
        "expected": ">=1.0",
        "found": None,
        "source": "requirements.txt:12",
        "fix": ".venv/bin/python -m pip install 'hvac>=1.0'",
    }
    assert plain["python"]["findings"] == []
    assert [f["subject"] for f in plain["env"]["findings"]] == ["SENTRY_DSN"]
    verbose = {c["id"]: c for c in load(VERBOSE)["checks"]}
    subjects = [f["subject"] for f in verbose["packages"]["findings"]]
    assert subjects == ["hvac", "pydantic", "requests", "./local"]
    assert [f["subject"] for f in verbose["python"]["findings"]] == ["version"]


def test_verbose_adds_evidence_and_traceback() -> None:
    assert all("evidence" not in c and "traceback" not in c for c in load()["checks"])
    by_id = {c["id"]: c for c in load(VERBOSE)["checks"]}
    assert by_id["packages"]["evidence"] == ["read requirements.txt (41 lines)"]
    assert by_id["postgres"]["traceback"].startswith("Traceback (most recent call last):")
    assert "traceback" not in by_id["packages"]
    for check in by_id.values():
        assert_shape({k: v for k, v in check.items() if k not in ("evidence", "traceback")}, CHECK)


def test_output_is_ascii_and_unicode_survives_parsing() -> None:
    """ASCII JSON is valid whatever the output encoding; the text round-trips unchanged."""
    text = render(every_status_report(), VERBOSE)
    assert text.isascii() and "\\u2026" in text
    assert "…" in json.dumps(json.loads(text), ensure_ascii=False)


def test_no_secret_in_a_redacted_report() -> None:
    for text in secret_renders(render, PLAIN, VERBOSE):
        assert REDACTED_URL in text


def test_end_to_end_json_from_the_cli(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"
        tags = ["docs"]

        [[check]]
        id = "changelog"
        kind = "file"
        path = "CHANGELOG.md"
        severity = "optional"
        """
    )
    project.write("README.md", "hello\n")
    out = project.run("check", "--format", "json")
    assert out.code == 0, out.stderr
    data = out.json()
    assert_shape(data, TOP)
    assert data["schema_version"] == 1
    assert data["ready"] is True
    assert data["score"] == 75
    assert data["counts"] == {"pass": 1, "warn": 0, "fail": 1, "error": 0, "blocked": 0, "skip": 0}
    for check in data["checks"]:
        assert_shape(check, CHECK)
    readme, changelog = data["checks"]
    assert (readme["id"], readme["tags"], readme["source"]) == (
        "readme",
        ["docs"],
        "checks/envdoctor.toml:1",
    )
    assert (changelog["severity"], changelog["status"]) == ("optional", "fail")


def test_end_to_end_secret_never_shown(project: Project) -> None:
    for flags, out in secret_runs(project, ("--format", "json"), (), ("-v",)):
        check = out.json()["checks"][0]
        assert check["status"] == "fail"
        if flags:
            assert check["evidence"], "verbose JSON carries the evidence, redacted"


def test_end_to_end_secret_in_a_title_never_shown(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "dsn-file"
        kind = "file"
        title = "file at ${SECRET_URL}"
        path = "missing.txt"
        """
    )
    for fmt in FORMATS:
        out = project.run("check", "--format", fmt, env={"SECRET_URL": E2E_SECRET_URL})
        assert out.code == 1, out.stderr
        assert E2E_SECRET not in out.stdout + out.stderr, fmt
