"""The stable, versioned JSON report of DESIGN.md §7 (`schema_version` 1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from envdoctor.model import Finding, Report, Result, Status

if TYPE_CHECKING:
    from envdoctor.reporters import RenderOptions

SCHEMA_VERSION = 1


def to_dict(report: Report, verbose: bool = False) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "envdoctor_version": report.envdoctor_version,
        "project": report.project,
        "python": {"executable": report.python.executable, "version": report.python.version},
        "ready": report.verdict.ready,
        "score": report.verdict.score,
        "min_score": report.min_score,
        "duration_ms": round(report.duration_ms, 1),
        "counts": {s.value: report.verdict.counts.get(s.value, 0) for s in Status},
        "interrupted": report.interrupted,
        **(
            {"wait": {"limit_s": report.wait.limit, "expired": report.wait.expired}}
            if report.wait is not None
            else {}
        ),
        "reasons": list(report.verdict.reasons),
        "checks": [_check(r, verbose) for r in report.results],
    }


def _check(result: Result, verbose: bool) -> dict[str, Any]:
    spec = result.spec
    findings = [f for f in result.findings if verbose or f.status not in (Status.PASS,)]
    out: dict[str, Any] = {
        "id": spec.id,
        "kind": spec.kind,
        "title": spec.display_title,
        "severity": spec.severity.value,
        "weight": _number(spec.effective_weight),
        "tags": list(spec.tags),
        "status": result.status.value,
        "duration_ms": round(result.duration_ms, 1),
        **({"attempts": result.attempts} if result.attempts > 1 else {}),
        "source": str(spec.source),
        "message": result.message,
        "fix": result.fix,
        "findings": [_finding(f) for f in findings],
    }
    if verbose:
        out["evidence"] = list(result.evidence)
        if result.traceback:
            out["traceback"] = result.traceback
    return out


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "subject": finding.subject,
        "status": finding.status.value,
        "message": finding.message,
        "expected": finding.expected,
        "found": finding.found,
        "source": finding.source,
        "fix": finding.fix,
    }


def render(report: Report, options: RenderOptions) -> str:
    return (
        json.dumps(to_dict(report, options.verbose), indent=2) + "\n"
    )  # ASCII: valid in any encoding
