"""Reporters turn a finished `Report` into text; they never run or judge anything."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from envdoctor.model import Report

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


def render(report: Report, fmt: str, options: RenderOptions) -> str:
    module = importlib.import_module(REPORTERS[fmt])
    return module.render(report, options)  # type: ignore[no-any-return]
