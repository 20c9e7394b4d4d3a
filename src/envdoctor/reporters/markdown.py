"""Markdown: the console report as a table, for bug reports, pull requests and onboarding docs.

Pasted into an issue it must render as one intact table whatever the messages hold, so every
cell is escaped (`|` would split the row, a newline would end the table, `<tag` could be read as
HTML) and every fix command goes in a fence longer than any run of backticks it contains.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envdoctor.model import Finding, Report, Result, Severity, Status
from envdoctor.reporters import finding_details
from envdoctor.reporters.console import ASCII_GLYPHS, home

if TYPE_CHECKING:
    from envdoctor.reporters import RenderOptions

EMOJI = {
    Status.PASS: "✅",
    Status.WARN: "⚠️",
    Status.FAIL: "❌",
    Status.ERROR: "❌",
    Status.BLOCKED: "⛔",
    Status.SKIP: "⏭️",
}
_PROBLEMS = (Status.WARN, Status.FAIL, Status.ERROR, Status.BLOCKED)
# A `<` that could open an HTML tag, comment or declaration; `pydantic<2` is left alone.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def render(report: Report, options: RenderOptions) -> str:
    dot = " · " if options.unicode else " - "
    lines = [f"## envdoctor: {_verdict(report, options, dot)}", ""]
    lines += _facts(report, options, dot)
    shown = [r for r in report.results if not options.quiet or r.status in _PROBLEMS]
    if shown:
        lines += ["", "| | Check | Status | Details |", "|---|---|---|---|"]
        for category, results in _grouped(shown):
            lines.append(f"| | **{cell(category)}** | | |")
            lines += [_row(result, options) for result in results]
    fixes = _fixes(report)
    if fixes:
        lines += ["", "### Fixes", ""]
        for title, commands in fixes:
            lines.append(f"**{cell(title)}**")
            lines.append("")
            lines += _fence("\n".join(commands))
            lines.append("")
        lines.pop()
    return "\n".join(lines) + "\n"


def cell(text: str | None) -> str:
    """`text` safe inside one table cell: pipes escaped, newlines as `<br>`, no raw HTML tags."""
    if not text:
        return ""
    text = text.replace("|", "\\|")
    text = _TAG_START.sub("&lt;", text)
    return "<br>".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))


def code(text: str) -> str:
    """An inline code span that survives backticks inside `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _verdict(report: Report, options: RenderOptions, dot: str) -> str:
    verdict = report.verdict
    if report.interrupted:
        head, mark = "Interrupted", "⛔"
    elif verdict.ready:
        head, mark = "Ready", "✅"
    else:
        head, mark = "Not ready", "❌"
    prefix = f"{mark} " if options.unicode else ""
    return f"{prefix}{head}{dot}score {verdict.score}/100"


def _facts(report: Report, options: RenderOptions, dot: str) -> list[str]:
    python = code(home(report.python.executable))
    if report.python.version:
        python += f" ({report.python.version})"
    n = len(report.results)
    summary = [*report.verdict.reasons]
    warnings = report.verdict.counts.get("warn", 0)
    if warnings and not any("warning" in reason for reason in summary):
        summary.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    summary.append(f"{n} check{'s' if n != 1 else ''} in {report.duration_ms / 1000:.2f} s")
    facts = [
        f"- **Project:** {code(home(report.project))}",
        f"- **Python:** {python}",
        f"- **envdoctor:** {report.envdoctor_version or 'unknown'}",
        f"- **Result:** {dot.join(summary)}",
    ]
    if report.min_score:
        facts.append(f"- **Minimum score:** {report.min_score}")
    if report.strict:
        facts.append("- **Strict:** optional failures and warnings count")
    return facts


def _grouped(results: list[Result]) -> list[tuple[str, list[Result]]]:
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.category, []).append(result)
    return list(groups.items())


def _row(result: Result, options: RenderOptions) -> str:
    spec = result.spec
    optional = spec.severity is Severity.OPTIONAL and result.status is not Status.PASS
    glyphs = EMOJI if options.unicode else ASCII_GLYPHS
    status = result.status
    shown_as = Status.WARN if optional and status in (Status.FAIL, Status.ERROR) else status
    mark = glyphs[shown_as] if options.unicode else f"`{glyphs[shown_as]}`"
    label = status.value + (" (optional)" if optional else "")
    details = [cell(result.message)]
    problem = status in _PROBLEMS
    for finding in result.findings:
        if options.verbose or (problem and finding.status is not Status.PASS):
            details.append(_finding(finding))
    if options.verbose:
        details.append(f"({result.duration_ms:.0f} ms, {cell(str(spec.source))})")
    title = cell(spec.display_title)
    return f"| {mark} | {title} | {label} | {'<br>'.join(d for d in details if d)} |"


def _finding(finding: Finding) -> str:
    details = finding_details(finding)
    text = f"**{cell(finding.subject)}** {cell(finding.message)}"
    if details:
        text += f" ({cell('; '.join(details))})"
    return text


def _fixes(report: Report) -> list[tuple[str, list[str]]]:
    """Per problem check, its fix (or its findings' fixes), each command once in the report."""
    seen: set[str] = set()
    out: list[tuple[str, list[str]]] = []
    for result in report.results:
        if result.status not in _PROBLEMS:
            continue
        candidates = [result.fix] if result.fix else [f.fix for f in result.findings if f.fix]
        commands = []
        for fix in candidates:
            if fix and fix not in seen:
                seen.add(fix)
                commands.append(fix)
        if commands:
            title = result.spec.display_title
            if result.spec.severity is Severity.OPTIONAL:
                title += " (optional)"
            out.append((title, commands))
    return out


def _fence(text: str) -> list[str]:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}sh", text, fence]
