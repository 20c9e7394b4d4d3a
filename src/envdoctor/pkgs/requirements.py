"""Requirements as pip reads them from requirements files, and as pyproject.toml declares them.

Why not pip's own parser: importing pip costs far more than a whole envdoctor run, its API is
private, and the target environment may not even have pip. So this module follows pip's
`req_file.py` and `req/constructors.py` step by step (line joining, comment stripping,
`${VAR}` expansion, splitting the options from the requirement, optparse's rules for the
options, then what a requirement may be: a PEP 508 string, a URL, a local path or archive,
an editable), so that what pip accepts is accepted here and what pip rejects is a
ProjectFileError naming `file:line` — never a traceback.

Deliberate differences (each is what a readiness check needs, not an accident):

- Line numbers are an editor's (only \\n, \\r\\n, \\r end a line; pip's `str.splitlines` also
  splits on form feeds and U+2028, which we honour for the content but not the numbering).
- Local paths (`./lib`, `-e .`, `dist/x.whl`) resolve against the project directory: pip uses
  the current directory, which is the project when people run `pip install -r` from its root.
- The name of a local directory (editable or not) is read from its pyproject.toml
  `[project].name`, else setup.cfg `[metadata] name`; pip would build its metadata instead.
  When neither says, the entry is `unverified`, never guessed. An editable path that is not a
  directory in the project is `unverified` too (pip refuses it: "not a valid editable").
- What pip's resolver refuses in a constraints file (extras, editables, unnamed URLs/paths)
  is an error here already, at the constraint's own line.
- An include cycle is named as a chain (`a.txt -> b.txt -> a.txt`), symlinks resolved.
- `-r https://...` is not fetched (a check must not depend on the network): it yields an
  `unverified` entry.
- Encodings: a BOM or a PEP 263 coding line as pip does; otherwise UTF-8 (pip uses the
  locale's encoding, UTF-8 on nearly every system). NUL bytes mean a binary file: an error.
- `${VAR}` (upper-case letters, digits, `_`) is expanded from os.environ exactly as pip does
  (only when set and non-empty, otherwise left as written) so the line parses as pip parses
  it; but `text`, `url` and every message show `${VAR}`, never the value.
- URL credentials are masked in `text`, `url` and messages (`user:***@`, secret query
  parameters, and a bare token in the user part `***@`).

Cheap by design: a file of simple pins (what pip-compile writes, hashes and all) is parsed
with regular expressions alone; `packaging` is imported only for a line the fast path cannot
prove it reads exactly as `packaging.requirements.Requirement` would.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from envdoctor.errors import ProjectFileError, Source
from envdoctor.lines import split_lines
from envdoctor.redact import redact_url


@dataclass(frozen=True)
class Req:
    name: str  # PEP 503 canonical name ("" when unknown, e.g. `-e ./lib` with no readable name)
    text: str  # the requirement as written, without options/hashes; URL passwords masked
    specifier: str  # str(SpecifierSet) or "" (e.g. "<2,>=1.0")
    extras: tuple[str, ...]  # canonicalised extras, sorted
    marker: str | None  # marker text (as packaging prints it), or None
    url: str | None  # PEP 508 `name @ url`, VCS/URL line, or a local path (as written)
    editable: bool
    source: str  # "requirements.txt:12" / "pyproject.toml:7" (path relative to the project)
    constraint: bool = False  # came from a -c/--constraint file: only limits versions
    unverified: str | None = None  # why it cannot be verified (then `name` may be "")
    # The absolute local path of a directory, archive or editable path (None otherwise): a fix
    # command must work from any directory, and pip reads relative paths from its cwd.
    path: str | None = field(default=None, compare=False)


UNKNOWN_EDITABLE = "editable install whose name is unknown"
UNKNOWN_URL = "URL requirement whose name is unknown (add #egg=<name>, or write '<name> @ <url>')"
UNKNOWN_DIRECTORY = "local directory whose name is unknown"
UNKNOWN_ARCHIVE = "source archive whose name is unknown (add #egg=<name> to a URL)"
REMOTE_INCLUDE = "requirements file at a URL: not fetched, not verified"
DYNAMIC = "declared dynamic: the build backend computes them, pyproject.toml does not list them"

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_INCLUDE_DEPTH = 64

# -- pip's grammar -------------------------------------------------------------------------

_COMMENT = re.compile(r"(^|\s+)#.*$")
# Patterns a file of plain pins never needs stay strings (compiled on first use by re's cache).
_ENV_VAR = r"(?P<var>\$\{(?P<name>[A-Z0-9_]+)\})"
_OTHER_EOL = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() also splits at these
_REMOTE = r"(?i)^(http|https):"
_FILE_URL = r"(?i)^file:"
_SCHEME = r"([A-Za-z][A-Za-z0-9+.\-]*):"
_EGG = r"[#&]egg=([^&]*)"
_CODING = rb"coding[:=]\s*([-\w.]+)"
_STRIP_EXTRAS = re.compile(r"^(.+)(\[[^\]]+\])$")
# pip's legacy wheel filename pattern: name-version(-build)?-python-abi-platform.whl
_WHEEL = (
    r"^(?P<namever>(?P<name>[^\s-]+?)-(?P<ver>[^\s-]*?))"
    r"((-(?P<build>\d[^-]*?))?-(?P<pyver>[^\s-]+?)-(?P<abi>[^\s-]+?)-(?P<plat>[^\s-]+?)"
    r"\.whl|\.dist-info)$"
)

_VCS = ("git", "hg", "svn", "bzr")
_VCS_SCHEMES = frozenset(
    {
        *("git+http", "git+https", "git+ssh", "git+git", "git+file"),
        *("hg+file", "hg+http", "hg+https", "hg+ssh", "hg+static-http"),
        *("svn+ssh", "svn+http", "svn+https", "svn+svn", "svn+file"),
        *("bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp", "bzr+file"),
    }
)
_URL_SCHEMES = frozenset({"http", "https", "file", "ftp"}) | _VCS_SCHEMES
_ARCHIVES = (
    *(".zip", ".whl"),
    *(".tar.bz2", ".tbz"),
    *(".tar.gz", ".tgz", ".tar"),
    *(".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"),
)
_STRONG_HASHES = ("sha256", "sha384", "sha512")

# The options pip accepts in a requirements file (pip 24-26), long name -> takes a value.
# An option pip does not know is an error there, so it is one here too.
_LONG: dict[str, bool] = {
    "--index-url": True,
    "--pypi-url": True,
    "--extra-index-url": True,
    "--no-index": False,
    "--constraint": True,
    "--requirement": True,
    "--editable": True,
    "--find-links": True,
    "--no-binary": True,
    "--only-binary": True,
    "--prefer-binary": False,
    "--require-hashes": False,
    "--pre": False,
    "--trusted-host": True,
    "--use-feature": True,
    "--no-deps-for": True,
    "--all-releases": True,
    "--only-final": True,
    "--uploaded-prior-to": True,
    # per-requirement options
    "--global-option": True,
    "--hash": True,
    "--config-settings": True,
}
_SHORT = {
    "-i": "--index-url",
    "-c": "--constraint",
    "-r": "--requirement",
    "-e": "--editable",
    "-f": "--find-links",
    "-C": "--config-settings",
}

# -- the fast path: a strict subset of PEP 508 read without `packaging` ----------------------

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?"
_CLAUSE = rf"(?:==|!=|>=|<=|~=|>|<)[ \t]*{_VERSION}(?:\.\*)?"
_FAST = re.compile(
    rf"(?P<name>{_NAME})[ \t]*(?:\[(?P<extras>{_NAME}(?:,{_NAME})*)\])?[ \t]*"
    rf"(?P<spec>{_CLAUSE}(?:[ \t]*,[ \t]*{_CLAUSE})*)?"
)
_CLAUSE_PARTS = re.compile(rf"(==|!=|>=|<=|~=|>|<)[ \t]*({_VERSION})(\.\*)?")
_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_CANON = re.compile(r"[-_.]+")
_PLAIN_USER = r"[a-z]{1,16}"
_USER_ONLY = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/@:\s]+)@"


def canonical(name: str) -> str:
    """PEP 503 normalisation, as packaging.utils.canonicalize_name does it."""
    return _CANON.sub("-", name).lower()


def parse_requirements(path: Path, project: Path) -> list[Req]:
    """Every requirement of a requirements file, its -r/-c includes spliced in where they are.

    Raises ProjectFileError(message, Source(file, line)) for a malformed line, a missing,
    unreadable or binary file (the including line, for an include), or an include cycle
    (the message names the cycle).
    """
    root = os.path.abspath(project)
    target = os.path.abspath(os.path.join(root, path))
    reader = _Reader(root)
    reader.read_file(target, constraint=False, chain=[], including=None)
    return list(dict.fromkeys(reader.reqs))


# -- reading files -------------------------------------------------------------------------


class _Including:
    """The line that includes a file (a plain class: dataclasses cost import time)."""

    __slots__ = ("flag", "hide", "source", "value")

    def __init__(self, source: Source, flag: str, value: str, hide: _Hider) -> None:
        self.source = source
        self.flag = flag  # "-r" or "-c"
        self.value = value  # as written (env values hidden)
        self.hide = hide  # the including line's ${VAR} values, hidden in messages


class _Reader:
    def __init__(self, project: str) -> None:
        self.project = project
        self.reqs: list[Req] = []
        # Files read completely, with their constraint flag: including one again adds nothing
        # (the result is deduplicated) and cannot close a cycle (its first reading would have).
        self._done: set[tuple[str, bool]] = set()
        self._dir_names: dict[str, tuple[str | None, str]] = {}

    def display(self, path: str) -> str:
        return _display(path, self.project)

    def read_file(
        self,
        path: str,
        *,
        constraint: bool,
        chain: list[tuple[str, str]],
        including: _Including | None,
    ) -> None:
        display = self.display(path)
        raw = self._read_bytes(path, display, including)
        text = _decode(raw, display)
        ident = os.path.realpath(path)
        chain = [*chain, (ident, display)]
        for number, line, written, subs in _logical_lines(text):
            self._line(path, display, number, line, written, subs, constraint, chain)
        self._done.add((ident, constraint))

    def _read_bytes(self, path: str, display: str, including: _Including | None) -> bytes:
        kind = "constraints file" if including and including.flag == "-c" else "requirements file"

        def fail(problem: str) -> NoReturn:
            if including is None:
                raise ProjectFileError(f"{kind} {display}: {problem}", Source(display))
            message = (
                f"{kind} {display}: {problem} (included with {including.flag} {including.value})"
            )
            raise ProjectFileError(including.hide(message), including.source)

        try:
            info = os.stat(path)
        except FileNotFoundError:
            fail("not found")
        except OSError as exc:
            fail(f"cannot read it: {exc.strerror or exc}")
        if stat.S_ISDIR(info.st_mode):
            fail("is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            fail("is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            fail(f"is too large ({info.st_size} bytes) to be a requirements file")
        try:
            with open(path, "rb") as handle:
                return handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            fail(f"cannot read it: {exc.strerror or exc}")

    # -- one logical line ------------------------------------------------------------------

    def _line(
        self,
        path: str,
        display: str,
        number: int,
        line: str,
        written: str,
        subs: tuple[tuple[str, str], ...],
        constraint: bool,
        chain: list[tuple[str, str]],
    ) -> None:
        source = Source(display, number)
        hide = _Hider(subs) if subs else _NO_HIDE

        def fail(message: str) -> NoReturn:
            raise ProjectFileError(_mask(hide(message)), source)

        args, options = _break_args_options(line)
        opts = _parse_options(_split_options(options, fail), fail) if options else _Options()
        if args:
            shown = _break_args_options(written)[0].strip() if subs else args
            self.reqs.append(self._requirement(args, shown, source, constraint, hide, fail))
        elif opts.editables:
            value = opts.editables[0]
            shown = _first_value(written, "editables") if subs else value
            self.reqs.append(self._editable(value, shown or value, source, constraint, hide, fail))
        elif opts.requirements or opts.constraints:
            nested_constraint = not opts.requirements
            value = opts.requirements[0] if opts.requirements else opts.constraints[0]
            flag = "-r" if opts.requirements else "-c"
            self._include(path, value, flag, nested_constraint, source, chain, hide, fail)

    def _include(
        self,
        path: str,
        value: str,
        flag: str,
        constraint: bool,
        source: Source,
        chain: list[tuple[str, str]],
        hide: _Hider,
        fail: Callable[[str], NoReturn],
    ) -> None:
        if re.match(_REMOTE, value):
            self.reqs.append(
                Req(
                    name="",
                    text=_mask(hide(f"{flag} {value}")),
                    specifier="",
                    extras=(),
                    marker=None,
                    url=_mask(hide(value)),
                    editable=False,
                    source=str(source),
                    constraint=constraint,
                    unverified=REMOTE_INCLUDE,
                )
            )
            return
        if re.match(_FILE_URL, value):
            target = _file_url_path(value)
            if target is None:
                fail(f"{flag} {value}: not a file URL this machine can open")
        else:
            target = os.path.join(os.path.dirname(path), value)
        target = os.path.abspath(target)
        ident = os.path.realpath(target)
        seen = [i for i, (known, _) in enumerate(chain) if known == ident]
        if seen:
            cycle = [shown for _, shown in chain[seen[0] :]] + [chain[seen[0]][1]]
            fail(f"include cycle: {' -> '.join(cycle)} ({flag} {value})")
        if (ident, constraint) in self._done:
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            fail(f"includes nested more than {MAX_INCLUDE_DEPTH} files deep ({flag} {value})")
        including = _Including(source, flag, _mask(hide(value)), hide)
        self.read_file(target, constraint=constraint, chain=chain, including=including)

    # -- a requirement line (pip's parse_req_from_line) ----------------------------------

    def _requirement(
        self,
        args: str,
        shown: str,
        source: Source,
        constraint: bool,
        hide: _Hider,
        fail: Callable[[str], NoReturn],
    ) -> Req:
        args = args.strip()  # pip's join leaves the spaces before a continued `--hash`
        text = _mask(shown.strip())
        where = str(source)
        if _maybe_fast(args):
            fast = _fast(args)
            if fast is not None:
                name, extras, specifier = fast
                if constraint and extras:
                    fail(f"{text!r}: constraints cannot have extras (pip refuses them)")
                return Req(name, text, specifier, extras, None, None, False, where, constraint)

        name = args
        url_line = _is_url(name)
        separator = "; " if url_line else ";"
        marker = None
        if separator in name:
            name, marker_text = name.split(separator, 1)
            marker = _marker(marker_text.strip(), text, fail) if marker_text.strip() else None
        name = name.strip()

        link: str | None = None  # the URL or path pip would install from, if not PEP 508
        kind = ""
        req_string: str | None
        path_extras: tuple[str, ...] = ()
        if url_line:
            link, kind = name, "url"
            req_string = self._from_url(name, text, fail)
        else:
            stripped, extras_text = _strip_extras(name)
            local = os.path.normpath(os.path.join(self.project, stripped))
            if extras_text:
                path_extras = _extras_of(extras_text, text, fail)
            if _looks_like_path(name) and os.path.isdir(local):
                if not _installable(local):
                    fail(
                        f"directory {stripped!r} is not installable: "
                        "neither setup.py nor pyproject.toml is in it"
                    )
                link, kind, req_string = stripped, "dir", None
            elif _is_archive(local) and (
                os.path.isfile(local) or "@" not in name or _looks_like_path(name.split("@", 1)[0])
            ):
                link, kind = stripped, "archive"
                req_string = _archive_requirement(os.path.basename(local), text, fail)
            else:
                req_string = name
                path_extras = ()

        url_shown = _mask(hide(link)) if link is not None else None
        local_path = None
        if kind in ("dir", "archive") and link is not None and hide(link) == link:
            # (a path that came through ${VAR} keeps its value out of any fix command)
            local_path = os.path.normpath(os.path.join(self.project, link))
        if req_string is None:
            if constraint:
                fail(f"{text!r}: unnamed requirements are not allowed as constraints")
            dir_name, why = (None, "")
            if kind == "dir" and link is not None:
                dir_name, why = self.dir_name(os.path.join(self.project, link))
            if dir_name:
                found = (dir_name, text, "", path_extras, marker, url_shown, False, where)
                return Req(*found, path=local_path)
            reason = {
                "url": UNKNOWN_URL,
                "dir": f"{UNKNOWN_DIRECTORY}{': ' + why if why else ''}",
            }.get(kind, UNKNOWN_ARCHIVE)
            unnamed = ("", text, "", path_extras, marker, url_shown, False, where, False, reason)
            return Req(*unnamed, path=local_path)

        name_, extras, specifier, pep508_url, own_marker = _pep508(req_string, text, hide, fail)
        extras = tuple(sorted({*extras, *path_extras}))
        if constraint and extras:
            fail(f"{text!r}: constraints cannot have extras (pip refuses them)")
        if pep508_url is not None:
            url_shown = _mask(hide(pep508_url))
        if own_marker is not None:  # only an #egg= fragment could carry one
            marker = own_marker if marker is None else f"({own_marker}) and ({marker})"
        return Req(
            name_,
            text,
            specifier,
            extras,
            marker,
            url_shown,
            False,
            where,
            constraint,
            path=local_path,
        )

    def _from_url(self, url: str, text: str, fail: Callable[[str], NoReturn]) -> str | None:
        """The requirement string pip derives from a URL line: the wheel's name==version, else
        the #egg= fragment, else None (an unnamed requirement)."""
        from urllib.parse import unquote, urlsplit

        try:
            parts = urlsplit(url)
        except ValueError as exc:
            fail(f"invalid URL in {text!r}: {exc}")
        filename = unquote(parts.path).rstrip("/").rsplit("/", 1)[-1]
        if _is_wheel(filename):
            return _wheel_requirement(filename, text, fail)
        match = re.search(_EGG, url)
        if match:
            return match.group(1)
        if parts.scheme.split("+", 1)[0] in ("git", "hg", "svn", "bzr"):
            return None  # a VCS URL names a repository, not a file
        return _archive_requirement(filename, text, fail)

    # -- an editable (pip's parse_editable) ------------------------------------------------

    def _editable(
        self,
        value: str,
        shown: str,
        source: Source,
        constraint: bool,
        hide: _Hider,
        fail: Callable[[str], NoReturn],
    ) -> Req:
        text = _mask(shown)
        where = str(source)
        if constraint:
            fail(f"-e {text}: editable requirements are not allowed as constraints")
        stripped, extras_text = _strip_extras(value)
        extras = _extras_of(extras_text, text, fail) if extras_text else ()
        local = os.path.normpath(os.path.join(self.project, stripped))
        url_shown = _mask(hide(stripped))
        if os.path.isdir(local):
            name, why = self.dir_name(local)
            if name:
                return Req(name, text, "", extras, None, url_shown, True, where, path=local)
            reason = f"{UNKNOWN_EDITABLE}{': ' + why if why else ''}"
            return Req("", text, "", extras, None, url_shown, True, where, False, reason, local)
        if re.match(_FILE_URL, stripped):
            egg = re.search(_EGG, stripped)
            if egg:
                name, _, specifier, _, _ = _pep508(egg.group(1), text, hide, fail)
                return Req(name, text, specifier, extras, None, url_shown, True, where)
            folder = _file_url_path(stripped.split("#", 1)[0])
            name, why = self.dir_name(folder) if folder else (None, "not a local file URL")
            if name:
                return Req(name, text, "", extras, None, url_shown, True, where)
            reason = f"{UNKNOWN_EDITABLE}{': ' + why if why else ''}"
            return Req("", text, "", extras, None, url_shown, True, where, False, reason)
        url = value
        for vcs in _VCS:
            if url.lower().startswith(f"{vcs}:"):
                url = f"{vcs}+{url}"
                break
        scheme = _scheme(url)
        if scheme in _VCS_SCHEMES:
            egg = re.search(_EGG, url)
            if not egg or not egg.group(1):
                fail(
                    f"-e {text}: pip cannot tell the name of an editable VCS URL: "
                    "add #egg=<name> to it"
                )
            name, egg_extras, specifier, _, _ = _pep508(egg.group(1), text, hide, fail)
            return Req(name, text, specifier, egg_extras, None, _mask(hide(url)), True, where)
        if scheme is None or len(scheme) == 1:  # a path (C:\... is a path, not a scheme)
            reason = f"{UNKNOWN_EDITABLE}: {url_shown} is not a directory in the project"
            return Req("", text, "", extras, None, url_shown, True, where, False, reason, local)
        fail(
            f"-e {text}: not a valid editable requirement; it should be a path to a local "
            "project or a VCS URL (git+, hg+, svn+ or bzr+)"
        )

    def dir_name(self, folder: str) -> tuple[str | None, str]:
        """The project name a local directory declares, or (None, why not)."""
        folder = os.path.normpath(folder)
        if folder not in self._dir_names:
            self._dir_names[folder] = _directory_name(folder, self.display(folder))
        return self._dir_names[folder]


def _directory_name(folder: str, shown: str) -> tuple[str | None, str]:
    pyproject = os.path.join(folder, "pyproject.toml")
    why = f"neither {shown}/pyproject.toml [project] nor {shown}/setup.cfg [metadata] names it"
    if os.path.isfile(pyproject):
        try:
            from envdoctor.errors import ConfigError
            from envdoctor.tomlfile import read_toml

            with open(pyproject, "rb") as handle:
                data = read_toml("pyproject.toml", handle.read(MAX_FILE_BYTES)).data
        except (OSError, ConfigError) as exc:
            return None, f"cannot read {shown}/pyproject.toml ({exc})"
        table = data.get("project")
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and re.fullmatch(_NAME, name.strip()):
            return canonical(name.strip()), ""
    setup_cfg = os.path.join(folder, "setup.cfg")
    if os.path.isfile(setup_cfg):
        import configparser

        parser = configparser.RawConfigParser()
        try:
            with open(setup_cfg, encoding="utf-8") as handle:
                parser.read_string(handle.read(MAX_FILE_BYTES))
            name = parser.get("metadata", "name", fallback=None)
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            return None, f"cannot read {shown}/setup.cfg ({type(exc).__name__})"
        if name and re.fullmatch(_NAME, name.strip()):
            return canonical(name.strip()), ""
    return None, why


def _display(path: str, project: str) -> str:
    """A path relative to the project, with forward slashes (as reports show paths)."""
    try:
        rel = os.path.relpath(path, project)
    except ValueError:  # another drive (Windows)
        rel = path
    return rel.replace(os.sep, "/")


# -- lines ---------------------------------------------------------------------------------


def _decode(raw: bytes, display: str) -> str:
    """Text the way pip's auto_decode finds it: BOM, then a PEP 263 coding line, then UTF-8."""
    encoding = "utf-8"
    for bom, name in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if raw.startswith(bom):
            raw, encoding = raw[len(bom) :], name
            break
    else:
        for line in raw.split(b"\n", 2)[:2]:
            match = re.search(_CODING, line) if line[:1] == b"#" else None
            if match:
                encoding = match.group(1).decode("ascii")
                break
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise ProjectFileError(f"unknown encoding {encoding!r}", Source(display, 1)) from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProjectFileError(
            f"not a requirements file: not {encoding} text", Source(display, line)
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise ProjectFileError(
            "not a requirements file: binary content", Source(display, line)
        ) from None
    return text


def _physical_lines(text: str) -> Iterator[tuple[int, str]]:
    if not any(eol in text for eol in _OTHER_EOL):
        yield from enumerate(split_lines(text), start=1)
        return
    for number, line in enumerate(split_lines(text), start=1):
        if any(eol in line for eol in _OTHER_EOL):
            for piece in (line + "\n").splitlines():
                yield number, piece
        else:
            yield number, line


def _joined_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's join_lines: a line ending in a backslash continues on the next one (not after a
    comment); the joined line takes the number of its first physical line."""
    first = 0
    parts: list[str] = []
    for number, line in _physical_lines(text):
        comment = "#" in line and _COMMENT.match(line) is not None
        if not line.endswith("\\") or comment:
            if comment:
                line = " " + line  # so the comment is stripped from a joined line
            if parts:
                parts.append(line)
                yield first, "".join(parts)
                parts = []
            else:
                yield number, line
        else:
            if not parts:
                first = number
            parts.append(line.strip("\\"))
    if parts:
        yield first, "".join(parts)


def _logical_lines(text: str) -> Iterator[tuple[int, str, str, tuple[tuple[str, str], ...]]]:
    """(line number, line to parse, line as written, env substitutions made) per logical line."""
    for number, joined in _joined_lines(text):
        line = _strip_comment(joined).strip() if "#" in joined else joined.strip()
        if not line:
            continue
        if "${" not in line:
            yield number, line, line, ()
            continue
        expanded, subs = line, []
        for var, name in re.findall(_ENV_VAR, line):
            value = os.environ.get(name)
            if not value:
                continue
            expanded = expanded.replace(var, value)
            subs.append((name, value))
        yield number, expanded, line, tuple(subs)


def _strip_comment(line: str) -> str:
    """`_COMMENT.sub("", line)` without the regex's cost on long hashed lines: the comment
    starts at the first '#' that begins the line or follows whitespace."""
    start = line.find("#")
    while start > 0 and not line[start - 1].isspace():
        start = line.find("#", start + 1)
    return line if start < 0 else line[:start]


def _break_args_options(line: str) -> tuple[str, str]:
    """pip's split: the requirement is every space-separated token before the first one that
    starts with '-'; the rest are options (shlex'd), so markers are never shlex'd."""
    if " -" not in line and not line.startswith("-"):
        return line, ""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


def _split_options(options: str, fail: Callable[[str], NoReturn]) -> list[str]:
    if "'" not in options and '"' not in options and "\\" not in options:
        # shlex.split without quotes or backslashes splits on ' \t\r\n' only (and a logical
        # line holds no \r or \n)
        return [token for token in options.replace("\t", " ").split(" ") if token]
    try:
        return shlex.split(options)
    except ValueError as exc:
        fail(f"cannot split the options ({exc}): {_clip(options)}")


class _Options:
    """The options of one line that matter here (the others are accepted and ignored)."""

    __slots__ = ("constraints", "editables", "requirements")

    def __init__(self) -> None:
        self.requirements: list[str] | None = None
        self.constraints: list[str] | None = None
        self.editables: list[str] | None = None


def _parse_options(tokens: list[str], fail: Callable[[str], NoReturn]) -> _Options:
    """optparse's rules over pip's requirements-file options: `--opt=v`, `--opt v`, `-xv`,
    `-x v`, unique prefixes of long options, `--` ends the options, other words are ignored."""
    found = _Options()
    i, count = 0, len(tokens)
    while i < count:
        arg = tokens[i]
        i += 1
        if arg.startswith("--hash="):  # the common case: pip-compile --generate-hashes
            _store(found, "--hash", "--hash", arg[7:], fail)
            continue
        if arg == "--":
            break
        if arg.startswith("--"):
            explicit = "=" in arg
            typed, value = arg.split("=", 1) if explicit else (arg, None)
            option = _match_long(typed, fail)
            if _LONG[option]:
                if value is None:
                    if i >= count:
                        fail(f"{option} option requires 1 argument")
                    value = tokens[i]
                    i += 1
                _store(found, option, option, value, fail)
            elif explicit:
                fail(f"{option} option does not take a value")
        elif arg.startswith("-") and len(arg) > 1:
            short = arg[:2]
            if short not in _SHORT:
                fail(f"no such option: {short}")
            if len(arg) > 2:
                value = arg[2:]
            else:
                if i >= count:
                    fail(f"{short} option requires 1 argument")
                value = tokens[i]
                i += 1
            _store(found, _SHORT[short], short, value, fail)
    return found


def _match_long(typed: str, fail: Callable[[str], NoReturn]) -> str:
    if typed in _LONG:
        return typed
    matches = sorted(name for name in _LONG if name.startswith(typed))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        fail(f"no such option: {typed}")
    fail(f"ambiguous option: {typed} ({', '.join(matches)}?)")


def _store(
    found: _Options, option: str, typed: str, value: str, fail: Callable[[str], NoReturn]
) -> None:
    if option == "--hash":
        algorithm, colon, _ = value.partition(":")
        if not colon:
            fail(
                f"Arguments to {typed} must be a hash name followed by a value, "
                "like --hash=sha256:abcde..."
            )
        if algorithm not in _STRONG_HASHES:
            fail(f"Allowed hash algorithms for {typed} are {', '.join(_STRONG_HASHES)}.")
    elif option == "--config-settings":
        if "=" not in value:
            fail(f"Arguments to {typed} must be of the form KEY=VAL")
    elif option in ("--no-binary", "--only-binary"):
        if value.startswith("-"):
            fail("--no-binary / --only-binary option requires 1 argument.")
    elif option == "--requirement":
        found.requirements = [*(found.requirements or []), value]
    elif option == "--constraint":
        found.constraints = [*(found.constraints or []), value]
    elif option == "--editable":
        found.editables = [*(found.editables or []), value]


def _first_value(written: str, field: str) -> str | None:
    """The first -e value of a line as written (before ${VAR} expansion), for display."""
    try:
        tokens = shlex.split(_break_args_options(written)[1])
        found = _parse_options(tokens, _raise_value_error)
    except ValueError:
        return None
    values = getattr(found, field)
    return values[0] if values else None


def _raise_value_error(message: str) -> NoReturn:
    raise ValueError(message)


# -- what a requirement is -----------------------------------------------------------------


def _maybe_fast(args: str) -> bool:
    """Lines pip reads as a plain PEP 508 string with no marker, no URL, no path."""
    return (
        ";" not in args
        and ":" not in args
        and "/" not in args
        and "\\" not in args
        and not args.startswith(".")
        and not _is_archive(_strip_extras(args)[0])
    )


def _fast(text: str) -> tuple[str, tuple[str, ...], str] | None:
    """(name, extras, specifier) for a line in a strict subset of PEP 508, exactly as
    `Requirement` gives them (specifiers sorted as str(SpecifierSet) sorts them); None when
    the line is not in the subset (then `packaging` decides)."""
    match = _FAST.fullmatch(text)
    if match is None:
        return None
    clauses: dict[str, str] = {}
    spec = match.group("spec")
    if spec:
        for operator, version, wildcard in _CLAUSE_PARTS.findall(spec):
            if wildcard and (operator not in ("==", "!=") or not _RELEASE.fullmatch(version)):
                return None
            if operator == "~=" and "." not in _RELEASE.match(version).group(0):  # type: ignore[union-attr]
                return None
            clause = f"{operator}{version}{wildcard}"
            if clauses.setdefault(operator, clause) != clause:
                return None  # two different clauses with one operator: packaging decides
    extras = match.group("extras")
    return (
        canonical(match.group("name")),
        tuple(sorted({canonical(e) for e in extras.split(",")})) if extras else (),
        ",".join(sorted(clauses.values())),
    )


def _pep508(
    text: str, shown: str, hide: _Hider, fail: Callable[[str], NoReturn]
) -> tuple[str, tuple[str, ...], str, str | None, str | None]:
    """(name, extras, specifier, url, marker) of a PEP 508 string."""
    fast = _fast(text) if _maybe_fast(text) else None
    if fast is not None:
        return (*fast, None, None)
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        fail(f"invalid requirement {_clip(shown)!r}: {_first_line(exc)}{_hint(text)}")
    except (ValueError, RecursionError) as exc:  # pathological input deep inside packaging
        fail(f"invalid requirement {_clip(shown)!r}: {type(exc).__name__}")
    return (
        canonical(req.name),
        tuple(sorted({canonical(e) for e in req.extras})),
        str(req.specifier),
        req.url or None,
        str(req.marker) if req.marker is not None else None,
    )


def _marker(text: str, shown: str, fail: Callable[[str], NoReturn]) -> str:
    from packaging.markers import InvalidMarker, Marker

    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        fail(f"invalid environment marker in {_clip(shown)!r}: {_first_line(exc)}")
    except (ValueError, RecursionError) as exc:
        fail(f"invalid environment marker in {_clip(shown)!r}: {type(exc).__name__}")


def _extras_of(extras: str, shown: str, fail: Callable[[str], NoReturn]) -> tuple[str, ...]:
    """pip's convert_extras: `[a,b]` read as the extras of a placeholder requirement."""
    _, parsed, _, _, _ = _pep508("placeholder" + extras.lower(), shown, _Hider(()), fail)
    return parsed


def _is_wheel(filename: str) -> bool:
    """pip's test: the extension is .whl (and `x.tar.whl`'s extension is .tar.whl)."""
    lower = filename.lower()
    return lower.endswith(".whl") and not lower.endswith(".tar.whl")


def _wheel_requirement(filename: str, shown: str, fail: Callable[[str], NoReturn]) -> str | None:
    if not _is_wheel(filename):
        return None
    match = re.match(_WHEEL, filename)
    if match is None:
        fail(f"{filename!r} is not a valid wheel filename (in {_clip(shown)!r})")
    return f"{match.group('name').replace('_', '-')}=={match.group('ver').replace('_', '-')}"


# An sdist's name and version (PEP 625's `{name}-{version}.tar.gz`, and the legacy names with
# dashes: the version starts at the last dash followed by a digit).
_SDIST = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)-(?P<ver>[0-9][A-Za-z0-9.!+_]*)"
    r"\.(?:tar\.gz|tgz|zip|tar\.bz2|tbz|tar\.xz|txz|tar)$",
    re.IGNORECASE,
)
_PEP440 = re.compile(
    r"^([0-9]+!)?[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?(\+[a-z0-9.]+)?$",
    re.IGNORECASE,
)


def _archive_requirement(filename: str, shown: str, fail: Callable[[str], NoReturn]) -> str | None:
    """A wheel's name==version (pip reads it from the file name), else an sdist's: its name
    and version follow PEP 625's naming when they look like one; None when they do not (the
    line is "not verified", as pip would have to build it to know)."""
    if _is_wheel(filename):
        return _wheel_requirement(filename, shown, fail)
    match = _SDIST.match(filename)
    if match is None or not _PEP440.match(match["ver"]):
        return None
    return f"{match['name']}=={match['ver']}"


def _strip_extras(path: str) -> tuple[str, str | None]:
    match = _STRIP_EXTRAS.match(path)
    return (match.group(1), match.group(2)) if match else (path, None)


def _looks_like_path(name: str) -> bool:
    return os.sep in name or (os.altsep is not None and os.altsep in name) or name.startswith(".")


def _is_archive(path: str) -> bool:
    return path.lower().endswith(_ARCHIVES)


def _installable(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyproject.toml")) or os.path.isfile(
        os.path.join(folder, "setup.py")
    )


def _scheme(url: str) -> str | None:
    match = re.match(_SCHEME, url)
    return match.group(1).lower() if match else None


def _is_url(name: str) -> bool:
    return _scheme(name) in _URL_SCHEMES


def _file_url_path(url: str) -> str | None:
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.netloc not in ("", "localhost"):
        return None
    return url2pathname(parts.path)


# -- messages ------------------------------------------------------------------------------


class _Hider:
    """Puts `${NAME}` back where an environment value was substituted into a line."""

    def __init__(self, subs: tuple[tuple[str, str], ...]) -> None:
        self._subs = sorted(
            ((v, f"${{{n}}}") for n, v in subs if len(v) >= 3), key=lambda p: -len(p[0])
        )

    def __call__(self, text: str) -> str:
        for value, name in self._subs:
            text = text.replace(value, name)
        return text


_NO_HIDE = _Hider(())


def _mask(text: str) -> str:
    """URL credentials hidden: `user:***@`, secret query parameters (redact_url), and a token
    used as the user name `***@`."""
    if "@" not in text and "://" not in text:
        return text
    text = redact_url(text)

    def user_only(match: re.Match[str]) -> str:
        user = match.group("user")
        if re.fullmatch(_PLAIN_USER, user) or user.startswith("${") or user == "***":
            return match.group(0)
        return f"{match.group('scheme')}***@"

    return re.sub(_USER_ONLY, user_only, text)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()


def _hint(text: str) -> str:
    """pip's hints for the two classic mistakes, and for a `${VAR}` left as written."""
    unset = [name for _, name in re.findall(_ENV_VAR, text) if not os.environ.get(name)]
    if unset:  # pip leaves an unset variable as written, which is rarely a valid line
        names = ", ".join(dict.fromkeys(unset))
        return f" ({names} {'is' if len(unset) == 1 else 'are'} not set)"
    if _looks_like_path(text):
        return " (it looks like a path, but no such file or directory is in the project)"
    if "=" in text and not any(op in text for op in ("==", "!=", "<=", ">=", "~=", "===")):
        return " (= is not a valid operator: did you mean ==?)"
    return ""


# -- pyproject.toml ------------------------------------------------------------------------

_KEY_ASSIGN = (
    r"""\s*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)"""
    r"""(?:\s*\.\s*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+))*\s*=\s*"""
)


def pyproject_requirements(
    pyproject: Path,
    project: Path,
    *,
    dependencies: bool = True,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> list[Req]:
    """[project].dependencies, the optional-dependencies of each extra ("*" = all), and PEP 735
    dependency groups with their include-group tables ("*" = all).

    A self-reference in an extra (`test = ["me[socks]"]`, `dev = ["me[test,lint]"]`) is
    replaced by the requirements of the extras it names, as installing `.[dev]` would; in a
    dependency group it stays a requirement on the project itself, as PEP 735 reads it.
    """
    root = os.path.abspath(project)
    path = os.path.abspath(os.path.join(root, pyproject))
    doc = _Pyproject(path, _display(path, root))
    out: list[Req] = []
    table = doc.data.get("project")
    if table is not None and not isinstance(table, dict):
        doc.fail("[project] is not a table", doc.key_line("", "project"))
    table = table or {}
    dynamic = table.get("dynamic") if isinstance(table.get("dynamic"), list) else []
    if dependencies and table:
        if "dependencies" in dynamic and "dependencies" not in table:
            out.append(doc.dynamic("[project].dependencies", doc.key_line("project", "dynamic")))
        else:
            fallback = doc.tables["project"].line if "project" in doc.tables else None
            out += doc.entries(table.get("dependencies", []), "project", "dependencies", fallback)
    if extras:
        out += doc.extras(table, list(extras), dynamic)
    if groups:
        out += doc.groups(list(groups))
    return list(dict.fromkeys(out))


class _Pyproject:
    def __init__(self, path: str, display: str) -> None:
        from envdoctor.errors import ConfigError
        from envdoctor.tomlfile import read_toml

        self.display = display
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise ProjectFileError(f"{display}: not found", Source(display)) from None
        except OSError as exc:
            raise ProjectFileError(
                f"{display}: cannot read it: {exc.strerror or exc}", Source(display)
            ) from None
        try:
            located = read_toml(display, raw)
        except ConfigError as exc:
            raise ProjectFileError(exc.message, exc.source or Source(display)) from None
        self.data: dict[str, Any] = located.data
        self.tables = located.tables
        self.lines = split_lines(raw.decode("utf-8").removeprefix("\ufeff"))
        project = self.data.get("project")
        name = project.get("name") if isinstance(project, dict) else None
        self.name = canonical(name) if isinstance(name, str) else None
        self.group_line: int | None = None

    def fail(self, message: str, line: int | None) -> NoReturn:
        raise ProjectFileError(message, Source(self.display, line))

    def key_line(self, table: str, key: str) -> int | None:
        found = self.tables.get(table)
        if found is None:
            return None
        return found.keys.get(key, found.line)

    def optional_line(self) -> int | None:
        found = self.tables.get("project.optional-dependencies")
        return found.line if found else self.key_line("project", "optional-dependencies")

    def entry_lines(
        self, table: str, key: str, count: int, fallback: int | None
    ) -> list[int | None]:
        """The line of each element of the array `key` in `table` (its key's line, else
        `fallback`, when the array is written where the scanner cannot follow)."""
        found = self.tables.get(table)
        if found is not None and key in found.keys:
            lines = _array_lines(self.lines, found.keys[key])
            if lines is not None and len(lines) == count:
                return list(lines)
            return [found.keys[key]] * count
        return [fallback] * count

    def dynamic(self, what: str, line: int | None) -> Req:
        return Req(
            name="",
            text=what,
            specifier="",
            extras=(),
            marker=None,
            url=None,
            editable=False,
            source=self._where(line),
            unverified=f"{what} {DYNAMIC}",
        )

    def _where(self, line: int | None) -> str:
        return f"{self.display}:{line}" if line else self.display

    def entries(self, values: object, table: str, key: str, fallback: int | None) -> list[Req]:
        where = f"[{table}].{key}"
        if not isinstance(values, list):
            line = self.tables[table].keys.get(key) if table in self.tables else fallback
            self.fail(f"{where} must be a list of requirement strings", line or fallback)
        lines = self.entry_lines(table, key, len(values), fallback)
        out = []
        for value, line in zip(values, lines, strict=True):
            if not isinstance(value, str):
                self.fail(f"{where}: {value!r} is not a requirement string", line)
            out.append(self.req(value, line))
        return out

    def req(self, value: str, line: int | None) -> Req:
        source = Source(self.display, line)

        def fail(message: str) -> NoReturn:
            raise ProjectFileError(_mask(message), source)

        text = _mask(value.strip())
        name, extras, specifier, url, marker = _pep508(value, text, _Hider(()), fail)
        url = _mask(url) if url else None
        return Req(name, text, specifier, extras, marker, url, False, self._where(line))

    # -- extras ----------------------------------------------------------------------------

    def extras(self, table: dict[str, Any], wanted: list[str], dynamic: list[Any]) -> list[Req]:
        optional = table.get("optional-dependencies", {})
        line = self.optional_line()
        if not isinstance(optional, dict):
            self.fail("[project.optional-dependencies] must be a table of lists", line)
        declared = {canonical(k): k for k in optional}
        if "*" in wanted:
            chosen = list(optional)
        else:
            chosen = []
            for extra in wanted:
                key = declared.get(canonical(extra))
                if key is None:
                    if "optional-dependencies" in dynamic:
                        return [self.dynamic("[project.optional-dependencies]", line)]
                    if not table:
                        self.fail(f"unknown extra {extra!r}: {self.display} has no [project]", None)
                    have = ", ".join(sorted(optional)) or "none"
                    self.fail(f"unknown extra {extra!r} (extras declared: {have})", line)
                chosen.append(key)
        if not chosen and "optional-dependencies" in dynamic:
            return [self.dynamic("[project.optional-dependencies]", line)]
        out: list[Req] = []
        for key in chosen:
            out += self._expand_extra(optional, declared, key, [])
        return out

    def _expand_extra(
        self, optional: dict[str, Any], declared: dict[str, str], key: str, chain: list[str]
    ) -> list[Req]:
        fallback = self.optional_line()
        out: list[Req] = []
        for req in self.entries(optional[key], "project.optional-dependencies", key, fallback):
            if not (self.name and req.name == self.name and req.extras):
                out.append(req)
                continue
            for extra in req.extras:  # a self-reference: the project's own extras
                inner = declared.get(extra)
                if inner is None or inner in chain or inner == key:
                    continue  # pip only warns about an extra that does not exist
                for dep in self._expand_extra(optional, declared, inner, [*chain, key]):
                    out.append(_and_marker(dep, req.marker))
        return out

    # -- dependency groups (PEP 735) -------------------------------------------------------

    def groups(self, wanted: list[str]) -> list[Req]:
        table = self.data.get("dependency-groups")
        line = (
            self.tables["dependency-groups"].line
            if "dependency-groups" in self.tables
            else self.key_line("", "dependency-groups")
        )
        if table is None:
            named = [group for group in wanted if group != "*"]
            if not named:
                return []
            self.fail(
                f"unknown dependency group {named[0]!r}: {self.display} has no "
                "[dependency-groups] table",
                None,
            )
        if not isinstance(table, dict):
            self.fail("[dependency-groups] must be a table of lists", line)
        self.group_line = line
        declared: dict[str, str] = {}
        for key in table:
            if canonical(key) in declared:
                self.fail(
                    f"dependency groups {declared[canonical(key)]!r} and {key!r} have the same "
                    "normalised name",
                    self.key_line("dependency-groups", key),
                )
            declared[canonical(key)] = key
        chosen = list(table) if "*" in wanted else []
        for group in wanted:
            if group == "*":
                continue
            key = declared.get(canonical(group))
            if key is None:
                have = ", ".join(sorted(table)) or "none"
                self.fail(f"unknown dependency group {group!r} (groups declared: {have})", line)
            chosen.append(key)
        out: list[Req] = []
        for key in chosen:
            out += self._expand_group(table, declared, key, [])
        return out

    def _expand_group(
        self, table: dict[str, Any], declared: dict[str, str], key: str, chain: list[str]
    ) -> list[Req]:
        if key in chain:
            cycle = " -> ".join([*chain[chain.index(key) :], key])
            self.fail(f"dependency group cycle: {cycle}", self.key_line("dependency-groups", key))
        values = table[key]
        if not isinstance(values, list):
            self.fail(
                f"dependency group {key!r} must be a list",
                self.key_line("dependency-groups", key),
            )
        lines = self.entry_lines("dependency-groups", key, len(values), self.group_line)
        out: list[Req] = []
        for value, line in zip(values, lines, strict=True):
            if isinstance(value, str):
                out.append(self.req(value, line))
            elif isinstance(value, dict) and set(value) == {"include-group"}:
                included = value["include-group"]
                inner = declared.get(canonical(included)) if isinstance(included, str) else None
                if inner is None:
                    have = ", ".join(sorted(table)) or "none"
                    self.fail(
                        f"dependency group {key!r} includes unknown group {included!r} "
                        f"(groups declared: {have})",
                        line,
                    )
                out += self._expand_group(table, declared, inner, [*chain, key])
            else:
                self.fail(
                    f"dependency group {key!r}: {value!r} is neither a requirement string nor "
                    '{include-group = "..."}',
                    line,
                )
        return out


def _and_marker(req: Req, marker: str | None) -> Req:
    """The requirement under an extra reached through a self-reference with a marker."""
    if marker is None:
        return req
    combined = marker if req.marker is None else f"({req.marker}) and ({marker})"
    return replace(req, marker=combined)


def _array_lines(lines: list[str], start: int) -> list[int] | None:
    """The line of each element of the array assigned on line `start` (1-based), or None when
    that line does not start one. The document is valid TOML (tomllib read it first), so a
    small lexer suffices: strings, comments, nesting."""
    from envdoctor.tomlfile import _find_close

    if not 0 < start <= len(lines):
        return None
    text = lines[start - 1]
    match = re.match(_KEY_ASSIGN, text)
    if match is None or not text.startswith("[", match.end()):
        return None
    found: list[int] = []
    number, i, depth = start, match.end() + 1, 0
    while True:
        if i >= len(text):
            number += 1
            if number > len(lines):
                return None
            text, i = lines[number - 1], 0
            continue
        ch = text[i]
        if ch in " \t\r,=":
            i += 1
        elif ch == "#":
            i = len(text)
        elif ch in "\"'":
            if depth == 0:
                found.append(number)
            quote = text[i : i + 3] if text.startswith(ch * 3, i) else ch
            i += len(quote)
            while True:
                end = _find_close(text, i, quote)
                if end >= 0:
                    i = end
                    break
                if len(quote) == 1:
                    return None
                number += 1
                if number > len(lines):
                    return None
                text, i = lines[number - 1], 0
        elif ch in "[{":
            if depth == 0:
                found.append(number)
            depth += 1
            i += 1
        elif ch in "]}":
            if depth == 0:
                return found
            depth -= 1
            i += 1
        else:  # a bare value (number, boolean, date) or a key inside an inline table
            if depth == 0:
                found.append(number)
            i += 1
            while i < len(text) and text[i] not in " \t\r,=#\"'[]{}":
                i += 1
