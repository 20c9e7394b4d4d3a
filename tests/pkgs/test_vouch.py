"""Who vouches for a distribution named like a missing module: the project, or an installed
distribution. Anything else (a bare import name) vouches for nothing."""

from __future__ import annotations

from pathlib import Path

from envdoctor.pkgs.environment import Dist, Environment
from envdoctor.pkgs.vouch import declared, required_by_installed
from envdoctor.target import TargetInfo


def test_declared_reads_requirements_files_and_pyproject_and_passes_over_bad_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.txt").write_text("Requests[socks]>=2\n")
    (tmp_path / "requirements-broken.txt").write_text("unknown>=1\n-c nope.txt\nthis is ( bad\n")
    (tmp_path / "requirements-urls.txt").write_text("six @ https://example.invalid/six.whl\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["attrs"]\n'
        '[dependency-groups]\nlint = ["ruff==0.6"]\n'
    )
    found = declared(tmp_path, ["requests", "attrs", "ruff", "six", "unknown"])
    assert {name: (p.dist, p.source, p.required_by) for name, p in found.items()} == {
        "attrs": ("attrs", "declared", "pyproject.toml:4"),
        "ruff": ("ruff==0.6", "declared", "pyproject.toml:6"),
        "requests": ("requests>=2", "declared", "requirements/dev.txt:1"),
    }


def test_required_by_installed_takes_base_requirements_only() -> None:
    info = TargetInfo("/v/bin/python", "3.12.1", (3, 12, 1), "CPython", "/v", "/usr")
    requests = Dist(
        "requests",
        "requests",
        "2.31.0",
        ("idna (<4,>=2.5)", "charset_normalizer<4,>=2", "PySocks!=1.5.7; extra=='socks'"),
        ("socks",),
        "/v/site",
    )
    env = Environment(info, ["/v/site"], {"requests": requests})
    found = required_by_installed(env, ["idna", "charset-normalizer", "pysocks"])
    assert {name: (p.dist, p.required_by) for name, p in found.items()} == {
        "idna": ("idna<4,>=2.5", "requests 2.31.0"),
        "charset-normalizer": ("charset_normalizer<4,>=2", "requests 2.31.0"),
    }
