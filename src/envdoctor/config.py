"""Loading check modules: find them, parse them, validate every option, interpolate `${VAR}`.

All problems of one load are collected and raised together as `ConfigErrors` (exit 2, one line
each with `file:line`). An unset `${VAR}` is not a configuration error: it makes that one check
`error` at run time (`CheckSpec.problem`), as DESIGN.md §3 says.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.dotenv import read_dotenv
from envdoctor.errors import ConfigError, ConfigErrors, ProjectFileError, Source
from envdoctor.interpolate import Interpolator, MissingVariable, expand_dotenv
from envdoctor.kinds import KINDS, get_kind
from envdoctor.model import CheckSpec, Severity
from envdoctor.options import COMMON_OPTIONS, SETTINGS_OPTIONS, Option, did_you_mean
from envdoctor.redact import Redactor, is_secret_name, secret_values, url_passwords
from envdoctor.tomlfile import LocatedToml, TableLines, read_toml

DEFAULT_INCLUDE = ["checks/*.toml"]
_MODULE_KEYS = ("check",)


@dataclass
class Settings:
    include: list[str] = field(default_factory=lambda: list(DEFAULT_INCLUDE))
    timeout: float = 5.0
    min_score: int = 0
    dotenv: str | None = None


@dataclass
class Config:
    project: Path
    settings: Settings
    checks: list[CheckSpec]
    files: list[str]
    variables: dict[str, str] = field(repr=False, default_factory=dict)
    secrets: set[str] = field(repr=False, default_factory=set)

    def redactor(self) -> Redactor:
        """Masks URL passwords, secrets the checks read, and every secret-named variable: of
        the environment, of the settings' dotenv, and of the project's `.env` (the env kind
        reads it by default, and commands may print what it holds)."""
        secrets = self.secrets | secret_values(self.variables)
        dotenv = self.project / ".env"
        if not self.settings.dotenv and dotenv.is_file():
            with contextlib.suppress(ProjectFileError):
                secrets |= secret_values(read_dotenv(dotenv).values)
        return Redactor(secrets)


@dataclass
class _Loader:
    project: Path
    environ: Mapping[str, str]
    errors: list[ConfigError] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)
    dotenv_setting: str | None = None

    def _dotenv_hint(self, name: str) -> str:
        """When the project's `.env` sets the missing name but is not read for ${VAR}."""
        if self.dotenv_setting:
            return ""
        path = self.project / ".env"
        try:
            keys = read_dotenv(path).values if path.is_file() else {}
        except ProjectFileError:
            return ""
        if name not in keys:
            return ""
        return (
            ' (.env sets it, but ${...} reads only the environment: add dotenv = ".env" '
            "under [tool.envdoctor] in pyproject.toml, or export it)"
        )

    def error(self, message: str, source: Source) -> None:
        self.errors.append(ConfigError(message, source))

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.project.resolve()))
        except (ValueError, OSError):
            return str(path)

    def read(self, path: Path) -> LocatedToml | None:
        shown = self.display(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self.error("file not found", Source(shown))
            return None
        except OSError as exc:
            self.error(f"cannot read: {exc.strerror or exc}", Source(shown))
            return None
        try:
            return read_toml(shown, raw)
        except ConfigError as exc:
            self.errors.append(exc)
            return None

    # -- settings -------------------------------------------------------------------------

    def settings_from(self, table: Any, lines: TableLines, shown: str) -> Settings:
        settings = Settings()
        if not isinstance(table, dict):
            self.error("[tool.envdoctor] must be a table", Source(shown, lines.line))
            return settings
        known = {o.name: o for o in SETTINGS_OPTIONS}
        for key, value in table.items():
            if key == "check":
                continue
            where = Source(shown, lines.keys.get(key, lines.line))
            option = known.get(key)
            if option is None:
                hint = did_you_mean(key, [*known, "check"])
                self.error(f"unknown setting '{key}' in [tool.envdoctor]{hint}", where)
                continue
            try:
                setattr(settings, key, option.coerce(value))
            except ConfigError as exc:
                self.error(f"setting '{key}': {exc.message}", where)
        return settings

    # -- checks ---------------------------------------------------------------------------

    def module(self, doc: LocatedToml, shown: str, array_name: str, container: Any) -> None:
        entries = container.get("check", []) if isinstance(container, dict) else []
        located = doc.arrays.get(array_name, [])
        fallback = doc.tables.get(array_name.rpartition(".")[0], TableLines(1))
        if not isinstance(entries, list):
            line = (
                doc.tables[array_name].line
                if array_name in doc.tables
                else fallback.keys.get("check", fallback.line)
            )
            self.error(
                f"'{array_name}' must be an array of tables: write [[{array_name}]], not [{array_name}]",
                Source(shown, line),
            )
            return
        for index, entry in enumerate(entries):
            lines = (
                located[index]
                if index < len(located)
                else TableLines(fallback.keys.get("check", fallback.line))
            )
            self.check(entry, lines, shown)

    def check(self, entry: Any, lines: TableLines, shown: str) -> None:
        here = Source(shown, lines.line)
        if not isinstance(entry, dict):
            self.error("each check must be a table", here)
            return
        where = {key: Source(shown, lines.keys.get(key, lines.line)) for key in entry}
        raw_id = entry.get("id")
        label = f"check '{raw_id}'" if isinstance(raw_id, str) else "check"
        if "id" not in entry:
            self.error("check has no 'id'", here)
        if "kind" not in entry:
            self.error(f"{label} has no 'kind' (one of: {', '.join(KINDS)})", here)
            return
        kind_name = entry["kind"]
        if not isinstance(kind_name, str) or kind_name not in KINDS:
            hint = did_you_mean(kind_name, KINDS) if isinstance(kind_name, str) else ""
            self.error(f"unknown kind {kind_name!r}{hint}", where["kind"])
            return
        kind = get_kind(kind_name)
        kind_options = {o.name: o for o in kind.options}
        options: dict[str, Option] = {o.name: o for o in COMMON_OPTIONS}
        options.update(kind_options)
        interpolator = Interpolator(self.variables)
        values: dict[str, Any] = {}
        suggested: set[str] = set()
        problem: str | None = None
        from_env: set[str] = set()
        ok = True
        for key, raw in entry.items():
            option = options.get(key)
            if option is None:
                hint = did_you_mean(key, options)
                suggested.update(re.findall(r"'([^']+)'", hint))
                self.error(f"unknown option '{key}' for kind {kind_name}{hint}", where[key])
                ok = False
                continue
            value = raw
            if option.interpolate and _has_reference(raw):
                from_env.add(key)
                try:
                    value = interpolator.expand_value(raw)
                except MissingVariable as exc:
                    problem = problem or str(exc) + self._dotenv_hint(exc.name)
                    continue
                except ConfigError as exc:
                    self.error(f"{label}: option '{key}': {exc.message}", where[key])
                    ok = False
                    continue
            try:
                coerce = option.type.coerce_interpolated if key in from_env else option.coerce
                values[key] = coerce(value)
            except ConfigError as exc:
                if key in from_env:  # never echo a value that came from the environment
                    problem = problem or (
                        f"option '{key}': the value from ${{...}} is not {option.type.name}"
                        + _from_variables(raw)
                    )
                else:
                    self.error(f"{label}: option '{key}': {exc.message}", where[key])
                    ok = False
        for name, option in kind_options.items():
            if option.required and name not in entry:
                if name not in suggested:  # a typo already reported with this suggestion
                    self.error(f"{label}: kind {kind_name} needs option '{name}'", here)
                ok = False
            elif name not in values and option.default is not None and name not in entry:
                values[name] = option.coerce(option.default)
        if "when" in values:
            from packaging.markers import InvalidMarker, Marker

            try:
                Marker(values["when"])
            except InvalidMarker as exc:
                first = str(exc).splitlines()[0]
                self.error(
                    f"{label}: option 'when': not a valid PEP 508 marker: {first}", where["when"]
                )
                ok = False
        if ok and problem is None:
            for opt_name, message in kind.validate(
                {k: v for k, v in values.items() if k in kind_options}
            ):
                if opt_name in from_env:  # the message may quote a value from the environment
                    generic = f"option '{opt_name}': the value from ${{...}} is not valid"
                    shown = message if kind.messages_hide_values else generic
                    problem = problem or shown + _from_variables(entry.get(opt_name))
                    continue
                self.error(f"{label}: {message}", where.get(opt_name or "", here))
                ok = False
        if not ok or "id" not in values:
            return
        for name in interpolator.used:
            value = self.variables.get(name)
            if value and is_secret_name(name):
                self.secrets.add(value)
        for value in _strings(values):
            for password in url_passwords(value):
                from urllib.parse import unquote  # only when a URL carries a password

                # Probes log and compare the decoded form: mask both spellings.
                self.secrets.update((password, unquote(password)))
        self.secrets.update(
            s for s in kind.secrets({k: v for k, v in values.items() if k in kind_options}) if s
        )
        self.checks.append(
            CheckSpec(
                id=values["id"],
                kind=kind_name,
                source=here,
                title=values.get("title", ""),
                severity=Severity(values.get("severity", "required")),
                weight=values.get("weight"),
                tags=tuple(values.get("tags", ())),
                timeout=values.get("timeout"),
                depends_on=tuple(values.get("depends_on", ())),
                when=values.get("when"),
                skip=values.get("skip"),
                fix=values.get("fix"),
                options={k: v for k, v in values.items() if k in kind_options},
                option_sources={k: v for k, v in where.items()},
                variables=tuple(sorted(interpolator.used)),
                problem=problem,
            )
        )

    def cross_check(self) -> None:
        seen: dict[str, CheckSpec] = {}
        for spec in self.checks:
            if spec.id in seen:
                self.error(
                    f"duplicate id '{spec.id}' (first defined at {seen[spec.id].source})",
                    spec.source_of("id"),
                )
            else:
                seen[spec.id] = spec
        for spec in self.checks:
            for dep in spec.depends_on:
                if dep not in seen:
                    hint = did_you_mean(dep, seen)
                    self.error(
                        f"check '{spec.id}': depends_on names unknown check '{dep}'{hint}",
                        spec.source_of("depends_on"),
                    )
        for cycle in _cycles(seen):
            self.error(
                f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}",
                seen[cycle[0]].source_of("depends_on"),
            )


def load_config(
    project: Path,
    config_files: list[Path] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Finds, parses and validates every check module; raises ConfigErrors listing all problems."""
    project = project.absolute()
    loader = _Loader(project, os.environ if environ is None else environ)
    settings = Settings()
    pyproject_path = project / "pyproject.toml"
    pyproject: LocatedToml | None = None
    tool: Any = None
    if pyproject_path.is_file():
        pyproject = loader.read(pyproject_path)
        if pyproject is not None:
            tool_table = pyproject.data.get("tool", {})
            tool = tool_table.get("envdoctor") if isinstance(tool_table, dict) else None
            if tool is not None:
                lines = pyproject.tables.get("tool.envdoctor", TableLines(1))
                settings = loader.settings_from(tool, lines, loader.display(pyproject_path))
    loader.variables = _variables(project, settings, loader.environ)
    loader.dotenv_setting = settings.dotenv
    if config_files:
        seen: set[Path] = set()
        for path in config_files:
            full = path if path.is_absolute() else Path.cwd() / path
            key = full.resolve()
            if key not in seen:  # the same file twice is one module, not duplicate ids
                seen.add(key)
                _load_module(loader, full)
    else:
        if pyproject is not None and isinstance(tool, dict):
            loader.files.append(loader.display(pyproject_path))
            loader.module(pyproject, loader.display(pyproject_path), "tool.envdoctor.check", tool)
        for path in _expand_includes(project, settings.include):
            if path.resolve() != pyproject_path.resolve():
                _load_module(loader, path)
    loader.cross_check()
    if loader.errors:
        raise ConfigErrors(loader.errors)
    return Config(project, settings, loader.checks, loader.files, loader.variables, loader.secrets)


def _load_module(loader: _Loader, path: Path) -> None:
    doc = loader.read(path)
    shown = loader.display(path)
    loader.files.append(shown)
    if doc is None:
        return
    tool = doc.data.get("tool")
    table = tool.get("envdoctor") if isinstance(tool, dict) else None
    if path.name == "pyproject.toml" or table is not None:
        loader.module(doc, shown, "tool.envdoctor.check", table or {})
        if path.name == "pyproject.toml":
            return
    for key in doc.data:
        if key not in _MODULE_KEYS and not (key == "tool" and table is not None):
            line = (
                doc.tables.get(key, doc.tables[""]).line
                if key in doc.tables
                else doc.tables[""].keys.get(key, 1)
            )
            if key in doc.arrays:
                line = doc.arrays[key][0].line
            hint = did_you_mean(key, _MODULE_KEYS)
            loader.error(
                f"unknown top-level key '{key}' in a check module{hint}", Source(shown, line)
            )
    loader.module(doc, shown, "check", doc.data)


def _expand_includes(project: Path, patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        try:
            matches = (
                sorted(project.glob(pattern))
                if not os.path.isabs(pattern)
                else sorted(Path("/").glob(pattern.lstrip("/")))
            )
        except (ValueError, NotImplementedError, OSError):
            matches = []
        for match in matches:
            if match.is_file() and match not in found:
                found.append(match)
    return found


def _variables(project: Path, settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment over the project's dotenv values: the shell wins, as with compose."""
    variables: dict[str, str] = {}
    if settings.dotenv:
        path = project / settings.dotenv
        if path.is_file():
            try:
                dotenv = read_dotenv(path)
            except ProjectFileError:
                dotenv = None
            if dotenv is not None:
                variables.update(expand_dotenv(dotenv.values, environ))
    variables.update(environ)
    return variables


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _from_variables(raw: Any) -> str:
    """` (the value of ${DATABASE_URL})`: which variable to fix, when an option's value came
    from the environment or .env (the value itself is never shown: it may be a secret)."""
    names = list(dict.fromkeys(n for text in _strings(raw) for n in _REFERENCE.findall(text)))
    if not names:
        return ""
    return " (the value of " + ", ".join(f"${{{n}}}" for n in names) + ")"


def _has_reference(value: Any) -> bool:
    return any("$" in s for s in _strings(value))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _cycles(specs: dict[str, CheckSpec]) -> list[list[str]]:
    """Every dependency cycle, found by one iterative depth-first walk (no recursion limit)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    cycles: list[list[str]] = []
    for root in specs:
        if root in state:
            continue
        path: list[str] = [root]
        pending = [iter(specs[root].depends_on)]
        state[root] = 1
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                state[path.pop()] = 2
                pending.pop()
            elif dep in specs and state.get(dep) == 1:
                cycles.append(path[path.index(dep) :])
            elif dep in specs and dep not in state:
                state[dep] = 1
                path.append(dep)
                pending.append(iter(specs[dep].depends_on))
    return cycles
