"""`envdoctor explain ID`: one check with everything it tried, saw and concluded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from envdoctor.model import Report, Result
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.console import Style, check_lines, header

if TYPE_CHECKING:
    from envdoctor.config import Config


def render_explain(
    report: Report, result: Result, cfg: Config, *, color: bool, unicode: bool
) -> str:
    style = Style(RenderOptions(color=color, unicode=unicode, verbose=True))
    spec = result.spec
    lines = [header(report, style), ""]
    lines.append(
        style.paint(f"check {spec.id}", "bold")
        + f"{style.dot}kind {spec.kind}{style.dot}{spec.severity.value}{style.dot}{spec.source}"
    )
    if spec.depends_on:
        lines.append(f"  depends on {', '.join(spec.depends_on)} (not run by explain)")
    if spec.variables:
        lines.append(f"  variables read: {', '.join(spec.variables)} (values not shown)")
    if spec.options:
        lines.append("  options:")
        for name, value in spec.options.items():
            lines.append(f"    {name} = {_redacted_value(value, cfg)}")
    lines.append("")
    lines.append(style.paint("evidence", "bold"))
    lines += [f"  {item}" for item in result.evidence] or ["  (none recorded)"]
    lines.append("")
    lines.append(style.paint("result", "bold"))
    without_evidence = Result(**{**result.__dict__, "evidence": []})
    lines += check_lines(without_evidence, style, max(15, len(spec.display_title)), style.options)
    lines.append(f"  status {result.status.value} in {result.duration_ms:.1f} ms")
    return "\n".join(lines) + "\n"


def _redacted_value(value: object, cfg: Config) -> str:
    return cfg.redactor()(repr(value)) or ""
