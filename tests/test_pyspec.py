"""Python-version specifiers without packaging: for everything pyspec answers, packaging
(the reference) answers the same; everything else is left to packaging (None)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from envdoctor import pyspec

OPS = ["==", "!=", "<=", ">=", "<", ">", "~="]
release = st.lists(st.integers(0, 20), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)
clause = st.tuples(st.sampled_from(OPS), release, st.booleans()).map(
    lambda t: f"{t[0]}{t[1]}{'.*' if t[2] else ''}"
)
spec = st.lists(clause, min_size=1, max_size=3).map(",".join)


@settings(max_examples=1500, deadline=None)
@given(spec, release)
def test_agrees_with_packaging_wherever_it_answers(text: str, version: str) -> None:
    mine = pyspec.contains(text, version)
    try:
        reference = SpecifierSet(text)
    except InvalidSpecifier:
        assert mine is None  # packaging rejects it: pyspec must not judge it
        return
    if mine is not None:
        assert mine == reference.contains(Version(version), prereleases=True), (text, version)


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        (">=3.10", "3.11.7", True),
        (">=3.10,<3.12", "3.12.1", False),
        ("~=3.11", "3.13.0", True),
        ("~=3.11.2", "3.11.1", False),
        ("~=3.11.2", "3.12.0", False),
        ("==3.11.*", "3.11.7", True),
        ("!=3.11.*", "3.11.7", False),
        ("==3.11", "3.11.0", True),
        ("==3.11", "3.11.7", False),
        (">3.11", "3.11.0", False),
    ],
)
def test_the_usual_python_requirements(text: str, version: str, expected: bool) -> None:
    assert pyspec.contains(text, version) is expected
    assert SpecifierSet(text).contains(Version(version), prereleases=True) is expected


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (">=3.10", "3.13.0rc1"),  # a pre-release target: packaging decides
        (">= 3.10", "3.11.7"),  # spacing inside a clause
        ("===3.11.7", "3.11.7"),
        (">=3.10a1", "3.11.7"),
        ("~=3", "3.11.7"),  # invalid in PEP 440
        (">=3.*", "3.11.7"),  # invalid
        ("", "3.11.7"),
        ("python>=3", "3.11.7"),
    ],
)
def test_what_it_leaves_to_packaging(text: str, version: str) -> None:
    assert pyspec.contains(text, version) is None
