"""GitHub Actions annotations: `::error file=…,line=…,title=…::message`, one per problem.

A CI job's log is long; annotations put each problem on the pull request, next to the line that
declared it: the `[[check]]` table for the check itself and, when a finding knows where its
requirement came from (`requirements.txt:12`), that file and line too. A required failure is an
`::error`, a warning or an optional failure a `::warning`; passes and skips say nothing.

The runner reads these lines as commands, so every value is escaped the way the Actions toolkit
does it (`escapeData` / `escapeProperty`): a stray newline would otherwise end the command early
and let the rest of a message be read as a new command.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envdoctor.model import Finding, Report, Result, Severity, Status

if TYPE_CHECKING:
    from envdoctor.reporters import RenderOptions

_PROBLEMS = (Status.WARN, Status.FAIL, Status.ERROR, Status.BLOCKED)
# `requirements.txt:12`, `docker-compose.yml:7`: a path and a 1-based line.
_FILE_LINE = re.compile(r"^(?P<path>[^\s].*?):(?P<line>[1-9][0-9]*)$")


def render(report: Report, options: RenderOptions) -> str:
    lines: list[str] = []
    for result in report.results:
        if result.status not in _PROBLEMS:
            continue
        lines.append(_check_annotation(result))
        lines += _where_annotation(result)
        lines += _finding_annotations(result, options)
    lines.append(_summary(report, options))
    return "\n".join(lines) + "\n"


def escape_data(text: str) -> str:
    """The message part of a workflow command (the Actions toolkit's `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A `key=value` property (`escapeProperty`): also `:` and `,`, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: str | int | None) -> str:
    """One workflow command; properties that are None are left out, not sent empty."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}"


def _level(result: Result, status: Status) -> str | None:
    """error for a required problem, warning for a warning or anything optional, else nothing."""
    if status not in _PROBLEMS:
        return None
    if status is Status.WARN or result.spec.severity is Severity.OPTIONAL:
        return "warning"
    return "error"


def _check_annotation(result: Result) -> str:
    spec = result.spec
    level = _level(result, result.status) or "warning"
    message = _headline(result)
    body = [f"  {_finding_text(f)}" for f in result.findings if f.status is not Status.PASS]
    if result.fix:
        body.append(f"fix: {result.fix}")
    return command(
        level,
        "\n".join([message, *body]),
        file=_path(spec.source.path),
        line=spec.source.line,
        title=_title(result),
    )


def _where_annotation(result: Result) -> list[str]:
    """An error about a project file the check read (a bad requirements line) is annotated
    on that line too: that is the line the pull request must change."""
    where = _FILE_LINE.match(result.where or "")
    if where is None:
        return []
    return [
        command(
            _level(result, result.status) or "warning",
            _headline(result),
            file=_path(where["path"]),
            line=int(where["line"]),
            title=_title(result),
        )
    ]


def _finding_annotations(result: Result, options: RenderOptions) -> list[str]:
    """One annotation per problem finding that points into a file (a requirement's own line)."""
    out = []
    for finding in result.findings:
        level = _level(result, finding.status)
        where = _FILE_LINE.match(finding.source or "")
        if level is None or where is None:
            continue
        message = _finding_text(finding, with_source=False)
        if finding.fix:
            message += f"\nfix: {finding.fix}"
        out.append(
            command(
                level,
                message,
                file=_path(where["path"]),
                line=int(where["line"]),
                title=f"{_title(result)}: {finding.subject}",
            )
        )
    return out


def _headline(result: Result) -> str:
    status = result.status
    text = result.message
    if status in (Status.ERROR, Status.BLOCKED):
        text = f"{status.value}: {text}"
    if result.spec.severity is Severity.OPTIONAL:
        text = f"optional: {text}"
    return text


def _title(result: Result) -> str:
    return f"envdoctor {result.spec.id}"


def _finding_text(finding: Finding, with_source: bool = True) -> str:
    details = []
    if finding.expected:
        details.append(f"expected {finding.expected}")
    if finding.found:
        details.append(f"found {finding.found}")
    if with_source and finding.source:
        details.append(finding.source)
    text = f"{finding.subject}: {finding.message}"
    return text + (f" ({'; '.join(details)})" if details else "")


def _path(path: str) -> str | None:
    """A repository path for `file=`: forward slashes; None for a place that is not a file."""
    if not path or path.startswith(("<", "(")):
        return None
    return path.replace("\\", "/")


def _summary(report: Report, options: RenderOptions) -> str:
    """The closing plain line (not a command): the same verdict line as the console report."""
    from envdoctor.reporters import RenderOptions as Options
    from envdoctor.reporters.console import Style, summary

    style = Style(Options(color=False, unicode=options.unicode))
    return "envdoctor: " + summary(report, style)
