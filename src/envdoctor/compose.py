"""Which docker compose service publishes a host port: the fix for a refused service port.

When the project's compose file says service `db` publishes 5432 and 5432 is refused, the fix a
user can paste is `docker compose up -d db`, not the platform's way to start PostgreSQL. So this
module reads compose files the way `docker compose` does:

- the files it would load with no `-f`: `COMPOSE_FILE` (environment, then `.env`), else the first
  of compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in the directory (or the
  nearest parent that has one) plus the first compose.override.yml/.yaml,
  docker-compose.override.yml/.yaml beside it, merged (ports of both files count);
- `${VAR}`, `${VAR:-default}`, `${VAR-default}` (and `:?`, `?`, `:+`, `+`, `$VAR`, `$$`) expanded
  from the process environment over the `.env` beside the compose file, as compose does;
- YAML 1.2 scalars where it matters: `22:22` is a string (PyYAML's YAML 1.1 would read it as the
  base-60 integer 1342), `!reset` / `!override` as in compose's merge rules, `<<: *anchor` merges;
- short port syntax (`5432`, `5432:5432`, `127.0.0.1:5433:5432`, `[::1]:5432:5432`,
  `8000-8010:8000-8010`, `5432:5432/tcp`) and long syntax (`target`, `published`, `host_ip`,
  `protocol`); a bare container port publishes a random host port, so it publishes nothing we
  can name; `udp` is not a TCP service.

Only when no file compose would load by default publishes the port are the project's other
compose files looked at (`docker-compose.dev.yml`, `docker/compose.yaml`, ...): then the fix
names the file with `-f`.

A hint must never turn a clear "refused" into an error: `find_publisher` never raises, whatever
the files hold. `load` raises `ComposeError` (a `ProjectFileError` with `file:line`) for the
compose kind to report. Values from the environment never appear in any message.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.errors import ProjectFileError, Source

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
"""compose-go's `DefaultFileNames`, in its order of preference."""
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
"""compose-go's `DefaultOverrideFileNames`, in its order of preference."""

MAX_BYTES = 256 * 1024
"""Larger files are not read: real compose files are tens of KiB, and parsing runs on the
event loop of a check that is waiting to say "refused"."""
MAX_OTHER_FILES = 40
"""At most this many non-default compose files are read when looking for a publisher."""
_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", "dist", "build"}
)  # fmt: skip
_MAX_SUBDIRS = 200

_TOP_LEVEL_KEYS = frozenset(
    {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include",
     "models"}
)  # fmt: skip
"""The compose specification's top-level keys: never a service of the legacy format."""
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_PORT_RANGE = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?$")


class ComposeError(ProjectFileError):
    """A compose file that cannot be read or is not a compose file (with `file:line`)."""


@dataclass(frozen=True)
class PortMapping:
    """One published port of a service, after interpolation."""

    service: str
    published: tuple[int, int] | None
    """Host ports, an inclusive range; None when docker picks a random host port."""
    target: str
    """The container port (or range) as written."""
    host_ip: str = ""
    protocol: str = "tcp"

    def publishes(self, port: int, protocol: str = "tcp") -> bool:
        if self.published is None or self.protocol != protocol:
            return False
        return self.published[0] <= port <= self.published[1]


@dataclass
class Service:
    name: str
    ports: list[PortMapping] = field(default_factory=list)
    runnable: bool = False
    """It has an `image`, a `build` or an `extends`: a file can start it on its own."""


@dataclass
class ComposeModel:
    """What this module needs of a compose project: its services and their published ports."""

    files: tuple[Path, ...]
    services: dict[str, Service] = field(default_factory=dict)
    legacy: bool = False
    """Compose file format 1 (services at the top level): only `docker-compose` v1 runs it."""

    def publisher(self, port: int, protocol: str = "tcp") -> tuple[Service, PortMapping] | None:
        for service in self.services.values():
            for mapping in service.ports:
                if mapping.publishes(port, protocol):
                    return service, mapping
        return None


@dataclass(frozen=True)
class ComposePublisher:
    """The compose service that publishes a host port, and how to start it."""

    file: Path
    """The compose file that declares it (the base file when an override is merged)."""
    service: str
    default_file: bool
    """`docker compose` run in the project directory loads this file by itself (no `-f`)."""
    project: Path | None = None
    port: int = 0
    mapping: PortMapping | None = None
    legacy: bool = False

    def up_command(self) -> str:
        program = "docker-compose" if self.legacy else "docker compose"
        parts = [program]
        if not self.default_file:
            parts += ["-f", shlex.quote(self.display_file())]
        parts += ["up", "-d", shlex.quote(self.service)]
        return " ".join(parts)

    def display_file(self) -> str:
        """The file relative to the project (as a user types it there), else as it is."""
        if self.project is not None:
            try:
                return self.file.relative_to(self.project).as_posix()
            except ValueError:
                pass
        return str(self.file)


# -- the entry point for fix hints ---------------------------------------------------------


def find_publisher(project: Path, port: int, protocol: str = "tcp") -> ComposePublisher | None:
    """The service of the project's compose files that publishes host `port`, or None.

    Never raises: an unreadable or malformed compose file is no hint, not an error.
    """
    try:
        return _find_publisher(Path(project), int(port), protocol)
    except (ComposeError, OSError, ValueError, RecursionError):
        return None


def _find_publisher(project: Path, port: int, protocol: str) -> ComposePublisher | None:
    environ = dict(os.environ)
    defaults = compose_files(project, environ)
    seen: set[Path] = set()
    if defaults:
        seen.update(_resolved(p) for p in defaults)
        try:
            model = _cached_load(defaults, environ)
        except ComposeError:
            model = None
        found = model.publisher(port, protocol) if model else None
        if model is not None and found is not None:
            service, mapping = found
            return ComposePublisher(
                defaults[0], service.name, True, project, port, mapping, model.legacy
            )
    for path in other_compose_files(project):
        if _resolved(path) in seen:
            continue
        try:
            model = _cached_load([path], environ)
        except ComposeError:
            continue
        found = model.publisher(port, protocol)
        if found is not None and found[0].runnable:
            service, mapping = found
            return ComposePublisher(path, service.name, False, project, port, mapping, model.legacy)
    return None


_CACHE: dict[Any, ComposeModel | ComposeError] = {}
_CACHE_SIZE = 16


def _cached_load(files: Sequence[Path], environ: Mapping[str, str]) -> ComposeModel:
    """`load`, remembered while the files, the `.env` beside them and the environment are
    unchanged: fifty refused checks in one run read the compose file once."""
    signature = []
    for path in [*files, Path(files[0]).parent / ".env"]:
        try:
            info = path.stat()
            signature.append((str(path), info.st_mtime_ns, info.st_size))
        except OSError:
            signature.append((str(path), None, None))
    key = (tuple(signature), hash(frozenset(environ.items())))
    if key not in _CACHE:
        try:
            _CACHE[key] = load(files, environ)
        except ComposeError as exc:
            _CACHE[key] = exc
        while len(_CACHE) > _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
    found = _CACHE[key]
    if isinstance(found, ComposeError):
        raise found
    return found


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


# -- which files -------------------------------------------------------------------------


def compose_files(directory: Path, environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The files `docker compose` loads when run in `directory` with no `-f`: `COMPOSE_FILE`
    (from the environment, else the directory's `.env`), else the first default name and the
    first override name, in the directory or the nearest parent that has a default name."""
    environ = os.environ if environ is None else environ
    directory = Path(directory)
    listed = environ.get("COMPOSE_FILE")
    if listed is None:
        listed = _dotenv(directory / ".env").get("COMPOSE_FILE")
    if listed:
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [directory / Path(p) for p in listed.split(separator) if p.strip()]
        return tuple(p for p in paths if p.is_file())
    current = directory.absolute()
    while True:
        base = _first_file(current, DEFAULT_FILES)
        if base is not None:
            override = _first_file(current, OVERRIDE_FILES)
            return (base,) if override is None else (base, override)
        if current.parent == current:
            return ()
        current = current.parent


def _first_file(directory: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        path = directory / name
        if path.is_file():
            return path
    return None


def other_compose_files(project: Path) -> list[Path]:
    """Compose files `docker compose` would not load by itself: `*compose*.y(a)ml` in the
    project directory and its immediate subdirectories (override files excluded: they do not
    stand alone), the project's own directory first."""
    project = Path(project)
    found: list[Path] = []
    subdirs: list[Path] = []
    for entry in _scandir(project):
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIP_DIRS and len(subdirs) < _MAX_SUBDIRS:
                subdirs.append(Path(entry.path))
        elif _compose_named(entry.name) and entry.is_file():
            found.append(Path(entry.path))
    found.sort()
    for subdir in sorted(subdirs):
        found += sorted(
            Path(e.path) for e in _scandir(subdir) if _compose_named(e.name) and e.is_file()
        )
    return [p for p in found if p.name not in OVERRIDE_FILES][:MAX_OTHER_FILES]


def _scandir(directory: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            yield from list(entries)
    except OSError:
        return


def _compose_named(name: str) -> bool:
    lowered = name.lower()
    return "compose" in lowered and lowered.endswith((".yml", ".yaml"))


def _dotenv(path: Path) -> dict[str, str]:
    """A `.env` file's values, expanded as compose does; {} when there is none."""
    from envdoctor.dotenv import read_dotenv
    from envdoctor.interpolate import expand_dotenv

    if not path.is_file():
        return {}
    try:
        parsed = read_dotenv(path)
    except ProjectFileError:
        return {}
    return expand_dotenv(parsed.values, os.environ)


def variables_for(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `${VAR}` means in a compose file: the `.env` beside it, under the environment."""
    environ = os.environ if environ is None else environ
    return {**_dotenv(Path(path).parent / ".env"), **environ}


# -- reading -----------------------------------------------------------------------------


def load(files: Sequence[Path], environ: Mapping[str, str] | None = None) -> ComposeModel:
    """The services of `files` merged in order (later files add ports, as compose merges them).

    Raises ComposeError for a file that cannot be read, is not YAML, or is not a compose file.
    """
    if not files:
        raise ComposeError("no compose file given")
    variables = variables_for(files[0], environ)
    model = ComposeModel(tuple(files))
    for path in files:
        document = read_yaml(path)
        merge_document(model, path, document, variables)
    return model


def read_yaml(path: Path) -> Any:
    """One YAML document as compose reads it; ComposeError with the line for a syntax error."""
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ComposeError(
                f"{size // 1024} KiB: larger than the {MAX_BYTES // 1024} KiB a compose file "
                "is read up to",
                Source(shown),
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ComposeError(f"cannot read: {exc.strerror or exc}", Source(shown)) from None
    return parse_yaml(raw, shown)


def parse_yaml(raw: bytes | str, shown: str = "compose.yaml") -> Any:
    """Parses one document (a second document is ignored, as compose does with a warning)."""
    import yaml

    if len(raw) > MAX_BYTES:
        raise ComposeError("too large to be a compose file", Source(shown))
    loader = _loader_class()(raw)
    try:
        return _first_document(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"not valid YAML: {reason}", Source(shown, line)) from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"not valid YAML: {_short(exc)}", Source(shown)) from None
    except RecursionError:
        raise ComposeError("not valid YAML: nested too deeply", Source(shown)) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp out of range
        raise ComposeError(f"not valid YAML: {_short(exc)}", Source(shown)) from None
    finally:
        loader.dispose()


def _first_document(loader: Any) -> Any:
    if loader.check_data():
        return loader.get_data()
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


_LOADER: Any = None


def _loader_class() -> Any:
    """A safe loader with compose's reading of scalars and tags, built once."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class ComposeLoader(base):  # type: ignore[misc, valid-type]
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # YAML 1.2 (compose's go-yaml) has no base-60 numbers: `22:22` is a string.
            if (
                kind is yaml.ScalarNode
                and implicit[0]
                and isinstance(value, str)
                and _SEXAGESIMAL.match(value)
            ):
                return "tag:yaml.org,2002:str"
            return super().resolve(kind, value, implicit)

    def construct_map(loader: Any, node: Any) -> Any:
        data = LineDict()
        data.line = node.start_mark.line + 1
        yield data
        data.update(loader.construct_mapping(node))

    def construct_seq(loader: Any, node: Any) -> Any:
        data = LineList()
        data.line = node.start_mark.line + 1
        yield data
        data.extend(loader.construct_sequence(node))

    def construct_reset(loader: Any, node: Any) -> Any:
        return RESET

    def construct_override(loader: Any, node: Any) -> Any:
        return Override(_construct_plain(loader, node))

    def construct_unknown(loader: Any, suffix: str, node: Any) -> Any:
        return _construct_plain(loader, node)

    ComposeLoader.add_constructor("tag:yaml.org,2002:map", construct_map)
    ComposeLoader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    ComposeLoader.add_constructor("!reset", construct_reset)
    ComposeLoader.add_constructor("!override", construct_override)
    ComposeLoader.add_multi_constructor("!", construct_unknown)
    _LOADER = ComposeLoader
    return _LOADER


def _construct_plain(loader: Any, node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return LineDict(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return LineList(loader.construct_sequence(node, deep=True))
    return loader.construct_scalar(node)


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line it started on (for `file:line` in errors)."""

    line: int | None = None


class LineList(list):  # type: ignore[type-arg]
    line: int | None = None


class _Reset:
    """`!reset`: the value is removed from what earlier files said."""

    def __repr__(self) -> str:
        return "!reset"


RESET = _Reset()


@dataclass(frozen=True)
class Override:
    """`!override value`: replaces what earlier files said instead of merging with it."""

    value: Any


def _line(value: Any) -> int | None:
    return getattr(value, "line", None)


def merge_document(
    model: ComposeModel, path: Path, document: Any, variables: Mapping[str, str]
) -> None:
    """Adds one parsed compose document's services and ports to `model` (compose's merge:
    ports add up, `!reset` removes, `!override` replaces)."""
    shown = str(path)
    if document is None:  # an empty file: compose says "empty compose file"
        raise ComposeError("empty compose file", Source(shown))
    if not isinstance(document, dict):
        raise ComposeError(
            f"top-level is {_type_name(document)}, not a mapping of compose keys", Source(shown, 1)
        )
    services = document.get("services")
    if "services" not in document and "version" not in document:
        legacy = {
            k: v
            for k, v in document.items()
            if isinstance(k, str)
            and k not in _TOP_LEVEL_KEYS
            and not k.startswith("x-")
            and isinstance(v, dict)
            and ("image" in v or "build" in v)
        }
        if legacy:
            model.legacy = True
            services = legacy
    if isinstance(services, Override):
        model.services.clear()
        services = services.value
    if services is None or services is RESET:
        if services is RESET:
            model.services.clear()
        return
    if not isinstance(services, dict):
        raise ComposeError(
            f"'services' is {_type_name(services)}, not a mapping of service names",
            Source(shown, _line(services) or _line(document)),
        )
    for key, definition in services.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            continue
        name = str(key)
        if definition is RESET:
            model.services.pop(name, None)
            continue
        replace = isinstance(definition, Override)
        if replace:
            definition = definition.value
        if definition is None:
            definition = {}
        if not isinstance(definition, dict):
            continue  # compose refuses it; a hint just looks elsewhere
        service = model.services.get(name)
        if service is None or replace:
            service = model.services[name] = Service(name)
        if any(k in definition for k in ("image", "build", "extends")):
            service.runnable = True
        ports = definition.get("ports")
        if isinstance(ports, Override):
            service.ports.clear()
            ports = ports.value
        if ports is RESET:
            service.ports.clear()
            continue
        if not isinstance(ports, list):
            continue
        for entry in ports:
            for mapping in parse_port(name, entry, variables):
                if mapping not in service.ports:
                    service.ports.append(mapping)


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a " + type(value).__name__


# -- ports -------------------------------------------------------------------------------


def parse_port(service: str, entry: Any, variables: Mapping[str, str]) -> list[PortMapping]:
    """One `ports:` entry, short or long syntax; [] for anything compose would not accept."""
    try:
        if isinstance(entry, dict):
            mapping = _long_syntax(service, entry, variables)
        elif isinstance(entry, bool):
            return []
        elif isinstance(entry, int):
            mapping = _short_syntax(service, str(entry))
        elif isinstance(entry, str):
            mapping = _short_syntax(service, interpolate(entry, variables))
        else:
            return []
    except ValueError:
        return []
    return [mapping] if mapping is not None else []


def _short_syntax(service: str, text: str) -> PortMapping | None:
    """`[[IP:](HOST|RANGE):](CONTAINER|RANGE)[/PROTOCOL]`, split as docker's nat.ParsePortSpec."""
    text = text.strip()
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
        protocol = protocol.strip().lower() or "tcp"
    parts = text.split(":")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    ip = ":".join(parts[:-2]) if len(parts) >= 3 else ""
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if _port_range(container) is None:
        return None
    published = _port_range(host) if host else None
    if host and published is None:
        return None
    if published == (0, 0):
        published = None
    return PortMapping(service, published, container, ip, protocol)


def _long_syntax(service: str, entry: Mapping[Any, Any], variables: Mapping[str, str]) -> Any:
    def text(key: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError(key)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return interpolate(value, variables).strip()
        raise ValueError(key)

    target = text("target")
    if not target or _port_range(target) is None:
        return None
    published_text = text("published")
    published = _port_range(published_text) if published_text else None
    if published_text and published is None:
        return None
    if published == (0, 0):
        published = None
    protocol = (text("protocol") or "tcp").lower()
    return PortMapping(service, published, target, text("host_ip") or "", protocol)


def _port_range(text: str) -> tuple[int, int] | None:
    match = _PORT_RANGE.match(text.strip())
    if not match:
        return None
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else start
    if not (0 <= start <= end <= 65535):
        return None
    return start, end


# -- interpolation -----------------------------------------------------------------------


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}` rules (interpolate.py's compose dialect): unset is empty (compose
    warns), `$$` is `$`, `$NAME`, defaults, `${VAR:+alt}`; `${VAR:?m}` is empty here (compose
    would refuse the file). ValueError for a malformed reference; its message names no value.
    """
    if "$" not in text:
        return text
    from envdoctor.errors import ConfigError
    from envdoctor.interpolate import Interpolator

    try:
        return Interpolator(variables, compose=True).expand(text)
    except ConfigError as exc:
        raise ValueError(exc.message) from None
