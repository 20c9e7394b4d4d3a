"""Requirements vs installed, and installed vs itself, on constructed data.

`Req`, `Dist` and `Environment` are plain data, so every rule of evaluate.py is proven here
without a venv: markers for a target whose Python is not ours, constraints, pre-releases,
URLs, extras walked transitively, and the `pip check`-style consistency pass.
"""

from __future__ import annotations

import platform
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor.model import Finding, Status
from envdoctor.pkgs.environment import Dist, Environment
from envdoctor.pkgs.evaluate import (
    broken_metadata,
    check_consistency,
    check_requirements,
    consistency,
    display_command,
    evaluate,
    externally_managed,
    install_command,
    merge_install,
    uv_fallback,
    venv_command,
)
from envdoctor.pkgs.requirements import Req
from envdoctor.target import TargetInfo


def target(version: str = "3.10.13", platform_system: str = "Linux") -> TargetInfo:
    """A target interpreter's description, as the inspection reports it."""
    major_minor = ".".join(version.split(".")[:2])
    markers = {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_release": "6.1.0",
        "platform_system": platform_system,
        "platform_version": "#1 SMP",
        "python_full_version": version,
        "platform_python_implementation": "CPython",
        "python_version": major_minor,
        "sys_platform": "linux" if platform_system == "Linux" else "win32",
    }
    parts = tuple(int(p) for p in version.split("."))
    return TargetInfo(
        executable="/venv/bin/python",
        version=version,
        version_info=parts,  # type: ignore[arg-type]
        implementation="CPython",
        prefix="/venv",
        base_prefix="/usr",
        markers=markers,
    )


def dist(
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    extras: tuple[str, ...] = (),
    display: str | None = None,
) -> Dist:
    return Dist(
        name=name,
        display_name=display or name,
        version=version,
        requires=requires,
        provides_extras=extras,
        location="/venv/lib/python3.10/site-packages",
    )


def env_of(*dists: Dist, info: TargetInfo | None = None) -> Environment:
    return Environment(
        info=info or target(),
        site_dirs=["/venv/lib/python3.10/site-packages"],
        distributions={d.name: d for d in dists},
    )


def req(
    name: str,
    specifier: str = "",
    *,
    source: str = "requirements.txt:1",
    extras: tuple[str, ...] = (),
    marker: str | None = None,
    url: str | None = None,
    editable: bool = False,
    constraint: bool = False,
    unverified: str | None = None,
    text: str | None = None,
) -> Req:
    written = text or name + (f"[{','.join(extras)}]" if extras else "") + specifier
    if marker and not text:
        written += f"; {marker}"
    return Req(
        name=name,
        text=written,
        specifier=specifier,
        extras=extras,
        marker=marker,
        url=url,
        editable=editable,
        source=source,
        constraint=constraint,
        unverified=unverified,
    )


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


# -- installed or not, and at which version --------------------------------------------------


def test_a_satisfied_requirement_has_no_finding_but_a_pass_when_asked() -> None:
    env = env_of(dist("pydantic", "1.10.13"))
    reqs = [req("pydantic", "<2", source="requirements.txt:4")]
    assert evaluate(reqs, env) == []
    passed = only(evaluate(reqs, env, passes=True))
    assert passed.status is Status.PASS
    assert passed.subject == "pydantic"
    assert passed.message == "1.10.13 installed satisfies <2"
    assert (passed.expected, passed.found, passed.source) == ("<2", "1.10.13", "requirements.txt:4")


def test_a_missing_distribution_fails_with_what_was_expected_and_a_fix() -> None:
    finding = only(evaluate([req("hvac", ">=1.0", source="requirements.txt:12")], env_of()))
    assert finding.status is Status.FAIL
    assert finding.subject == "hvac"
    assert finding.message == "not installed"
    assert finding.expected == ">=1.0"
    assert finding.found is None
    assert finding.source == "requirements.txt:12"
    assert finding.fix == "'hvac>=1.0'"


def test_a_missing_distribution_without_specifier_expects_any_version() -> None:
    finding = only(evaluate([req("six")], env_of()))
    assert finding.expected == "any version"
    assert finding.fix == "six"


def test_a_wrong_version_names_the_source_and_the_wanted_specifier() -> None:
    env = env_of(dist("pydantic", "2.7.1"))
    finding = only(evaluate([req("pydantic", "<2", source="requirements.txt:4")], env))
    assert finding.status is Status.FAIL
    assert finding.message == "2.7.1 installed, requirements.txt:4 wants <2"
    assert (finding.expected, finding.found) == ("<2", "2.7.1")
    assert finding.fix == "'pydantic<2'"


def test_an_installed_prerelease_satisfies_a_specifier_it_matches() -> None:
    env = env_of(dist("black", "24.1.0b1"), dist("rich", "14.0.0rc2"))
    assert evaluate([req("black", ">=23"), req("rich", ">=13,<15")], env) == []


def test_a_prerelease_of_an_excluded_version_still_fails() -> None:
    env = env_of(dist("foo", "2.0rc1"))
    finding = only(evaluate([req("foo", "<2")], env))
    assert finding.message == "2.0rc1 installed, requirements.txt:1 wants <2"


def test_a_version_that_is_not_pep440_is_a_warning_not_a_guess() -> None:
    env = env_of(dist("oldpkg", "1.0-custom build"))
    finding = only(evaluate([req("oldpkg", ">=1")], env))
    assert finding.status is Status.WARN
    assert "not a PEP 440 version" in finding.message
    assert evaluate([req("oldpkg")], env) == []


# -- markers are evaluated for the target ----------------------------------------------------


def test_markers_are_evaluated_for_the_target_not_for_envdoctor() -> None:
    backport = req("tomli", ">=2", marker='python_version < "3.11"')
    ours = tuple(int(p) for p in platform.python_version_tuple()[:2])
    assert ours >= (3, 11), "this test proves the target wins: it needs envdoctor on >= 3.11"
    on_310 = evaluate([backport], env_of(info=target("3.10.13")))
    assert only(on_310).message == "not installed"
    assert evaluate([backport], env_of(info=target("3.12.1"))) == []


def test_a_false_marker_is_reported_as_a_pass_only_when_passes_are_asked() -> None:
    windows_only = req("pywin32", marker='sys_platform == "win32"')
    env = env_of(info=target(platform_system="Linux"))
    assert evaluate([windows_only], env) == []
    finding = only(evaluate([windows_only], env, passes=True))
    assert finding.status is Status.PASS
    assert "marker false" in finding.message
    assert only(evaluate([windows_only], env_of(info=target(platform_system="Windows"))))


def test_the_same_name_twice_with_exclusive_markers_counts_only_the_applicable_one() -> None:
    # celery's requirements/pydantic.txt style: one spec per Python range.
    reqs = [
        req("pydantic", ">=2.4", marker='python_version >= "3.11"', source="pydantic.txt:1"),
        req("pydantic", "<2", marker='python_version < "3.11"', source="pydantic.txt:2"),
    ]
    env = env_of(dist("pydantic", "1.10.13"), info=target("3.10.13"))
    evaluation = check_requirements(reqs, env)
    assert evaluation.findings == []
    assert evaluation.applicable == 1
    on_312 = env_of(dist("pydantic", "1.10.13"), info=target("3.12.1"))
    finding = only(evaluate(reqs, on_312))
    assert finding.message == "1.10.13 installed, pydantic.txt:1 wants >=2.4"


def test_a_marker_that_cannot_be_evaluated_is_an_error_finding() -> None:
    odd = req("foo", marker='python_version ~= "three"')
    finding = only(evaluate([odd], env_of()))
    assert finding.status is Status.ERROR
    assert "cannot evaluate the marker" in finding.message


# -- lines that cannot be verified -----------------------------------------------------------


def test_an_unverified_line_is_a_skip_finding() -> None:
    line = req(
        "",
        url="./lib",
        editable=True,
        unverified="editable install whose name is unknown",
        text="-e ./lib",
        source="requirements.txt:7",
    )
    evaluation = check_requirements([line], env_of())
    finding = only(evaluation.findings)
    assert finding.status is Status.SKIP
    assert finding.message == "not verified: editable install whose name is unknown"
    assert finding.subject == "-e ./lib"
    assert (evaluation.applicable, evaluation.unmet, evaluation.unverified) == (0, 0, 1)


def test_an_unverified_line_whose_marker_is_false_is_not_mentioned() -> None:
    line = req("", marker='sys_platform == "win32"', unverified="no name", text="-e ./win")
    assert evaluate([line], env_of()) == []


def test_an_editable_with_a_known_name_is_checked_and_fixed_with_e() -> None:
    line = req("mylib", url="./lib", editable=True, text="-e ./lib")
    finding = only(evaluate([line], env_of()))
    assert finding.message == "not installed"
    assert finding.fix == "-e ./lib"
    assert evaluate([line], env_of(dist("mylib", "0.1.0"))) == []


# -- constraints -----------------------------------------------------------------------------


def test_a_constraint_limits_the_version_of_a_requirement_of_the_same_name() -> None:
    reqs = [
        req("foo", source="requirements.txt:2"),
        req("foo", "<2", constraint=True, source="constraints.txt:5"),
    ]
    finding = only(evaluate(reqs, env_of(dist("foo", "2.1"))))
    assert finding.status is Status.FAIL
    assert finding.message == "2.1 installed, constraint constraints.txt:5 wants <2"
    assert finding.source == "constraints.txt:5"
    assert (finding.expected, finding.found) == ("<2", "2.1")
    assert finding.fix == "'foo<2'"
    assert evaluate(reqs, env_of(dist("foo", "1.9"))) == []


def test_a_constraint_alone_never_requires_anything() -> None:
    reqs = [req("bar", "==1.0", constraint=True), req("baz", constraint=True)]
    evaluation = check_requirements(reqs, env_of(dist("bar", "3.0")))
    assert evaluation.findings == []
    assert evaluation.applicable == 0


def test_a_missing_requirement_is_fixed_within_its_constraint() -> None:
    reqs = [req("foo", ">=1"), req("foo", "<2", constraint=True, source="c.txt:1")]
    finding = only(evaluate(reqs, env_of()))
    assert finding.expected == "<2,>=1"
    assert finding.fix == "'foo<2,>=1'"


def test_a_constraint_whose_marker_is_false_does_not_apply() -> None:
    reqs = [req("foo"), req("foo", "<2", constraint=True, marker='python_version < "3.8"')]
    assert evaluate(reqs, env_of(dist("foo", "2.1"))) == []


def test_both_the_requirement_and_the_constraint_are_cited_when_both_fail() -> None:
    reqs = [
        req("foo", "<1.5", source="requirements.txt:1"),
        req("foo", "<2", constraint=True, source="constraints.txt:1"),
    ]
    finding = only(evaluate(reqs, env_of(dist("foo", "2.1"))))
    assert finding.message == (
        "2.1 installed, requirements.txt:1 wants <1.5; constraint constraints.txt:1 wants <2"
    )


# -- URL and VCS requirements ----------------------------------------------------------------


def test_a_url_requirement_is_satisfied_by_the_name_being_installed() -> None:
    line = req(
        "pip-tools",
        url="git+https://github.com/jazzband/pip-tools@7.4.1",
        text="pip-tools @ git+https://github.com/jazzband/pip-tools@7.4.1",
    )
    env = env_of(dist("pip-tools", "6.0.0"))
    assert evaluate([line], env) == []
    passed = only(evaluate([line], env, passes=True))
    assert "the URL is not compared" in passed.message


def test_a_missing_url_requirement_is_fixed_with_the_url_as_written() -> None:
    text = "pip-tools @ git+https://github.com/jazzband/pip-tools@7.4.1"
    line = req("pip-tools", url="git+https://github.com/jazzband/pip-tools@7.4.1", text=text)
    finding = only(evaluate([line], env_of()))
    assert finding.message == "not installed"
    assert shlex.split(finding.fix or "") == [text]


# -- extras, transitively --------------------------------------------------------------------

UVICORN = dist(
    "uvicorn",
    "0.29.0",
    requires=(
        "click>=7.0",
        "h11>=0.8",
        'colorama>=0.4; sys_platform == "win32" and extra == "standard"',
        'httptools>=0.5.0; extra == "standard"',
        'uvloop!=0.15.0,!=0.15.1,>=0.14.0; (sys_platform != "win32" and '
        'sys_platform != "cygwin") and platform_python_implementation != "PyPy" and '
        'extra == "standard"',
        'websockets>=10.4; extra == "standard"',
    ),
    extras=("standard",),
)


def test_an_extra_the_distribution_does_not_declare_warns_like_pip() -> None:
    env = env_of(replace(UVICORN, provides_extras=()), dist("click", "8.1.7"))
    line = req("uvicorn", extras=("fast",), source="requirements.txt:3")
    evaluation = check_requirements([line], env)
    finding = only(evaluation.findings)
    # pip only warns ("does not provide the extra") and installs the rest
    assert finding.status is Status.WARN
    assert (evaluation.applicable, evaluation.unmet) == (1, 0)
    assert finding.subject == "uvicorn"
    assert finding.message == "uvicorn 0.29.0 has no extra 'fast'"
    assert finding.source == "requirements.txt:3"


def test_an_extras_missing_requirements_are_each_a_finding_naming_the_chain() -> None:
    env = env_of(UVICORN, dist("click", "8.1.7"), dist("h11", "0.14.0"))
    line = req("uvicorn", extras=("standard",), source="requirements.txt:3")
    evaluation = check_requirements([line], env)
    by_subject = {f.subject: f for f in evaluation.findings}
    # colorama is Windows-only: its marker is false for this Linux target.
    assert sorted(by_subject) == ["httptools", "uvloop", "websockets"]
    httptools = by_subject["httptools"]
    assert httptools.message == "not installed (needed by uvicorn[standard], requirements.txt:3)"
    assert (httptools.expected, httptools.found) == (">=0.5.0", None)
    assert httptools.source == "requirements.txt:3"
    assert httptools.fix == "'httptools>=0.5.0'"
    assert (evaluation.applicable, evaluation.unmet) == (1, 1)


def test_an_extras_requirement_at_a_wrong_version_fails() -> None:
    env = env_of(
        UVICORN,
        dist("httptools", "0.4.0"),
        dist("uvloop", "0.19.0"),
        dist("websockets", "12.0"),
    )
    line = req("uvicorn", extras=("standard",), source="requirements.txt:3")
    finding = only(evaluate([line], env))
    assert finding.subject == "httptools"
    assert finding.message == (
        "0.4.0 installed, >=0.5.0 wanted (needed by uvicorn[standard], requirements.txt:3)"
    )
    assert (finding.expected, finding.found) == (">=0.5.0", "0.4.0")


def test_base_requirements_are_not_part_of_the_extras_check() -> None:
    # click and h11 are missing, but they are base requirements: consistency reports them.
    env = env_of(
        UVICORN, dist("httptools", "0.6.1"), dist("uvloop", "0.19.0"), dist("websockets", "12.0")
    )
    assert evaluate([req("uvicorn", extras=("standard",))], env) == []
    assert {f.subject for f in consistency(env)} == {"click", "h11"}


def test_extras_are_followed_transitively_through_their_own_extras() -> None:
    app = dist("app", "1.0", requires=('lib[fast]>=1; extra == "all"',), extras=("all",))
    lib = dist("lib", "1.2", requires=('speedup; extra == "fast"',), extras=("fast",))
    env = env_of(app, lib)
    finding = only(evaluate([req("app", extras=("all",), source="req.txt:9")], env))
    assert finding.subject == "speedup"
    assert finding.message == "not installed (needed by lib[fast] via app[all], req.txt:9)"


def test_an_extra_that_names_an_undeclared_extra_of_a_dependency_fails() -> None:
    app = dist("app", "1.0", requires=('lib[turbo]; extra == "all"',), extras=("all",))
    env = env_of(app, dist("lib", "1.2"))
    finding = only(evaluate([req("app", extras=("all",))], env))
    assert finding.subject == "lib"
    assert finding.message == "lib 1.2 has no extra 'turbo' (needed by app[all])"


def test_self_referencing_extras_terminate() -> None:
    # apache-airflow style: `all` pulls in the package's own other extras, which loop back.
    pkg = dist(
        "pkg",
        "1.0",
        requires=(
            'pkg[b]; extra == "a"',
            'pkg[a]; extra == "b"',
            'leaf; extra == "b"',
        ),
        extras=("a", "b"),
    )
    finding = only(evaluate([req("pkg", extras=("a",))], env_of(pkg)))
    assert finding.subject == "leaf"
    assert finding.message == "not installed (needed by pkg[b] via pkg[a], requirements.txt:1)"


def test_an_extra_named_only_in_markers_of_old_metadata_is_declared() -> None:
    # Metadata 1.x / egg-info often lacks Provides-Extra; the markers still name the extra.
    old = dist("old", "1.0", requires=('pywin32; sys_platform == "win32" and extra == "win"',))
    assert evaluate([req("old", extras=("win",))], env_of(old)) == []


# -- counts ---------------------------------------------------------------------------------


def test_counts_say_how_many_applicable_requirements_are_not_met() -> None:
    reqs = [
        req("a"),
        req("b", ">=2"),
        req("c"),
        req("d", marker='python_version < "3"'),
        req("e", constraint=True),
    ]
    env = env_of(dist("a", "1"), dist("b", "1"))
    evaluation = check_requirements(reqs, env)
    assert (evaluation.listed, evaluation.applicable, evaluation.unmet) == (4, 3, 2)
    assert [tuple(i) for i in evaluation.install] == [("b>=2",), ("c",)]


# -- consistency (pip check) -----------------------------------------------------------------

REQUESTS = dist(
    "requests",
    "2.31.0",
    requires=(
        "charset-normalizer<4,>=2",
        "idna<4,>=2.5",
        "urllib3<3,>=1.21.1",
        "certifi>=2017.4.17",
        'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
        'chardet<6,>=3.0.2; extra == "use-chardet-on-py3"',
    ),
    extras=("socks", "use-chardet-on-py3"),
)
REQUESTS_DEPS = (
    dist("charset-normalizer", "3.3.2"),
    dist("idna", "3.6"),
    dist("certifi", "2024.2.2"),
)


def test_a_consistent_environment_has_no_findings() -> None:
    env = env_of(REQUESTS, *REQUESTS_DEPS, dist("urllib3", "2.2.1"))
    evaluation = check_consistency(env)
    assert evaluation.findings == []
    assert evaluation.applicable == 4


def test_a_missing_dependency_names_the_distribution_that_needs_it() -> None:
    env = env_of(REQUESTS, *REQUESTS_DEPS)
    finding = only(consistency(env))
    assert finding.status is Status.FAIL
    assert finding.subject == "urllib3"
    assert finding.message == "needed by requests 2.31.0: urllib3<3,>=1.21.1, not installed"
    assert (finding.expected, finding.found) == ("<3,>=1.21.1", None)
    assert finding.fix == "'urllib3<3,>=1.21.1'"


def test_a_dependency_at_a_wrong_version_is_a_consistency_problem() -> None:
    env = env_of(REQUESTS, *REQUESTS_DEPS, dist("urllib3", "3.0.0"))
    finding = only(consistency(env))
    assert finding.message == "needed by requests 2.31.0: urllib3<3,>=1.21.1, 3.0.0 installed"
    assert finding.found == "3.0.0"


def test_consistency_uses_the_display_name_of_the_needing_distribution() -> None:
    needer = dist("pyyaml-include", "1.0", requires=("PyYAML>=6",), display="PyYAML-Include")
    finding = only(consistency(env_of(needer)))
    assert finding.subject == "pyyaml"
    assert finding.message == "needed by PyYAML-Include 1.0: PyYAML>=6, not installed"


def test_consistency_ignores_extra_only_requirements_and_false_markers() -> None:
    pkg = dist(
        "pkg",
        "1.0",
        requires=(
            'tomli>=1; python_version < "3.11"',
            'pywin32; sys_platform == "win32"',
            'pytest; extra == "test"',
            "sphinx ; extra=='docs'",
        ),
    )
    assert consistency(env_of(pkg, info=target("3.12.1"))) == []
    finding = only(consistency(env_of(pkg, info=target("3.10.13"))))
    assert finding.subject == "tomli"


def test_consistency_checks_the_extras_a_dependency_is_required_with() -> None:
    # pip check does not: httpx[http2] required, h2 missing.
    httpx = dist(
        "httpx",
        "0.27.0",
        requires=('h2<5,>=3; extra == "http2"',),
        extras=("http2",),
    )
    app = dist("app", "1.0", requires=("httpx[http2]>=0.27",))
    finding = only(consistency(env_of(app, httpx)))
    assert finding.subject == "h2"
    assert finding.message == "needed by httpx[http2] via app 1.0: h2<5,>=3, not installed"


def test_consistency_skips_requires_dist_lines_that_are_not_pep508() -> None:
    broken = dist("broken", "1.0", requires=("this is ( not a requirement",))
    assert consistency(env_of(broken)) == []


def test_a_prerelease_dependency_satisfies_consistency_when_it_matches() -> None:
    env = env_of(REQUESTS, *REQUESTS_DEPS, dist("urllib3", "2.3.0rc1"))
    assert consistency(env) == []


# -- the install command ---------------------------------------------------------------------


def test_install_command_uses_the_target_python_and_pip(tmp_path: Path) -> None:
    argv = install_command("/p/.venv/bin/python", ["hvac>=1.0", "pydantic<2"], tmp_path)
    assert argv == ["/p/.venv/bin/python", "-m", "pip", "install", "hvac>=1.0", "pydantic<2"]
    assert display_command(argv) == "/p/.venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'"


def fake_uv(directory: Path) -> str:
    """A directory holding an executable named uv (only looked up, never run)."""
    directory.mkdir(exist_ok=True)
    uv = directory / "uv"
    uv.write_text("#!/bin/sh\nexit 0\n")
    uv.chmod(0o755)
    return str(directory)


def test_install_command_uses_uv_when_the_project_has_a_uv_lock(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    path = fake_uv(tmp_path / "bin")
    argv = install_command("/p/.venv/bin/python", ["six"], tmp_path, path=path)
    assert argv == ["uv", "pip", "install", "--python", "/p/.venv/bin/python", "six"]
    assert uv_fallback(tmp_path, path) is False


def test_install_command_falls_back_to_pip_when_uv_is_not_on_path(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    (tmp_path / "empty").mkdir()
    argv = install_command("/p/.venv/bin/python", ["six"], tmp_path, path=str(tmp_path / "empty"))
    assert argv == ["/p/.venv/bin/python", "-m", "pip", "install", "six"]
    assert uv_fallback(tmp_path, str(tmp_path / "empty")) is True
    assert uv_fallback(tmp_path / "empty") is None  # no uv.lock: not a uv project


def test_merge_install_joins_the_same_name_and_keeps_urls_and_editables() -> None:
    merged = merge_install(
        [
            ("urllib3<3",),
            ("hvac>=1.0",),
            ("urllib3>=1.21.1",),
            ("requests[socks]",),
            ("Requests[use-chardet-on-py3]>=2",),
            ("-e", "./lib"),
            ("pkg @ https://example.com/pkg.whl",),
            ("-e", "./lib"),
        ]
    )
    assert merged == [
        "urllib3<3,>=1.21.1",
        "hvac>=1.0",
        "requests[socks,use-chardet-on-py3]>=2",
        "-e",
        "./lib",
        "pkg @ https://example.com/pkg.whl",
    ]


@pytest.mark.parametrize("version", ["3.10.13", "3.12.1"])
def test_evaluate_and_consistency_agree_on_a_healthy_environment(version: str) -> None:
    env = env_of(REQUESTS, *REQUESTS_DEPS, dist("urllib3", "2.2.1"), info=target(version))
    reqs = [req("requests", "==2.31.0"), req("idna", ">=3"), req("urllib3", "<3")]
    assert evaluate(reqs, env) == []
    assert consistency(env) == []
    assert len(evaluate(reqs, env, passes=True)) == 3


# -- local paths, broken installs, externally managed targets ---------------------------------


def test_local_paths_are_installed_by_absolute_path_with_their_extras(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    reqs = [
        replace(req("mylib", extras=("test",), editable=True, url="."), path=str(lib)),
        replace(req("wheel-pkg", url="./dist/w.whl", text="./dist/w.whl"), path="/p/dist/w.whl"),
    ]
    evaluation = check_requirements(reqs, env_of())
    assert [p.install for p in evaluation.problems] == [
        ("-e", f"{lib}[test]"),
        ("/p/dist/w.whl",),
    ]
    assert evaluation.problems[0].finding.fix == shlex.join(["-e", f"{lib}[test]"])


def test_the_same_local_package_listed_twice_is_one_finding(tmp_path: Path) -> None:
    lib = str(tmp_path)
    reqs = [
        replace(req("mylib", editable=True, url="./lib", source="a.txt:1"), path=lib),
        replace(req("mylib", url="./lib", text="./lib", source="b.txt:4"), path=lib),
    ]
    evaluation = check_requirements(reqs, env_of())
    assert [p.finding.source for p in evaluation.problems] == ["a.txt:1"]
    assert (evaluation.listed, evaluation.applicable, evaluation.unmet) == (1, 1, 1)
    assert merge_install(evaluation.install) == ["-e", lib]


def test_an_editable_path_that_is_not_a_directory_is_an_error_at_its_line(
    tmp_path: Path,
) -> None:
    line = replace(
        req("", editable=True, url="./nonexistent", text="./nonexistent", unverified="x"),
        path=str(tmp_path / "nonexistent"),
        source="requirements.txt:7",
    )
    evaluation = check_requirements([line], env_of())
    finding = only(evaluation.findings)
    assert finding.status is Status.ERROR
    assert finding.source == "requirements.txt:7"
    assert finding.message == (
        "-e ./nonexistent: ./nonexistent is not a directory (pip refuses it: "
        "not a valid editable requirement)"
    )
    assert evaluation.unverified == 0


def test_a_distribution_whose_metadata_was_skipped_is_installed_but_broken() -> None:
    site = "/venv/lib/python3.10/site-packages"
    env = env_of(dist("six", "1.16.0"))
    env.notes += [
        f"{site}/idna-3.6.dist-info: skipped (no METADATA)",
        f"{site}/six-1.0.dist-info: skipped (no METADATA)",  # shadowed by a good six: ignored
        f"{site}: not readable (Permission denied)",
    ]
    assert broken_metadata(env) == {"idna": (f"{site}/idna-3.6.dist-info", "no METADATA")}
    evaluation = check_requirements([req("idna", ">=3"), req("six")], env)
    (problem,) = evaluation.problems
    assert problem.finding.message == (
        f"installed but its metadata is broken (no METADATA: {site}/idna-3.6.dist-info)"
    )
    assert problem.reinstall
    assert problem.install == ("idna>=3",)
    assert problem.finding.fix == "'idna>=3' --force-reinstall --no-deps"


def test_an_externally_managed_target_that_is_not_a_venv(tmp_path: Path) -> None:
    stdlib = tmp_path / "lib" / "python3.11"
    stdlib.mkdir(parents=True)
    system = replace(target(), prefix="/usr", base_prefix="/usr", stdlib=str(stdlib))
    assert not externally_managed(system)
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")
    assert externally_managed(system)
    assert not externally_managed(replace(system, prefix="/venv"))  # a venv is never managed
    project = tmp_path / "proj"
    assert venv_command("/usr/bin/python3", ["six", "idna>=3"], project) == (
        f"/usr/bin/python3 -m venv {project}/.venv && "
        f"{project}/.venv/bin/python -m pip install six 'idna>=3'"
    )


# -- copies pip cannot replace --------------------------------------------------------------

SITE = "/venv/lib/python3.10/site-packages"


def ahead_env(location: str) -> Environment:
    """six 1.15.0 found in `location`, ahead of the venv's own site-packages holding 1.16.0."""
    info = replace(target(), sys_path=("/usr/lib/python310.zip", location, SITE))
    found = replace(dist("six", "1.15.0"), location=location)
    hidden = dist("six", "1.16.0")
    env = env_of(found, info=info)
    env.shadowed = [hidden]
    return env


def test_a_wrong_version_on_pythonpath_says_so_and_offers_no_install(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """pip would install 1.16.0 behind the PYTHONPATH copy and change nothing: the fix is
    to take that directory off PYTHONPATH, and nothing is left for `fix --apply` to loop on."""
    monkeypatch.setenv("PYTHONPATH", "/work/extra")
    evaluation = check_requirements([req("six", "==1.16.0")], ahead_env("/work/extra"))
    problem = evaluation.problems[0]
    assert problem.finding.message == (
        f"1.15.0 installed, requirements.txt:1 wants ==1.16.0; Python finds it in /work/extra, "
        f"ahead of {SITE} (which holds 1.16.0)"
    )
    assert problem.finding.fix == "take /work/extra out of PYTHONPATH (or fix the versions there)"
    assert problem.install == ()


def test_a_wrong_version_in_a_directory_ahead_of_site_packages_names_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PYTHONPATH", raising=False)
    env = ahead_env("/home/me/.local/lib/python3.10/site-packages")
    env.distributions["requests"] = dist("requests", "2.31.0", requires=("six>=1.16",))
    problem = check_consistency(env).problems[0]
    assert problem.finding.subject == "six"
    assert "Python finds it in /home/me/.local/lib/python3.10/site-packages" in (
        problem.finding.message
    )
    assert problem.finding.fix == (
        f"remove six 1.15.0 from /home/me/.local/lib/python3.10/site-packages (pip installs "
        f"into {SITE}, which Python searches later)"
    )
    assert problem.install == ()


def test_a_wrong_version_in_site_packages_itself_is_installed_as_usual() -> None:
    info = replace(target(), sys_path=(SITE, "/opt/later"))
    env = env_of(dist("six", "1.15.0"), info=info)
    problem = check_requirements([req("six", "==1.16.0")], env).problems[0]
    assert problem.install == ("six==1.16.0",)
    assert "Python finds it" not in problem.finding.message


def test_two_metadata_directories_of_one_name_are_a_warning_with_a_fix() -> None:
    used = replace(dist("six", "1.16.0"), path=f"{SITE}/six-1.16.0.dist-info")
    stale = replace(dist("six", "1.10.0"), path=f"{SITE}/six-1.10.0.dist-info")
    env = env_of(used)
    env.shadowed = [stale]
    finding = only(consistency(env))
    assert finding.status is Status.WARN
    assert finding.message == (
        f"two metadata directories in {SITE}: six-1.16.0.dist-info (the one Python reads) "
        "and six-1.10.0.dist-info"
    )
    assert (finding.expected, finding.found) == ("one installed version", "1.16.0 and 1.10.0")
    assert finding.fix == (
        f"rm -r {SITE}/six-1.10.0.dist-info && /venv/bin/python -m pip install "
        "--force-reinstall --no-deps six==1.16.0"
    )
