"""Reporters turn a finished `Report` into text; they never run or judge anything."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from envdoctor.model import Finding, Report

REPORTERS: dict[str, str] = {
    "console": "envdoctor.reporters.console",
    "json": "envdoctor.reporters.json",
    "junit": "envdoctor.reporters.junit",
    "github": "envdoctor.reporters.github",
    "markdown": "envdoctor.reporters.markdown",
}


@dataclass
class RenderOptions:
    color: bool = False
    unicode: bool = True
    verbose: bool = False
    quiet: bool = False


def finding_details(finding: Finding) -> list[str]:
    """Expected, found and source, each only if the message does not already say it:
    "2.7.1 installed, requirements.txt:4 wants <2" needs no "(found 2.7.1; …)" after it."""
    message = finding.message
    details = []
    if finding.expected and finding.expected not in message:
        details.append(f"expected {finding.expected}")
    if finding.found and finding.found not in message:
        details.append(f"found {finding.found}")
    if finding.source and finding.source not in message:
        details.append(finding.source)
    return details


def render(report: Report, fmt: str, options: RenderOptions) -> str:
    module = importlib.import_module(REPORTERS[fmt])
    return module.render(report, options)  # type: ignore[no-any-return]
