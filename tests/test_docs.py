"""The reference docs and the README tell the truth about the kinds that exist."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO
from envdoctor.kinds import all_kinds


def test_kinds_reference_is_generated_from_the_option_definitions() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_reference_lists_every_option_of_every_kind() -> None:
    text = (REPO / "docs" / "kinds.md").read_text(encoding="utf-8")
    for kind in all_kinds():
        section = text.split(f"\n## {kind.name}\n", 1)[1].split("\n## ", 1)[0]
        for option in kind.options:
            assert f"| `{option.name}` |" in section, (kind.name, option.name)


def test_readme_kinds_table_names_every_kind() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[`([a-z_]+)`\]\(docs/kinds\.md#", readme, flags=re.M))
    assert listed == {kind.name for kind in all_kinds()}


def test_readme_links_resolve() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(((?:docs|benchmarks|checks)/[^)#]+)", readme):
        assert (REPO / target).exists(), target


def test_readme_shows_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "pip install . && envdoctor check" in readme
    assert "scripts/test" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] == "exec scripts/test"


def test_readme_check_module_example_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The module the README shows is valid: `envdoctor list` accepts it as written."""
    from conftest import run_cli

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A check module", 1)[1]
    module = section.split("```toml", 1)[1].split("```", 1)[0]
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "dev.toml").write_text(module, encoding="utf-8")
    result = run_cli("list", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [
        "python",
        "packages",
        "imports",
        "settings",
        "db",
        "migrations",
    ]
