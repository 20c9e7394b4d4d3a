"""What the target interpreter has installed: its site directories and their distributions.

Why not `importlib.metadata.distributions()`: it costs 57-70 ms to import and reads through
the email parser, and it only describes the interpreter running envdoctor. Instead the
target's `sys.path` is learnt (in process for the running interpreter, else from one small
child, `python -I`, with the check's deadline) and the `*.dist-info` / `*.egg-info` metadata
is read from disk here, headers only (a METADATA body is a README, often larger than all the
headers of a whole environment together). The rule for duplicates is importlib's: the first
directory on `sys.path` wins.

The result is cached in the user cache directory (envdoctor.cache), keyed on the interpreter
and on the modification time (or absence) of everything that decides the answer, the "watch
list": installing or removing a distribution creates or deletes its metadata directory, which
changes its parent's mtime; but a cache hit also reuses the target's `sys.path` without asking
the target, so the list holds every entry of that `sys.path` (empty and missing ones too), every
directory whose `.pth` files `site` processes (site-packages, the user site) with each of those
`.pth` files and every directory they name (missing ones too: creating one puts it on the path),
and the files of `.egg-info` metadata, which `setup.py develop` rewrites in place. A hit costs one
`stat` per watched path. One inspection is shared by every check of a run (memoised on the
Session) and re-validated the same way each time it is asked for again, so a re-check after
`fix --apply` sees the new state.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from envdoctor.target import TargetError, TargetInfo

if TYPE_CHECKING:
    from envdoctor.context import CheckContext, Session

CACHE_SECTION = "environments"
CACHE_FORMAT = 4  # bump when the cached shape or the reading rules change
CACHE_KEEP = 64  # entries (interpreters) kept; the least recently written go first

# A directory modified this recently may change again within the same timestamp tick, which a
# later mtime comparison could not see: such a scan is used but not cached (git's "racy" rule).
RACY_NS = 100_000_000
RACY_COARSE_NS = 2_000_000_000  # filesystems with whole-second (FAT: two-second) timestamps

HEADER_CHUNK = 16384
HEADER_LIMIT = 4 * 1024 * 1024  # headers larger than this are not metadata

_MEMO = "_envdoctor_environment_memo"
_NAME_OK = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_CANON = re.compile(r"[-_.]+")
_META_SUFFIXES = (".dist-info", ".egg-info", ".egg-link")
# Environment variables that change which directories the target's sys.path holds.
_PATH_VARIABLES = ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE", "HOME", "APPDATA")


@dataclass(frozen=True)
class Dist:
    """One installed distribution, as its metadata says."""

    name: str  # canonical (PEP 503)
    display_name: str  # as in METADATA Name:
    version: str
    requires: tuple[str, ...]  # raw Requires-Dist lines (egg-info requires.txt converted)
    provides_extras: tuple[str, ...]  # canonicalised
    location: str  # the site directory it was found in
    top_level: tuple[str, ...] = ()  # from top_level.txt; () = unknown: ask top_level_of()
    path: str = ""  # the .dist-info / .egg-info directory (or egg-info file) it was read from


@dataclass
class Environment:
    info: TargetInfo
    site_dirs: list[str]  # the target's sys.path entries that hold distributions, in order
    distributions: dict[str, Dist]  # canonical name -> Dist; the first on sys.path wins
    from_cache: bool = False
    shadowed: list[Dist] = field(default_factory=list)  # later duplicates, hidden by a winner
    notes: list[str] = field(default_factory=list)  # what was read, skipped, cached: evidence
    scanned: list[tuple[str, int]] = field(default_factory=list)  # (directory, mtime_ns)
    # (path, mtime_ns or None when missing) of everything the answer depends on: see the module
    # docstring. Equal stats now => the same sys.path and the same distributions.
    watched: list[tuple[str, int | None]] = field(default_factory=list)
    interpreter_key: dict[str, Any] = field(default_factory=dict, repr=False)
    seconds: float = 0.0  # how long the inspection took


def canonical(name: str) -> str:
    """PEP 503 normalisation without importing packaging (which costs milliseconds)."""
    return _CANON.sub("-", name).lower()


# -- the shared, memoised entry point ----------------------------------------------------


async def inspect_environment(ctx: CheckContext) -> Environment:
    """The target's environment, inspected once per run and shared by every check.

    A finished inspection is re-validated with a `stat` of each watched path before it is
    handed out again (about 50 µs), so a check that runs after `pip install` never sees the
    state from before. Each caller gets the inspection's notes in its own evidence.
    """
    session = ctx.session
    loop = asyncio.get_running_loop()
    memo: dict[str, Any] | None = getattr(session, _MEMO, None)
    task: asyncio.Future[Environment] | None = None
    if memo is not None and memo["loop"] is loop:
        task = memo["task"]
        if task.done():
            failure = None if task.cancelled() else task.exception()
            if task.cancelled() or isinstance(failure, _OutOfTime):
                task = None  # that check's deadline, not this one's: try again
            elif failure is None and not _still_valid(task.result()):
                task = None
    elif memo is not None and memo["result"] is not None and _still_valid(memo["result"]):
        # An earlier event loop of the same session (a re-check): its result, if still valid.
        task = loop.create_future()
        task.set_result(memo["result"])
    if memo is None or task is not memo["task"]:
        if task is None:
            task = asyncio.ensure_future(_inspect(ctx))
            # Retrieve a failure even if every caller was cancelled: asyncio must not log it.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        memo = {"loop": loop, "task": task, "result": None}
        setattr(session, _MEMO, memo)
    env = await asyncio.shield(task)
    memo["result"] = env
    for note in env.notes:
        ctx.note(note)
    return env


def forget_environment(session: Session) -> None:
    """Drops the memoised inspection (the next call inspects afresh, cache rules apply)."""
    if hasattr(session, _MEMO):
        delattr(session, _MEMO)


class _OutOfTime(TargetError):
    """The first asker's deadline ran out: a later check with more time may try again."""


def cached_target_info(session: Session) -> TargetInfo | None:
    """The target's TargetInfo from the environment cache, without a child process, or None.

    For Session's own inspection (a child costs 15-25 ms): the entry is trusted only when the
    interpreter, its pyvenv.cfg, the kernel and envdoctor are as they were when it was written.
    """
    from envdoctor import cache

    if not session.use_cache or session.target.is_running_interpreter:
        return None
    key = _interpreter_key(str(session.target.executable))
    entry = _cache_entry(key["path"], session, [])
    if entry is None:
        return None
    data, _why = cache.read_entry(entry)
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    try:
        # Its sys.path is reused as it is: only while nothing that decides it has changed.
        if _changed(_watched_from_json(data["watch"])):
            return None
        return _info_from_json(data["info"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _still_valid(env: Environment) -> bool:
    if not env.interpreter_key or env.interpreter_key != _interpreter_key(
        env.interpreter_key["path"]
    ):
        return False
    return not _changed(env.watched or env.scanned)


def _changed(watched: list[tuple[str, int | None]] | list[tuple[str, int]]) -> bool:
    """True when any watched path's mtime (or existence) differs: one stat each."""
    return any(_mtime_ns(path) != mtime for path, mtime in watched)


# -- one inspection -------------------------------------------------------------------------


async def _inspect(ctx: CheckContext) -> Environment:
    from envdoctor import cache

    started = time.perf_counter()
    session = ctx.session
    target = session.target
    notes: list[str] = []
    key = _interpreter_key(str(target.executable))
    entry = _cache_entry(key["path"], session, notes)
    cached: dict[str, Any] | None = None
    if entry is not None:
        if session.use_cache:
            data, why = cache.read_entry(entry)
            if why:
                notes.append(f"environment cache: {why}")
            elif isinstance(data, dict) and data.get("key") == key:
                cached = data
            elif data is not None:
                notes.append("environment cache: interpreter or environment changed")
        else:
            notes.append("environment cache: not read (--no-cache)")

    running = target.is_running_interpreter
    if running:
        # Our own sys.path is always current (computed when this process started); the cached
        # one must be the same list.
        raw, stdlib = _running_path(), os.path.dirname(os.__file__)
        env = _from_cache(cached, raw, notes)
        info = await ctx.target_info()
        if env is not None:
            env.info = info
    else:
        # A hit reuses the cached sys.path without asking the target: _from_cache takes it
        # only when every watched path (see the module docstring) is as it was.
        env = _from_cache(cached, None, notes)
        if env is None:
            info = await ctx.target_info()  # one child answers version, markers and sys.path
            raw, stdlib = list(info.sys_path), info.stdlib
    if env is not None:
        if not running and session.target_info_result is not None:
            env.info = session.target_info_result  # one truth per run
        env.interpreter_key = key
        env.seconds = time.perf_counter() - started
        env.notes.append(
            f"environment: {len(env.distributions)} distributions in {len(env.site_dirs)} "
            f"directories, from the cache ({env.seconds * 1000:.1f} ms)"
        )
        return env

    dirs = _stat_dirs(raw, stdlib)
    env = await ctx.run_sync(_scan_and_store, info, dirs, raw, stdlib, key, entry, notes)
    env.seconds = time.perf_counter() - started
    env.notes.append(
        f"environment: {len(env.distributions)} distributions in {len(env.site_dirs)} "
        f"directories, read from disk ({env.seconds * 1000:.1f} ms)"
    )
    return env


def _scan_and_store(
    info: TargetInfo,
    dirs: list[tuple[str, int]],
    raw: list[str],
    stdlib: str,
    key: dict[str, Any],
    entry: Any,
    notes: list[str],
) -> Environment:
    """Blocking part (runs on a worker thread): read every site directory, then cache it."""
    from envdoctor import cache

    now = time.time_ns()
    env = scan(info, dirs)
    env.notes[:0] = notes
    env.interpreter_key = key
    env.watched, consistent = _watch_list(info, raw, stdlib, dirs, env)
    if entry is None:
        return env
    if not consistent:
        # A .pth file names a directory the sys.path we were given lacks: it changed after
        # the target computed it. Right for this run; a later run asks the target again.
        env.notes.append("environment cache: not written (sys.path changed while it was read)")
        return env
    racy = [
        p
        for p, m in env.watched
        if m is not None and m > now - (RACY_COARSE_NS if m % 1_000_000_000 == 0 else RACY_NS)
    ]
    if racy:
        env.notes.append(f"environment cache: not written ({racy[0]} changed just now)")
        return env
    why = cache.write_entry(entry, _to_json(env, raw, stdlib, key))
    if why:
        env.notes.append(f"environment cache: {why}")
    else:
        cache.prune(entry.parent, CACHE_KEEP)
    return env


def _cache_entry(identity: str, session: Session, notes: list[str]) -> Any:
    from envdoctor import cache

    try:
        base = cache.cache_dir()
    except (RuntimeError, KeyError, OSError):  # no home directory to put it in
        notes.append("environment cache: off (no user cache directory)")
        return None
    if cache.inside(base, session.project):
        notes.append("environment cache: off (the cache directory is inside the project)")
        return None
    return cache.entry_path(CACHE_SECTION, identity, base=base)


def _running_path() -> list[str]:
    """Our own sys.path, less the entry for the script's directory (or the current directory)
    that a start with `-I` or `-P` would not have: the target is the environment, not how
    envdoctor itself was launched."""
    entries = list(sys.path)
    if entries and not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated):
        entries = entries[1:]
    return [p for p in entries if p]


def _interpreter_key(executable: str) -> dict[str, Any]:
    """What, besides the site directories, decides the answer: the interpreter (a venv's
    python is a symlink to its base, so the venv's own path counts too), its pyvenv.cfg, the
    variables that move sys.path, the kernel (platform markers) and envdoctor itself."""
    from envdoctor import __version__
    from envdoctor.cache import fnv1a64

    path = os.path.join(
        os.path.realpath(os.path.dirname(os.path.abspath(executable))), os.path.basename(executable)
    )
    real = os.path.realpath(path)
    cfg = os.path.join(os.path.dirname(os.path.dirname(path)), "pyvenv.cfg")
    variables = "\0".join(f"{k}={os.environ.get(k, '')}" for k in _PATH_VARIABLES)
    uname = os.uname() if hasattr(os, "uname") else None
    return {
        "path": path,
        "realpath": real,
        "mtime_ns": _mtime_ns(real),
        "pyvenv_cfg": _mtime_ns(cfg),
        "variables": f"{fnv1a64(variables):016x}",  # values never stored, only a hash
        "kernel": f"{uname.release} {uname.version}" if uname else "",
        "envdoctor": __version__,
        "format": CACHE_FORMAT,
    }


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _stat_dirs(raw: list[str], stdlib: str) -> list[tuple[str, int]]:
    """The sys.path entries worth scanning, with their mtimes: existing directories (a zip
    file is not), not the standard library, each once, in order."""
    import stat

    skip = {os.path.normpath(stdlib)} if stdlib else set()
    seen: set[str] = set()
    out: list[tuple[str, int]] = []
    for entry in raw:
        path = os.path.normpath(os.path.abspath(entry))
        if path in seen or path in skip:
            continue
        seen.add(path)
        if os.path.basename(path) in ("lib-dynload", "DLLs") and os.path.dirname(path) in skip:
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            out.append((path, st.st_mtime_ns))
    return out


def _watch_list(
    info: TargetInfo,
    raw: list[str],
    stdlib: str,
    dirs: list[tuple[str, int]],
    env: Environment,
) -> tuple[list[tuple[str, int | None]], bool]:
    """Everything the answer depends on, with its mtime (None: missing), and whether `raw`
    agrees with the `.pth` files of the target's own site directories as they are now.

    - every sys.path entry (a missing or empty one too: `pip install --target` fills it);
    - every directory whose `.pth` files `site` processes, each of its `.pth` files (setuptools
      rewrites easy-install.pth in place) and each directory they name (a missing one joins
      sys.path when it is created); the site-packages directories the target would have even
      though they do not exist yet are watched for their creation;
    - `.egg-link` files and `.egg-info` metadata files, which are rewritten in place.
    The scanned directories keep the mtimes they were scanned with.
    """
    watched: dict[str, int | None] = dict(dirs)
    skip = os.path.normpath(stdlib) if stdlib else None

    def add(path: str) -> None:
        if path not in watched:
            watched[path] = _mtime_ns(path)

    on_path: dict[str, None] = {}
    for entry in raw:
        path = os.path.normpath(os.path.abspath(entry))
        on_path[path] = None
        if path != skip and not (skip and os.path.dirname(path) == skip):
            add(path)
    consistent = True
    own = [os.path.normpath(p) + os.sep for p in {info.prefix, info.base_prefix} if p]
    for holder in _pth_holders(info, list(on_path)):
        add(holder)
        if holder not in on_path:
            continue  # not processed by `site` now: only its creation matters
        for pth, named in _pth_files(holder):
            add(pth)
            for path in named:
                add(path)
                # `site` puts every existing named path on sys.path; checked for the target's
                # own site directories (a user-site or other entry may not be processed).
                if (
                    watched[path] is not None
                    and path not in on_path
                    and any(holder.startswith(p) for p in own)
                ):
                    consistent = False
    for dist in (*env.distributions.values(), *env.shadowed):
        if dist.path.endswith(".egg-info"):
            add(os.path.dirname(dist.path))  # an egg-link's target directory
            add(dist.path)
            for name in ("PKG-INFO", "requires.txt", "top_level.txt"):
                add(os.path.join(dist.path, name))
    for link in env.__dict__.get("_egg_links", ()):
        add(link)
    return list(watched.items()), consistent


def _pth_holders(info: TargetInfo, on_path: list[str]) -> list[str]:
    """Directories whose `.pth` files `site` reads: the site-packages / dist-packages entries
    of sys.path (the user site included), and the target's own site-packages directories
    that do not exist (yet) - creating one with a `.pth` file in it changes sys.path."""
    holders = [p for p in on_path if os.path.basename(p) in ("site-packages", "dist-packages")]
    if os.name == "nt":  # pragma: no cover - Windows
        holders.append(os.path.normpath(info.prefix))
        holders.append(os.path.join(os.path.normpath(info.prefix), "Lib", "site-packages"))
    elif info.prefix and len(info.version_info) >= 2:
        prefix = os.path.normpath(info.prefix)
        xy = f"python{info.version_info[0]}.{info.version_info[1]}"
        holders += [
            os.path.join(prefix, "lib", xy, "site-packages"),
            os.path.join(prefix, "lib64", xy, "site-packages"),
            os.path.join(prefix, "local", "lib", xy, "dist-packages"),
            os.path.join(prefix, "lib", "python3", "dist-packages"),
        ]
    seen: dict[str, str] = {}
    for path in holders:
        real = os.path.realpath(path)  # venvs link lib64 to lib: one directory, one spelling
        seen.setdefault(real, path)
    return list(seen.values())


def _pth_files(sitedir: str) -> list[tuple[str, list[str]]]:
    """Each `.pth` file of a site directory with the paths its lines name, as `site` reads
    them (comments, blank lines and `import` lines are not paths; files named with a leading
    dot are skipped by Python 3.13+ and watched anyway)."""
    try:
        names = sorted(n for n in os.listdir(sitedir) if n.endswith(".pth"))
    except OSError:
        return []
    out: list[tuple[str, list[str]]] = []
    for name in names:
        pth = os.path.join(sitedir, name)
        named: list[str] = []
        try:
            with open(pth, encoding="utf-8-sig", errors="replace") as f:
                for line in f:
                    if line.startswith("#") or line.startswith(("import ", "import\t")):
                        continue
                    line = line.rstrip()
                    if line and not name.startswith("."):
                        named.append(os.path.normpath(os.path.join(sitedir, line)))
        except OSError:
            pass
        out.append((pth, named))
    return out


# -- reading metadata from disk ---------------------------------------------------------------


def scan(info: TargetInfo, dirs: list[tuple[str, int]]) -> Environment:
    """Reads every distribution in `dirs` (in order: the first of a name wins)."""
    distributions: dict[str, Dist] = {}
    shadowed: list[Dist] = []
    notes: list[str] = []
    site_dirs: list[str] = []
    egg_links: list[str] = []  # rewritten in place: watched by the cache
    for directory, _mtime in dirs:
        try:
            names = _metadata_names(os.listdir(directory))
        except OSError as exc:
            notes.append(f"{directory}: not readable ({exc.strerror or type(exc).__name__})")
            continue
        holds = False
        for name in names:
            if name.endswith(".egg-link"):
                egg_links.append(os.path.join(directory, name))
            dist = read_distribution(directory, name, notes)
            if dist is None:
                continue
            holds = True
            winner = distributions.get(dist.name)
            if winner is None:
                distributions[dist.name] = dist
            elif _same_path(winner.path, dist.path):
                continue  # an egg-link and the .pth-added directory it points at
            else:
                shadowed.append(dist)
                if _same_path(winner.location, dist.location):
                    notes.append(
                        f"{dist.display_name}: two metadata directories in {directory}: "
                        f"{os.path.basename(winner.path)} ({winner.version}, the one Python "
                        f"reads: listed first) and {os.path.basename(dist.path)} ({dist.version})"
                    )
                else:
                    notes.append(
                        f"{dist.display_name} {dist.version} in {directory} is shadowed by "
                        f"{winner.version} in {winner.location} (first on sys.path wins)"
                    )
        if holds:
            site_dirs.append(directory)
    env = Environment(
        info=info,
        site_dirs=site_dirs,
        distributions=distributions,
        shadowed=shadowed,
        notes=notes,
        scanned=list(dirs),
    )
    env.__dict__["_egg_links"] = egg_links
    return env


def _metadata_names(listing: list[str]) -> list[str]:
    """The metadata entries of one directory in the order importlib.metadata (and so pip and
    the interpreter itself) finds them: `.dist-info` before `.egg-info`, each in the order the
    directory lists them. When two versions' metadata sit side by side, the one this order
    puts first is the version everybody else reports; sorting would pick another."""
    rank = {suffix: i for i, suffix in enumerate(_META_SUFFIXES)}
    found = [n for n in listing if n.endswith(_META_SUFFIXES)]
    return sorted(found, key=lambda n: rank[n[n.rindex(".") :]])


def duplicates_in_place(env: Environment) -> list[tuple[Dist, Dist]]:
    """(the version Python reads, a stale one) for every distribution with two metadata
    directories in the same site directory: a half-finished install or a hand-made copy.
    pip and importlib report the first; the other makes `pip uninstall` and upgrades misbehave."""
    pairs = []
    for dist in env.shadowed:
        winner = env.distributions.get(dist.name)
        if winner is not None and _same_path(winner.location, dist.location):
            pairs.append((winner, dist))
    return pairs


def _same_path(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def read_distribution(directory: str, name: str, notes: list[str]) -> Dist | None:
    """One `*.dist-info`, `*.egg-info` (directory or file) or `*.egg-link` entry; None (with
    a note saying why) for anything that is not readable metadata. Never raises."""
    try:
        if name.endswith(".egg-link"):
            return _read_egg_link(directory, name, notes)
        return _read_metadata_dir(directory, os.path.join(directory, name), name, notes)
    except (OSError, ValueError) as exc:
        notes.append(f"{os.path.join(directory, name)}: skipped ({type(exc).__name__}: {exc})")
        return None


def _read_metadata_dir(location: str, path: str, name: str, notes: list[str]) -> Dist | None:
    egg = name.endswith(".egg-info")
    metadata = os.path.join(path, "PKG-INFO" if egg else "METADATA")
    try:
        head = _read_headers(metadata)
    except NotADirectoryError:
        if not egg:
            raise
        head = _read_headers(path)  # a single-file egg-info is the PKG-INFO itself
        egg_dir = False
    except FileNotFoundError:
        notes.append(f"{path}: skipped (no {os.path.basename(metadata)})")
        return None
    else:
        egg_dir = egg
    if b"\0" in head:
        notes.append(f"{path}: skipped (metadata is not text)")
        return None
    fields = _parse_headers(head.decode("utf-8", "replace"))
    stem = name.rsplit(".", 1)[0]
    dir_name, _, dir_version = stem.partition("-")
    dir_version = dir_version.split("-", 1)[0]  # egg-info: name-version-pyX.Y
    display = fields.name
    if not display:
        if not fields.version:
            notes.append(f"{path}: skipped (no Name or Version in its metadata)")
            return None
        display = dir_name
        notes.append(f"{path}: no Name in its metadata, named {dir_name!r} from the directory")
    if not _NAME_OK.match(display):
        notes.append(f"{path}: skipped (Name {display[:60]!r} is not a distribution name)")
        return None
    version = fields.version or dir_version
    if not version or any(c.isspace() for c in version):
        notes.append(f"{path}: skipped (no usable Version in its metadata)")
        return None
    requires = fields.requires
    extras = fields.extras
    if egg_dir:
        requires, egg_extras = _egg_requires(path)
        extras = list(dict.fromkeys([*extras, *egg_extras]))
    top_level: tuple[str, ...] = ()
    if egg_dir or not egg:
        top_level = _read_top_level(os.path.join(path, "top_level.txt"))
    return Dist(
        name=canonical(display),
        display_name=display,
        version=version,
        requires=tuple(requires),
        provides_extras=tuple(extras),
        location=location,
        top_level=top_level,
        path=path,
    )


def _read_egg_link(directory: str, name: str, notes: list[str]) -> Dist | None:
    """An old-style editable install (`setup.py develop`): the link names the project
    directory, whose `*.egg-info` holds the metadata."""
    link = os.path.join(directory, name)
    with open(link, encoding="utf-8", errors="replace") as f:
        target = f.readline().strip()
    if not target:
        notes.append(f"{link}: skipped (empty egg-link)")
        return None
    target = os.path.normpath(os.path.join(directory, target))
    wanted = canonical(name[: -len(".egg-link")])
    try:
        infos = sorted(n for n in os.listdir(target) if n.endswith(".egg-info"))
    except OSError:
        notes.append(f"{link}: skipped (points at {target}, which is not readable)")
        return None
    chosen = [n for n in infos if canonical(n.rsplit(".", 1)[0].split("-", 1)[0]) == wanted]
    if not (chosen or infos):
        notes.append(f"{link}: skipped (no .egg-info in {target})")
        return None
    info_name = (chosen or infos)[0]
    return _read_metadata_dir(directory, os.path.join(target, info_name), info_name, notes)


@dataclass
class _Fields:
    name: str = ""
    version: str = ""
    requires: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)


def _read_headers(path: str) -> bytes:
    """The header block of a metadata file: everything before the first empty line."""
    with open(path, "rb") as f:
        data = f.read(HEADER_CHUNK)
        while True:
            end = _header_end(data)
            if end >= 0:
                return data[:end]
            if len(data) >= HEADER_LIMIT:
                return data[:HEADER_LIMIT]
            more = f.read(65536)
            if not more:
                return data
            data += more


def _header_end(data: bytes) -> int:
    if data.startswith((b"\n", b"\r\n")):
        return 0
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else -1


def _parse_headers(text: str) -> _Fields:
    """Name, Version, Requires-Dist and Provides-Extra: a line scan, not the email parser
    (folded continuation lines only ever belong to fields this does not need)."""
    out = _Fields()
    for line in text.splitlines():
        if not line or line[0] not in "NnVvRrPp":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.lower()
        if key == "requires-dist":
            value = value.strip()
            if value:
                out.requires.append(value)
        elif key == "provides-extra":
            value = value.strip()
            if value:
                out.extras.append(canonical(value))
        elif key == "name":
            out.name = out.name or value.strip()
        elif key == "version":
            out.version = out.version or value.strip()
    return out


def _egg_requires(path: str) -> tuple[list[str], list[str]]:
    """requires.txt as Requires-Dist lines (importlib.metadata's conversion): a section
    `[extra]`, `[:marker]` or `[extra:marker]` becomes a marker on each of its lines."""
    try:
        with open(os.path.join(path, "requires.txt"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return [], []
    requires: list[str] = []
    extras: list[str] = []
    condition = ""
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].strip().partition(":")
            extra, marker = extra.strip(), marker.strip()
            if extra:
                extras.append(canonical(extra))
            if extra and marker:
                marker = f"({marker})"
            parts = [p for p in (marker, f'extra == "{extra}"' if extra else "") if p]
            condition = "; " + " and ".join(parts) if parts else ""
            continue
        requires.append(line + (" " if "@" in line and condition else "") + condition)
    return requires, list(dict.fromkeys(extras))


def _read_top_level(path: str) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return tuple(n for n in (line.strip() for line in f) if n and "/" not in n)
    except OSError:
        return ()


# -- import names (lazy: only the `imports` kind needs them) -----------------------------------

_TOP_LEVEL_MEMO: dict[str, tuple[str, ...]] = {}


def top_level_of(dist: Dist) -> tuple[str, ...]:
    """The import names a distribution provides: top_level.txt when it has one, else the
    first component of every importable path in its RECORD (egg-info: installed-files.txt).

    RECORD files can be long (thousands of lines): read only when asked, then memoised.
    """
    if dist.top_level or not dist.path:
        return dist.top_level
    memo = _TOP_LEVEL_MEMO.get(dist.path)
    if memo is not None:
        return memo
    names: dict[str, None] = {}
    for parts in _installed_paths(dist):
        top = parts[0]
        if len(parts) == 1:  # a module file at the top: foo.py, foo.cpython-311-x86_64.so
            top = top.split(".", 1)[0] if top.endswith(_MODULE_SUFFIXES) else ""
        if (
            top
            and top.isidentifier()
            and top != "__pycache__"
            and not top.startswith("__editable__")
        ):
            names[top] = None
    result = tuple(names)
    _TOP_LEVEL_MEMO[dist.path] = result
    return result


_MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


def _installed_paths(dist: Dist) -> list[list[str]]:
    """Installed files as path components relative to the site directory."""
    out: list[list[str]] = []
    try:
        if dist.path.endswith(".dist-info"):
            with open(os.path.join(dist.path, "RECORD"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    # RECORD is CSV; a path with a comma is quoted, and never a top-level name
                    item = line.split(",", 1)[0].strip().strip('"')
                    if item and not item.startswith(("/", "..")):
                        out.append(item.replace("\\", "/").split("/"))
        elif os.path.isdir(dist.path):
            files = os.path.join(dist.path, "installed-files.txt")
            with open(files, encoding="utf-8", errors="replace") as f:
                for line in f:
                    item = line.strip()
                    if not item:
                        continue
                    full = os.path.normpath(os.path.join(dist.path, item))
                    rel = os.path.relpath(full, dist.location)
                    if not rel.startswith(".."):
                        out.append(rel.replace("\\", "/").split("/"))
    except (OSError, ValueError):
        pass
    return out


def import_names(env: Environment) -> dict[str, list[str]]:
    """Import name -> canonical names of the distributions that provide it (winners only),
    like importlib.metadata.packages_distributions(), computed once per Environment."""
    cached: dict[str, list[str]] | None = env.__dict__.get("_import_names")
    if cached is not None:
        return cached
    mapping: dict[str, list[str]] = {}
    for dist in env.distributions.values():
        for top in top_level_of(dist):
            mapping.setdefault(top, []).append(dist.name)
    env.__dict__["_import_names"] = mapping
    return mapping


# -- the cache document -----------------------------------------------------------------------


def _dist_row(d: Dist) -> list[Any]:
    return [
        d.name,
        d.display_name,
        d.version,
        list(d.requires),
        list(d.provides_extras),
        d.location,
        list(d.top_level),
        d.path,
    ]


def _dist_from_row(row: list[Any]) -> Dist:
    name, display, version, requires, extras, location, top, path = row
    return Dist(
        name=str(name),
        display_name=str(display),
        version=str(version),
        requires=tuple(str(r) for r in requires),
        provides_extras=tuple(str(e) for e in extras),
        location=str(location),
        top_level=tuple(str(t) for t in top),
        path=str(path),
    )


def _to_json(env: Environment, raw: list[str], stdlib: str, key: dict[str, Any]) -> dict[str, Any]:
    info = asdict(env.info)
    info["version_info"] = list(env.info.version_info)
    return {
        "key": key,
        "raw_path": raw,
        "stdlib": stdlib,
        "dirs": [[p, m] for p, m in env.scanned],
        "watch": [[p, m] for p, m in env.watched],
        "info": info,
        "site_dirs": env.site_dirs,
        "dists": [_dist_row(d) for d in env.distributions.values()],
        "shadowed": [_dist_row(d) for d in env.shadowed],
        # Only what the scan itself found (skipped metadata, shadowing): not run-specific notes.
        "notes": [n for n in env.notes if not n.startswith("environment")],
    }


def _info_from_json(raw: dict[str, Any]) -> TargetInfo:
    from envdoctor.target import info_from_dict

    return info_from_dict(raw)


def _watched_from_json(rows: list[Any]) -> list[tuple[str, int | None]]:
    return [(str(p), None if m is None else int(m)) for p, m in rows]


def _from_cache(
    data: dict[str, Any] | None, raw: list[str] | None, notes: list[str]
) -> Environment | None:
    """The cached environment when nothing it depends on changed; else None.

    `raw`: the running interpreter's own sys.path, which the cached one must equal; None for
    another interpreter, whose cached sys.path is reused (the watch list vouches for it)."""
    if data is None:
        return None
    try:
        if raw is not None and [str(p) for p in data["raw_path"]] != raw:
            notes.append("environment cache: sys.path changed since it was cached")
            return None
        watched = _watched_from_json(data["watch"])
        if _changed(watched):
            notes.append(
                "environment cache: sys.path or a site directory changed since it was cached"
            )
            return None
        info = _info_from_json(data["info"])
        distributions = {}
        for row in data["dists"]:
            dist = _dist_from_row(row)
            distributions[dist.name] = dist
        shadowed = [_dist_from_row(row) for row in data["shadowed"]]
        return Environment(
            info=info,
            site_dirs=[str(p) for p in data["site_dirs"]],
            distributions=distributions,
            from_cache=True,
            shadowed=shadowed,
            notes=[*notes, *(str(n) for n in data["notes"])],
            scanned=[(str(p), int(m)) for p, m in data["dirs"]],
            watched=watched,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        notes.append("environment cache: entry malformed, ignored")
        return None
