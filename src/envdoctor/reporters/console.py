"""The human report: grouped by category, one line per check, failures expanded with a fix.

Plain ANSI escapes (no rich) keep start-up cheap; colour and Unicode are decided by the CLI and
passed in, so this module only formats.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from envdoctor.model import Finding, Report, Result, Severity, Status
from envdoctor.reporters import finding_details

if TYPE_CHECKING:
    from envdoctor.reporters import RenderOptions

UNICODE_GLYPHS = {
    Status.PASS: "✓",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.ERROR: "✗",
    Status.BLOCKED: "-",
    Status.SKIP: "·",
}
ASCII_GLYPHS = {
    Status.PASS: "+",
    Status.WARN: "!",
    Status.FAIL: "x",
    Status.ERROR: "x",
    Status.BLOCKED: "-",
    Status.SKIP: ".",
}
MAX_FINDINGS = 30  # per check, without -v: a 200,000-key .env.example must not flood a terminal
_COLORS = {"green": "32", "yellow": "33", "red": "31", "dim": "2", "bold": "1", "cyan": "36"}


class Style:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self.glyphs = UNICODE_GLYPHS if options.unicode else ASCII_GLYPHS
        self.dot = " · " if options.unicode else " - "

    def paint(self, text: str, color: str) -> str:
        if not self.options.color or not text:
            return text
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m"

    def glyph(self, result: Result) -> str:
        status = result.status
        glyph = self.glyphs[status]
        optional = result.spec.severity is Severity.OPTIONAL
        if optional and status in (Status.FAIL, Status.ERROR):
            glyph = self.glyphs[Status.WARN]
        return self.paint(f"[{glyph}]", self.color(status, optional))

    @staticmethod
    def color(status: Status, optional: bool = False) -> str:
        if status is Status.PASS:
            return "green"
        if status is Status.WARN or (optional and status in (Status.FAIL, Status.ERROR)):
            return "yellow"
        if status in (Status.FAIL, Status.ERROR):
            return "red"
        return "dim"


def render(report: Report, options: RenderOptions) -> str:
    style = Style(options)
    lines: list[str] = []
    if not options.quiet:
        lines += [header(report, style), ""]
    shown = [
        r for r in report.results if not options.quiet or r.status not in (Status.PASS, Status.SKIP)
    ]
    width = min(28, max([15, *(len(r.spec.display_title) for r in shown)]))
    for category, results in _grouped(shown):
        lines.append(style.paint(category, "bold"))
        for result in results:
            lines += check_lines(result, style, width, options)
    if shown:
        lines.append("")
    lines.append(summary(report, style))
    return "\n".join(lines) + "\n"


def header(report: Report, style: Style) -> str:
    version = f" ({report.python.version})" if report.python.version else ""
    return (
        f"envdoctor {report.envdoctor_version}{style.dot}project {home(report.project)}"
        f"{style.dot}python {home(report.python.executable)}{version}"
    )


def summary(report: Report, style: Style) -> str:
    verdict = report.verdict
    if report.interrupted:
        head = style.paint("Interrupted", "red")
    elif verdict.ready:
        head = style.paint("Ready", "green")
    else:
        head = style.paint("Not ready", "red")
    ran = [r for r in report.results]
    parts = [head, f"score {verdict.score}/100", *verdict.reasons]
    warnings = verdict.counts.get("warn", 0)
    if warnings and not any("warning" in reason for reason in verdict.reasons):
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    n = len(ran)
    parts.append(f"{n} check{'s' if n != 1 else ''} in {report.duration_ms / 1000:.2f} s")
    return style.dot.join(parts)


def _grouped(results: list[Result]) -> list[tuple[str, list[Result]]]:
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.category, []).append(result)
    return list(groups.items())


def check_lines(result: Result, style: Style, width: int, options: RenderOptions) -> list[str]:
    spec = result.spec
    message = result.message
    if result.status is Status.ERROR:
        message = f"error: {message}"
    elif result.status is Status.BLOCKED:
        message = f"blocked: {message}"
    elif result.status is Status.SKIP:
        message = f"skipped: {message}"
    if spec.severity is Severity.OPTIONAL and result.status is not Status.PASS:
        message = f"optional{style.dot}{message}"
    if options.verbose:
        message += style.paint(f" ({result.duration_ms:.0f} ms)", "dim")
    title = spec.display_title
    lines = [f"  {style.glyph(result)} {title.ljust(width)} {message}"]
    indent = " " * 8
    problem = result.status not in (Status.PASS, Status.SKIP)
    findings = [
        f
        for f in result.findings
        if options.verbose
        or f.status not in (Status.PASS, Status.SKIP)
        or (problem and f.status is Status.SKIP)
    ]
    if problem or options.verbose:
        sub_width = min(24, max([15, *(len(f.subject) for f in findings)])) if findings else 15
        shown = findings if options.verbose else findings[:MAX_FINDINGS]
        for finding in shown:
            lines.append(indent + _finding_line(finding, sub_width, style))
        if len(shown) < len(findings):
            more = len(findings) - len(shown)
            lines.append(
                indent
                + style.paint(f"… and {more} more (all of them with -v or --format json)", "dim")
            )
    if options.verbose:
        for item in result.evidence:
            lines.append(indent + style.paint(item, "dim"))
        if result.traceback:
            lines += [
                indent + style.paint(t, "dim") for t in result.traceback.rstrip().splitlines()
            ]
    if result.fix and problem:
        lines.append(indent + style.paint("fix: ", "cyan") + result.fix)
    return lines


def _finding_line(finding: Finding, width: int, style: Style) -> str:
    details = finding_details(finding)
    text = finding.message + (f" ({'; '.join(details)})" if details else "")
    subject = style.paint(finding.subject.ljust(width), style.color(finding.status))
    return f"{subject} {text}"


def home(path: str) -> str:
    home = os.path.expanduser("~")
    if home and home != "/" and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home) :]
    return path
