"""Line numbers as editors and tomllib count them, for every `file:line` envdoctor prints."""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """Only \\n, \\r\\n and \\r end a line (not U+2028, form feed, … as str.splitlines says)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines
